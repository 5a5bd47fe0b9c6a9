#include "mdm/data/npz.h"

#include <ATen/ATen.h>
#include <zip.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "mdm/data/file_io.h"

namespace mdm::data {
namespace {

struct Dtype {
  at::ScalarType type;
  size_t itemsize;
};

absl::StatusOr<Dtype> ParseDescr(absl::string_view descr,
                                 const std::string& what) {
  // Byte order: '<' little, '|' not applicable, '=' native (little here).
  if (descr.size() < 3 ||
      (descr[0] != '<' && descr[0] != '|' && descr[0] != '=')) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": unsupported .npy dtype '", descr,
                     "' (big-endian or unknown)"));
  }
  const absl::string_view kind = descr.substr(1);
  if (kind == "u1") return Dtype{at::kByte, 1};
  if (kind == "i1") return Dtype{at::kChar, 1};
  if (kind == "b1") return Dtype{at::kBool, 1};
  if (kind == "i2") return Dtype{at::kShort, 2};
  if (kind == "i4") return Dtype{at::kInt, 4};
  if (kind == "i8") return Dtype{at::kLong, 8};
  if (kind == "f4") return Dtype{at::kFloat, 4};
  if (kind == "f8") return Dtype{at::kDouble, 8};
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": unsupported .npy dtype '", descr, "'"));
}

// The value of `key` in the header dict: the quoted string, or the text up
// to the next top-level comma (a tuple counts as one value).
absl::StatusOr<std::string> HeaderValue(absl::string_view header,
                                        absl::string_view key,
                                        const std::string& what) {
  const std::string quoted = absl::StrCat("'", key, "':");
  const size_t at = header.find(quoted);
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": .npy header lacks '", key, "'"));
  }
  absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(header.substr(at + quoted.size()));
  if (!rest.empty() && rest[0] == '\'') {
    const size_t end = rest.find('\'', 1);
    if (end == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": malformed .npy header"));
    }
    return std::string(rest.substr(1, end - 1));
  }
  if (!rest.empty() && rest[0] == '(') {
    const size_t end = rest.find(')');
    if (end == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": malformed .npy header"));
    }
    return std::string(rest.substr(1, end - 1));
  }
  const size_t end = rest.find_first_of(",}");
  return std::string(absl::StripAsciiWhitespace(rest.substr(0, end)));
}

}  // namespace

absl::StatusOr<at::Tensor> ParseNpy(absl::string_view bytes,
                                    const std::string& what) {
  static constexpr char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.substr(0, 6) != absl::string_view(kMagic, 6)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a .npy array (bad magic at offset 0)"));
  }
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = b[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = b[8] | (size_t{b[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) {
      return absl::DataLossError(absl::StrCat(what, ": truncated .npy header"));
    }
    header_len = b[8] | (size_t{b[9]} << 8) | (size_t{b[10]} << 16) |
                 (size_t{b[11]} << 24);
    header_start = 12;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": unsupported .npy format version ", major));
  }
  if (bytes.size() < header_start + header_len) {
    return absl::DataLossError(absl::StrCat(what, ": truncated .npy header (",
                                            header_len, " bytes declared)"));
  }
  const absl::string_view header = bytes.substr(header_start, header_len);
  absl::StatusOr<std::string> descr = HeaderValue(header, "descr", what);
  if (!descr.ok()) return descr.status();
  absl::StatusOr<std::string> fortran =
      HeaderValue(header, "fortran_order", what);
  if (!fortran.ok()) return fortran.status();
  absl::StatusOr<std::string> shape_text = HeaderValue(header, "shape", what);
  if (!shape_text.ok()) return shape_text.status();
  absl::StatusOr<Dtype> dtype = ParseDescr(*descr, what);
  if (!dtype.ok()) return dtype.status();

  std::vector<int64_t> shape;
  uint64_t count = 1;
  for (absl::string_view part :
       absl::StrSplit(*shape_text, ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &d) || d < 0 ||
        d > (int64_t{1} << 40)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": bad .npy shape (", *shape_text, ")"));
    }
    shape.push_back(d);
    count *= static_cast<uint64_t>(d);
    if (count > (uint64_t{1} << 40)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": .npy shape too large"));
    }
  }
  const size_t data_start = header_start + header_len;
  const uint64_t expected = count * dtype->itemsize;
  if (bytes.size() - data_start != expected) {
    return absl::DataLossError(
        absl::StrCat(what, ": .npy data after offset ", data_start, " is ",
                     bytes.size() - data_start, " bytes; shape (", *shape_text,
                     ") of '", *descr, "' needs ", expected));
  }
  const bool fortran_order = *fortran == "True";
  std::vector<int64_t> storage_shape = shape;
  if (fortran_order) std::reverse(storage_shape.begin(), storage_shape.end());
  // host: data is read and kept on the host; batches move
  at::Tensor out = at::empty(storage_shape, dtype->type);
  if (expected > 0)
    std::memcpy(out.data_ptr(), bytes.data() + data_start, expected);
  if (fortran_order && shape.size() > 1) {
    std::vector<int64_t> reverse(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) reverse[i] = shape.size() - 1 - i;
    out = out.permute(reverse).contiguous();
  }
  return out;
}

