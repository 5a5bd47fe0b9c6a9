#include "mdm/data/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mdm::data {
namespace {

// zlib's gz reader's input buffer (its default is 8 KiB).
constexpr unsigned kGzBuffer = 1 << 17;
// Deflate's largest expansion of compressed bytes.
constexpr uint64_t kMaxDeflateRatio = 1032;

}  // namespace

void InputStream::Closer::operator()(gzFile_s* file) const { gzclose(file); }

absl::StatusOr<InputStream> InputStream::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(
        "cannot open ", path, ": ",
        std::error_code(errno, std::generic_category()).message()));
  }
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": not a regular file"));
  }
  std::unique_ptr<gzFile_s, Closer> file(gzdopen(fd, "rb"));
  if (file == nullptr) {  // zlib could not allocate its reader.
    close(fd);
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot open ", path, ": no memory for zlib's reader"));
  }
  gzbuffer(file.get(), kGzBuffer);
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  // gzdirect: 1 when the file is not gzip data and passes through.
  const bool compressed = gzdirect(file.get()) == 0;
  return InputStream(path, std::move(file),
                     compressed ? size * kMaxDeflateRatio : size, compressed);
}

absl::StatusOr<size_t> InputStream::Read(void* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    const unsigned chunk =
        static_cast<unsigned>(std::min<size_t>(n - done, INT_MAX));
    const int got = gzread(file_.get(), static_cast<char*>(out) + done, chunk);
    int code = Z_OK;
    absl::string_view message = gzerror(file_.get(), &code);
    // zlib reports truncated gzip data as Z_BUF_ERROR with a short read,
    // and a failed read (its message from strerror) as Z_ERRNO.
    if (got < 0 || code != Z_OK) {
      // zlib's message is "<fd:N>: what" for a stream it opened from a
      // descriptor.
      if (const size_t colon = message.find(": ");
          colon != absl::string_view::npos) {
        message.remove_prefix(colon + 2);
      }
      if (code == Z_ERRNO) {
        return absl::DataLossError(
            absl::StrCat("cannot read ", path_, ": ", message));
      }
      return absl::DataLossError(absl::StrCat(
          path_, ": corrupt or truncated gzip data (", message, ")"));
    }
    done += static_cast<size_t>(got);
    if (static_cast<unsigned>(got) < chunk) break;  // The end.
  }
  return done;
}

absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path) {
  absl::StatusOr<InputStream> stream = InputStream::Open(path);
  if (!stream.ok()) return stream.status();
  // A plain file in one buffer of its size (one byte more shows the end);
  // gzip data in chunks that double.
  size_t chunk = stream->compressed()
                     ? size_t{1} << 20
                     : static_cast<size_t>(stream->size_bound() + 1);
  std::string bytes;
  while (true) {
    const size_t have = bytes.size();
    bytes.resize(have + chunk);
    absl::StatusOr<size_t> got = stream->Read(bytes.data() + have, chunk);
    if (!got.ok()) return got.status();
    bytes.resize(have + *got);
    if (*got < chunk) return bytes;
    chunk = bytes.size();
  }
}

absl::StatusOr<std::string> FindFirstExisting(
    const std::vector<std::string>& candidates, const std::string& what) {
  for (const std::string& path : candidates) {
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) return path;
  }
  std::vector<std::string> names;
  std::string folder;
  for (const std::string& path : candidates) {
    names.push_back(std::filesystem::path(path).filename().string());
    folder = std::filesystem::path(path).parent_path().string();
  }
  return absl::NotFoundError(absl::StrCat("missing ", what, " in ", folder,
                                          ": expected one of ",
                                          absl::StrJoin(names, ", ")));
}

}  // namespace mdm::data
