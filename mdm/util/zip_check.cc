#include "mdm/util/zip_check.h"

#include <zip.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mdm::util {

bool LooksLikeZip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 'P' && magic[1] == 'K' &&
         magic[2] == 3 && magic[3] == 4;
}

absl::Status VerifyZipChecksums(const std::string& path) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (archive == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (code == ZIP_ER_NOENT) {
      return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    }
    return absl::DataLossError(absl::StrCat(
        path, " is corrupt: its zip structure is broken (", message, ")"));
  }
  std::unique_ptr<zip_t, decltype(&zip_discard)> closer(archive, zip_discard);
  std::vector<char> buffer(1 << 20);
  const zip_int64_t entries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* name = zip_get_name(archive, i, 0);
    const std::string entry = name != nullptr ? name : absl::StrCat("#", i);
    // libzip compares the CRC-32 and the size once an entry is read to
    // its end, and fails the read that reaches the end otherwise.
    zip_file_t* file = zip_fopen_index(archive, i, 0);
    if (file == nullptr) {
      return absl::DataLossError(absl::StrCat(path, " is corrupt: entry ",
                                              entry, " cannot be opened (",
                                              zip_strerror(archive), ")"));
    }
    zip_int64_t read = 0;
    while ((read = zip_fread(file, buffer.data(), buffer.size())) > 0) {
    }
    const std::string message = read < 0 ? zip_file_strerror(file) : "";
    zip_fclose(file);
    if (read < 0) {
      return absl::DataLossError(absl::StrCat(path, " is corrupt: entry ",
                                              entry, " fails its check (",
                                              message, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mdm::util
