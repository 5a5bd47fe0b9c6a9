#include "mdm/data/file_io.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mdm::data {
namespace {

absl::StatusOr<std::string> ReadPlainFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream bytes;
  bytes << file.rdbuf();
  if (file.bad())
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  return bytes.str();
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
