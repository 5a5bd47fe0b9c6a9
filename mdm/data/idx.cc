#include "mdm/data/idx.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/data/file_io.h"

namespace mdm::data {
namespace {

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}

// Reads up to n bytes into out; fewer only at the end of the data.
using ReadFn = absl::FunctionRef<absl::StatusOr<size_t>(void* out, size_t n)>;

// The IDX parser, over bytes from `read` (at most `size_bound` of them):
// the header, then the values straight into the tensor, then a check that
// nothing follows.
absl::StatusOr<at::Tensor> ReadIdx(ReadFn read, uint64_t size_bound,
                                   const std::string& path) {
  unsigned char head[4 + 4 * 4];
  absl::StatusOr<size_t> got = read(head, 4);
  if (!got.ok()) return got.status();
  if (*got < 4) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", *got, " bytes, too short for an IDX header"));
  }
  if (head[0] != 0 || head[1] != 0 || head[2] != 0x08) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": bad IDX magic at offset 0: expected 00 00 08 (unsigned bytes), got ",
        absl::Hex(head[0], absl::kZeroPad2), " ",
        absl::Hex(head[1], absl::kZeroPad2), " ",
        absl::Hex(head[2], absl::kZeroPad2)));
  }
  const int ndims = head[3];
  if (ndims < 1 || ndims > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": IDX header at offset 3 declares ", ndims,
                     " dimensions; expected 1 to 4"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  got = read(head + 4, header - 4);
  if (!got.ok()) return got.status();
  if (*got < header - 4) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated IDX header: ", 4 + *got,
                     " bytes, expected ", header));
  }
  std::vector<int64_t> shape;
  uint64_t count = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = BigEndian32(head + 4 + 4 * i);
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
  // The header's count is only a claim: a corrupt one must not allocate
  // gigabytes for a small file, so it is checked against what the data can
  // hold (exactly for a plain file; deflate's largest expansion for gzip
  // data) before the values go straight into their tensor.
  at::Tensor out;
  uint64_t values = 0;
  if (count <= size_bound) {
    try {
      // host: data is read and kept on the host; batches move
      out = at::empty({static_cast<int64_t>(count)}, at::kByte);
    } catch (const c10::Error&) {
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": the IDX header declares ", count,
                       " values, more than can be allocated"));
    }
    got = read(out.data_ptr<uint8_t>(), count);
    if (!got.ok()) return got.status();
    values = *got;
  }
  uint64_t rest = 0;  // What follows the values, or all data if not read.
  char scratch[1 << 14];
  for (got = read(scratch, sizeof(scratch)); got.ok() && *got > 0;
       got = read(scratch, sizeof(scratch))) {
    rest += *got;
  }
  if (!got.ok()) return got.status();
  if (values != count || rest > 0) {
    const uint64_t held = values + rest;
    return absl::DataLossError(absl::StrCat(
        path, ": the IDX header declares ", count, " values after offset ",
        header, " but the file holds ", held,
        held < count ? " (truncated)" : " (trailing bytes)"));
  }
  return out.view(shape);
}

// `dir`/`stem`.gz, else `dir`/`stem`.
absl::StatusOr<at::Tensor> ReadIdxStem(const std::string& dir,
                                       const std::string& stem) {
  absl::StatusOr<std::string> path =
      FindFirstExisting({dir + "/" + stem + ".gz", dir + "/" + stem}, stem);
  if (!path.ok()) return path.status();
  return ReadIdxFile(*path);
}

}  // namespace

absl::StatusOr<at::Tensor> ReadIdxFile(const std::string& path) {
  absl::StatusOr<InputStream> stream = InputStream::Open(path);
  if (!stream.ok()) return stream.status();
  return ReadIdx(
      [&stream](void* out, size_t n) { return stream->Read(out, n); },
      stream->size_bound(), path);
}

absl::StatusOr<at::Tensor> ParseIdx(absl::string_view bytes,
                                    const std::string& path) {
  size_t offset = 0;
  return ReadIdx(
      [&](void* out, size_t n) -> absl::StatusOr<size_t> {
        const size_t got = std::min(n, bytes.size() - offset);
        if (got > 0) std::memcpy(out, bytes.data() + offset, got);
        offset += got;
        return got;
      },
      bytes.size(), path);
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
      ReadIdxStem(dir, prefix + "-images-idx3-ubyte");
  if (!images.ok()) return images.status();
  absl::StatusOr<at::Tensor> labels =
      ReadIdxStem(dir, prefix + "-labels-idx1-ubyte");
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
