#include "mdm/data/file_io.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace mdm::data {
namespace {

// zlib's gz reader's input buffer (its default is 8 KiB).
constexpr unsigned kGzBuffer = 1 << 17;
// Deflate's largest expansion of compressed bytes.
constexpr uint64_t kMaxDeflateRatio = 1032;

absl::StatusOr<std::string> ReadPlainFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  // One buffer of the file's size, not a growing one copied at the end.
  const std::streamoff size = file.tellg();
  if (size < 0) return absl::DataLossError(absl::StrCat("cannot read ", path));
  std::string bytes(static_cast<size_t>(size), '\0');
  file.seekg(0);
  if (!file.read(bytes.data(), size)) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return bytes;
}

absl::StatusOr<std::string> Gunzip(const std::string& compressed,
                                   const std::string& path) {
  z_stream stream{};
  // 16 + MAX_WBITS: expect a gzip header.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib: inflateInit2 failed");
  }
  stream.next_in =
      reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[1 << 16];
  int code = Z_OK;
  while (code == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    code = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (code == Z_BUF_ERROR && stream.avail_in == 0) break;  // Truncated.
  }
  const std::string message = stream.msg ? stream.msg : "";
  inflateEnd(&stream);
  if (code != Z_STREAM_END) {
    return absl::DataLossError(
        absl::StrCat(path, ": corrupt or truncated gzip data",
                     message.empty() ? "" : absl::StrCat(" (", message, ")")));
  }
  return out;
}

}  // namespace

void InputStream::Closer::operator()(gzFile_s* file) const { gzclose(file); }

absl::StatusOr<InputStream> InputStream::Open(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  gzbuffer(file, kGzBuffer);
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (error) {
    gzclose(file);
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", error.message()));
  }
  // gzdirect: 1 when the file is not gzip data and passes through.
  return InputStream(path, file,
                     gzdirect(file) ? size : size * kMaxDeflateRatio);
}

absl::StatusOr<size_t> InputStream::Read(void* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    const unsigned chunk =
        static_cast<unsigned>(std::min<size_t>(n - done, INT_MAX));
    const int got = gzread(file_.get(), static_cast<char*>(out) + done, chunk);
    int code = Z_OK;
    absl::string_view message = gzerror(file_.get(), &code);
    // zlib reports truncated gzip data as Z_BUF_ERROR with a short read.
    if (got < 0 || code != Z_OK) {
      if (code == Z_ERRNO) {
        return absl::DataLossError(
            absl::StrCat("cannot read ", path_, ": ", std::strerror(errno)));
      }
      absl::ConsumePrefix(&message, absl::StrCat(path_, ": "));
      return absl::DataLossError(absl::StrCat(
          path_, ": corrupt or truncated gzip data (", message, ")"));
    }
    done += static_cast<size_t>(got);
    if (static_cast<unsigned>(got) < chunk) break;  // The end.
  }
  return done;
}

absl::StatusOr<std::string> MaybeGunzip(std::string bytes,
                                        const std::string& path) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
      static_cast<unsigned char>(bytes[1]) == 0x8b) {
    return Gunzip(bytes, path);
  }
  return bytes;
}

absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadPlainFile(path);
  if (!bytes.ok()) return bytes;
  return MaybeGunzip(*std::move(bytes), path);
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
