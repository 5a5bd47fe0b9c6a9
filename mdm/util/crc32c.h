// CRC-32C (Castagnoli), as TFRecord files use it; Debian packages no C++
// CRC32C library, and the table-driven form is short.
#ifndef MDM_UTIL_CRC32C_H_
#define MDM_UTIL_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace mdm::util {

// The CRC-32C of `data`; Crc32c("123456789") == 0xe3069283.
uint32_t Crc32c(absl::string_view data);
// The CRC-32C of a's bytes followed by `data`, from crc = Crc32c(a):
// Crc32cExtend(Crc32c(a), b) == Crc32c(a + b); Crc32cExtend(0, b) ==
// Crc32c(b).
uint32_t Crc32cExtend(uint32_t crc, absl::string_view data);

// TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8.
uint32_t MaskedCrc32c(absl::string_view data);

}  // namespace mdm::util

#endif  // MDM_UTIL_CRC32C_H_
