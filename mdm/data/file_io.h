// Whole-file reads for the data readers, with errors that name the path.
#ifndef MDM_DATA_FILE_IO_H_
#define MDM_DATA_FILE_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

struct gzFile_s;  // zlib's gzFile.

namespace mdm::data {

// A file read front to back and gunzipped on the fly when it is gzip data
// (by its magic bytes; other files pass through unchanged), so a reader can
// put a large data file straight into its tensor without holding the whole
// file, compressed and decompressed, in memory first.
class InputStream {
 public:
  // NotFound naming the path if it cannot be opened or is not a file.
  static absl::StatusOr<InputStream> Open(const std::string& path);

  // Up to `n` bytes into `out`: fewer only at the end of the data. Corrupt
  // or truncated gzip data is DataLoss naming the path.
  absl::StatusOr<size_t> Read(void* out, size_t n);
  // No more bytes than this can come out: the file's size, or for gzip data
  // its largest possible expansion (deflate's 1032:1). A reader checks a
  // header's claimed size against it before allocating.
  uint64_t size_bound() const { return size_bound_; }
  // Whether the file is gzip data (else its bytes pass through).
  bool compressed() const { return compressed_; }

 private:
  struct Closer {
    void operator()(gzFile_s* file) const;
  };
  InputStream(std::string path, std::unique_ptr<gzFile_s, Closer> file,
              uint64_t size_bound, bool compressed)
      : path_(std::move(path)),
        file_(std::move(file)),
        size_bound_(size_bound),
        compressed_(compressed) {}

  std::string path_;
  std::unique_ptr<gzFile_s, Closer> file_;
  uint64_t size_bound_;
  bool compressed_;
};

// The bytes of a file, gunzipped if it is gzip data (an InputStream read
// to the end). Corrupt gzip data is an error naming the path.
absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path);

// The first of `candidates` (full paths) that exists, or NotFound naming
// `what`, the folder and the files that were expected.
absl::StatusOr<std::string> FindFirstExisting(
    const std::vector<std::string>& candidates, const std::string& what);

}  // namespace mdm::data

#endif  // MDM_DATA_FILE_IO_H_
