// Checks a zip archive against the CRC-32 it stores for every entry: the
// integrity check of files MDM did not write itself (torch.save's zip
// format, which a Lightning checkpoint is, holds one per tensor storage),
// before anything is read from them.
#ifndef MDM_UTIL_ZIP_CHECK_H_
#define MDM_UTIL_ZIP_CHECK_H_

#include <string>

#include "absl/status/status.h"

namespace mdm::util {

// Whether `path` starts as a zip archive does (a local file header).
bool LooksLikeZip(const std::string& path);

// Reads every entry of the zip archive `path` through and compares it with
// its stored CRC-32 and size (and the central directory with the local
// headers). OK when all agree; DataLoss "<path> is corrupt: ..." naming
// the first entry that does not; NotFound for a missing file.
absl::Status VerifyZipChecksums(const std::string& path);

}  // namespace mdm::util

#endif  // MDM_UTIL_ZIP_CHECK_H_