absl::StatusOr<std::map<std::string, at::Tensor>> ParseNpz(
    absl::string_view bytes, const std::string& path) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source =
      zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source == nullptr) {
    return absl::InternalError(
        absl::StrCat(path, ": libzip: ", zip_error_strerror(&error)));
  }
  zip_t* archive =
      zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (archive == nullptr) {
    const std::string message = zip_error_strerror(&error);
    zip_source_free(source);
    zip_error_fini(&error);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a readable .npz (zip) archive: ", message));
  }
  std::unique_ptr<zip_t, decltype(&zip_discard)> closer(archive, zip_discard);
  std::map<std::string, at::Tensor> arrays;
  const zip_int64_t entries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(archive, i, 0, &stat) != 0 ||
        !(stat.valid & ZIP_STAT_SIZE) || !(stat.valid & ZIP_STAT_NAME)) {
      return absl::DataLossError(
          absl::StrCat(path, ": unreadable zip entry ", i));
    }
    std::string name = stat.name;
    const std::string what = absl::StrCat(path, ":", name);
    if (stat.size > (uint64_t{1} << 36)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": entry too large"));
    }
    zip_file_t* file = zip_fopen_index(archive, i, 0);
    if (file == nullptr) {
      return absl::DataLossError(
          absl::StrCat(what, ": ", zip_strerror(archive)));
    }
    std::string data(stat.size, '\0');
    const zip_int64_t got = zip_fread(file, data.data(), stat.size);
    const bool read_error = got < 0 || static_cast<uint64_t>(got) != stat.size;
    const std::string file_error = read_error ? zip_file_strerror(file) : "";
    zip_fclose(file);
    if (read_error) {
      return absl::DataLossError(absl::StrCat(
          what, ": corrupt or truncated entry (", file_error, ")"));
    }
    absl::StatusOr<at::Tensor> array = ParseNpy(data, what);
    if (!array.ok()) return array.status();
    if (absl::EndsWith(name, ".npy")) name.resize(name.size() - 4);
    arrays[name] = *std::move(array);
  }
  return arrays;
}

absl::StatusOr<std::map<std::string, at::Tensor>> ReadNpz(
    const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadMaybeGzipFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseNpz(*bytes, path);
}

absl::StatusOr<InMemoryImages> LoadImagenet32(const std::string& dir,
                                              const std::string& split) {
  std::vector<std::string> paths;
  if (split == "test") {
    absl::StatusOr<std::string> path = FindFirstExisting(
        {dir + "/val_data.npz", dir + "/imagenet_val_jan182023.npz"},
        "ImageNet32 validation file");
    if (!path.ok()) return path.status();
    paths.push_back(*path);
  } else if (split == "train") {
    // Downsampled ImageNet's names, or the original's own.
    std::error_code error;
    const std::regex pattern(
        R"((train_data_batch_|imagenet_train_jan182023_)(\d+)\.npz)");
    std::vector<std::pair<int, std::string>> found;
    std::set<std::string> schemes;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      std::smatch match;
      const std::string name = entry.path().filename().string();
      if (std::regex_match(name, match, pattern)) {
        found.emplace_back(std::stoi(match[2]), entry.path().string());
        schemes.insert(match[1]);
      }
    }
    if (error || found.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "missing ImageNet32 training files in ", dir,
          ": expected train_data_batch_1.npz ... train_data_batch_10.npz (or "
          "the original's imagenet_train_jan182023_1.npz ... _10.npz)"));
    }
    if (schemes.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, " holds ImageNet32 training files under both names "
               "(train_data_batch_N.npz and imagenet_train_jan182023_N.npz): "
               "keep one set"));
    }
    std::sort(found.begin(), found.end());
    for (const auto& [index, path] : found) paths.push_back(path);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown split '", split, "'"));
  }
  std::vector<at::Tensor> images, labels;
  for (const std::string& path : paths) {
    absl::StatusOr<std::map<std::string, at::Tensor>> arrays = ReadNpz(path);
    if (!arrays.ok()) return arrays.status();
    const auto data = arrays->find("data");
    const auto label = arrays->find("labels");
    if (data == arrays->end() || label == arrays->end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": expected arrays 'data' and 'labels'"));
    }
    const at::Tensor& x = data->second;
    if (x.scalar_type() != at::kByte || x.dim() != 2 || x.size(1) != 3072) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": 'data' must be uint8 N x 3072 (32x32 RGB), got ",
          c10::toString(x.scalar_type()), " ", c10::str(x.sizes())));
    }
    const at::Tensor y = label->second.flatten().to(at::kLong);
    if (y.size(0) != x.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": ", y.size(0), " labels for ", x.size(0), " images"));
    }
    if (x.size(0) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": no images"));
    }
    images.push_back(x.view({-1, 3, 32, 32}));
    labels.push_back(y - 1);  // ImageNet32 labels run from 1 to 1000.
  }
  return InMemoryImages(absl::StrCat("imagenet32 ", split), at::cat(images),
                        at::cat(labels));
}

}  // namespace mdm::data
