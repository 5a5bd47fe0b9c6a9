// Whole-file reads for the data readers, with errors that name the path.
#ifndef MDM_DATA_FILE_IO_H_
#define MDM_DATA_FILE_IO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mdm::data {

// The bytes of a file; gzip-compressed files (by their magic bytes, any
// name) are decompressed. Corrupt gzip data is an error naming the path.
absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path);

// `bytes` decompressed if they are gzip data (by magic), else unchanged;
// `path` names them in errors.
absl::StatusOr<std::string> MaybeGunzip(std::string bytes,
                                        const std::string& path);

// The first of `candidates` (full paths) that exists, or NotFound naming
// `what`, the folder and the files that were expected.
absl::StatusOr<std::string> FindFirstExisting(
    const std::vector<std::string>& candidates, const std::string& what);

}  // namespace mdm::data

#endif  // MDM_DATA_FILE_IO_H_
