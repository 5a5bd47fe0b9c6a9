// Writes files so that a crash mid-write never leaves a partial file under
// the final name: write a temporary file next to it, fsync, rename, fsync
// the folder.
#ifndef MDM_UTIL_ATOMIC_FILE_H_
#define MDM_UTIL_ATOMIC_FILE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mdm::util {

// Replaces `path` with `contents` atomically; creates missing folders.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// The same for contents too large to hold twice: `produce` emits them in
// pieces through `append`, which writes each piece to the temporary file
// at once. An error of `append` or of `produce` leaves `path` as it was.
using AppendFunction = std::function<absl::Status(absl::string_view)>;
absl::Status WriteFileAtomically(
    const std::string& path,
    const std::function<absl::Status(const AppendFunction& append)>& produce);

// Creates the folder `dir` and its missing parents. The error, "cannot
// create <what> <dir>: ...", names the cause, a dangling symbolic link
// (where the system says "File exists") included.
absl::Status CreateFolder(const std::string& dir,
                          absl::string_view what = "folder");

// OK when `path` can be written (its folder created if missing): checked
// by creating and removing a temporary file beside it. Lets a tool say
// before long work that it cannot save the result.
absl::Status CheckWritable(const std::string& path);

}  // namespace mdm::util

#endif  // MDM_UTIL_ATOMIC_FILE_H_
