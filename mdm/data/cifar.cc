#include "mdm/data/cifar.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/data/file_io.h"

namespace mdm::data {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;
constexpr int64_t kRecord = 1 + kPixels;

std::vector<std::string> BatchNames(const std::string& split) {
  if (split == "test") return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
          "data_batch_4.bin", "data_batch_5.bin"};
}

}  // namespace

absl::StatusOr<InMemoryImages> ParseCifarBatch(absl::string_view bytes,
                                               const std::string& path) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": empty CIFAR-10 batch file"));
  }
  if (bytes.size() % kRecord != 0) {
    return absl::DataLossError(absl::StrCat(
        path, ": ", bytes.size(), " bytes is not a whole number of ", kRecord,
        "-byte CIFAR-10 records (the last record, at offset ",
        bytes.size() / kRecord * kRecord, ", is truncated)"));
  }
  const int64_t n = static_cast<int64_t>(bytes.size()) / kRecord;
  // host: data is read and kept on the host; batches move
  at::Tensor images = at::empty({n, 3, 32, 32}, at::kByte);
  // host: data is read and kept on the host; batches move
  at::Tensor labels = at::empty({n}, at::kLong);
  uint8_t* pixels = images.data_ptr<uint8_t>();
  int64_t* label = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const auto* record =
        reinterpret_cast<const uint8_t*>(bytes.data() + i * kRecord);
    if (record[0] > 9) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": record ", i, " at offset ", i * kRecord, " has label ",
          int{record[0]}, "; CIFAR-10 labels are 0 to 9"));
    }
    label[i] = record[0];
    std::memcpy(pixels + i * kPixels, record + 1, kPixels);
  }
  return InMemoryImages(path, images, labels);
}

absl::StatusOr<InMemoryImages> LoadCifar10(const std::string& dir,
                                           const std::string& split) {
  if (split != "train" && split != "test") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown split '", split, "'"));
  }
  const std::vector<std::string> names = BatchNames(split);
  std::string folder = dir;
  std::error_code error;
  if (!std::filesystem::exists(folder + "/" + names[0], error) &&
      std::filesystem::exists(folder + "/cifar-10-batches-bin/" + names[0],
                              error)) {
    folder += "/cifar-10-batches-bin";
  }
  std::vector<at::Tensor> images, labels;
  for (const std::string& name : names) {
    const std::string path = folder + "/" + name;
    if (!std::filesystem::is_regular_file(path, error)) {
      return absl::NotFoundError(
          absl::StrCat("missing CIFAR-10 file ", path, ": expected ",
                       absl::StrJoin(names, ", "), " in ", dir, " or ", dir,
                       "/cifar-10-batches-bin"));
    }
    absl::StatusOr<std::string> bytes = ReadMaybeGzipFile(path);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<InMemoryImages> batch = ParseCifarBatch(*bytes, path);
    if (!batch.ok()) return batch.status();
    images.push_back(batch->images());
    labels.push_back(batch->labels());
  }
  return InMemoryImages(absl::StrCat("cifar10 ", split), at::cat(images),
                        at::cat(labels));
}

}  // namespace mdm::data
