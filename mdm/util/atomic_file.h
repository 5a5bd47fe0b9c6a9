// Writes files so that a crash mid-write never leaves a partial file under
// the final name: write a temporary file next to it, fsync, rename, fsync
// the folder.
#ifndef MDM_UTIL_ATOMIC_FILE_H_
#define MDM_UTIL_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mdm::util {

// Replaces `path` with `contents` atomically; creates missing folders.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

}  // namespace mdm::util

#endif  // MDM_UTIL_ATOMIC_FILE_H_
