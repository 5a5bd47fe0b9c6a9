// CRC-32C (Castagnoli), as TFRecord files use it; Debian packages no C++
// CRC32C library, and the table-driven form is short.
#ifndef MDM_UTIL_CRC32C_H_
#define MDM_UTIL_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace mdm::util {

// The CRC-32C of `data`; Crc32c("123456789") == 0xe3069283.
uint32_t Crc32c(absl::string_view data);

// TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8.
uint32_t MaskedCrc32c(absl::string_view data);

}  // namespace mdm::util

#endif  // MDM_UTIL_CRC32C_H_
