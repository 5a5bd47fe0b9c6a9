#include "mdm/data/idx.h"

#include <ATen/ATen.h>

#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/data/file_io.h"

namespace mdm::data {
namespace {

uint32_t BigEndian32(absl::string_view bytes, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}

absl::StatusOr<at::Tensor> ReadIdxFile(const std::string& dir,
                                       const std::string& stem) {
  absl::StatusOr<std::string> path =
      FindFirstExisting({dir + "/" + stem + ".gz", dir + "/" + stem}, stem);
  if (!path.ok()) return path.status();
  absl::StatusOr<std::string> bytes = ReadMaybeGzipFile(*path);
  if (!bytes.ok()) return bytes.status();
  return ParseIdx(*bytes, *path);
}

}  // namespace

absl::StatusOr<at::Tensor> ParseIdx(absl::string_view bytes,
                                    const std::string& path) {
  if (bytes.size() < 4) {
    return absl::DataLossError(absl::StrCat(
        path, ": ", bytes.size(), " bytes, too short for an IDX header"));
  }
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": bad IDX magic at offset 0: expected 00 00 08 (unsigned bytes), got ",
        absl::Hex(b[0], absl::kZeroPad2), " ", absl::Hex(b[1], absl::kZeroPad2),
        " ", absl::Hex(b[2], absl::kZeroPad2)));
  }
  const int ndims = b[3];
  if (ndims < 1 || ndims > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": IDX header at offset 3 declares ", ndims,
                     " dimensions; expected 1 to 4"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (bytes.size() < header) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated IDX header: ", bytes.size(),
                     " bytes, expected ", header));
  }
  std::vector<int64_t> shape;
  uint64_t count = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = BigEndian32(bytes, 4 + 4 * i);
    if (d == 0 || d > (1u << 28)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": IDX dimension ", i, " at offset ", 4 + 4 * i,
                       " is ", d, "; expected 1 to 2^28"));
    }
    count *= d;
    if (count > (uint64_t{1} << 34)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": IDX header declares too many values"));
    }
    shape.push_back(d);
  }
  if (bytes.size() - header != count) {
    return absl::DataLossError(absl::StrCat(
        path, ": the IDX header declares ", count, " values after offset ",
        header, " but the file holds ", bytes.size() - header,
        bytes.size() - header < count ? " (truncated)" : " (trailing bytes)"));
  }
  at::Tensor out = at::empty(shape, at::kByte);
  std::memcpy(out.data_ptr<uint8_t>(), bytes.data() + header, count);
  return out;
}

absl::StatusOr<InMemoryImages> LoadIdxImages(const std::string& dir,
                                             const std::string& split,
                                             const std::string& name) {
  if (split != "train" && split != "test") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown split '", split, "'"));
  }
  const std::string prefix = split == "train" ? "train" : "t10k";
  absl::StatusOr<at::Tensor> images =
      ReadIdxFile(dir, prefix + "-images-idx3-ubyte");
  if (!images.ok()) return images.status();
  absl::StatusOr<at::Tensor> labels =
      ReadIdxFile(dir, prefix + "-labels-idx1-ubyte");
  if (!labels.ok()) return labels.status();
  if (images->dim() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, "/", prefix,
        "-images-idx3-ubyte: expected 3 dimensions (N, H, W), got ",
        images->dim()));
  }
  if (labels->dim() != 1 || labels->size(0) != images->size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, "/", prefix, "-labels-idx1-ubyte: expected ", images->size(0),
        " labels (one per image), got shape ", c10::str(labels->sizes())));
  }
  return InMemoryImages(absl::StrCat(name, " ", split), images->unsqueeze(1),
                        labels->to(at::kLong));
}

}  // namespace mdm::data
