#include "mdm/data/dataset.h"

#include <ATen/ATen.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mdm::data {
namespace {

absl::StatusOr<at::Tensor> IndexTensor(absl::Span<const int64_t> indices,
                                       int64_t size, const std::string& name) {
  for (int64_t i : indices) {
    if (i < 0 || i >= size) {
      return absl::OutOfRangeError(absl::StrCat(name, ": example index ", i,
                                                " is outside [0, ", size, ")"));
    }
  }
  // host: data is read and kept on the host; batches move
  return at::tensor(std::vector<int64_t>(indices.begin(), indices.end()),
                    at::kLong);
}

}  // namespace

InMemoryImages::InMemoryImages(std::string name, at::Tensor images,
                               at::Tensor labels)
    : name_(std::move(name)),
      images_(std::move(images)),
      labels_(std::move(labels)) {
  TORCH_CHECK(images_.dim() == 4 && images_.scalar_type() == at::kByte,
              "images must be uint8 [N, C, H, W], got ", images_.sizes());
  TORCH_CHECK(labels_.dim() == 1 && labels_.size(0) == images_.size(0),
              "labels must be [N]");
}

std::vector<int64_t> InMemoryImages::example_shape() const {
  return {images_.size(1), images_.size(2), images_.size(3)};
}

absl::StatusOr<Examples> InMemoryImages::Get(
    absl::Span<const int64_t> indices) const {
  absl::StatusOr<at::Tensor> index = IndexTensor(indices, size(), name_);
  if (!index.ok()) return index.status();
  return Examples{
      .x = images_.index_select(0, *index).to(at::kFloat).div_(255.0f),
      .labels = labels_.index_select(0, *index)};
}

InMemoryVectors::InMemoryVectors(std::string name, at::Tensor x)
    : name_(std::move(name)), x_(std::move(x)) {
  TORCH_CHECK(x_.dim() == 2, "vectors must be [N, dim], got ", x_.sizes());
}

absl::StatusOr<Examples> InMemoryVectors::Get(
    absl::Span<const int64_t> indices) const {
  absl::StatusOr<at::Tensor> index = IndexTensor(indices, size(), name_);
  if (!index.ok()) return index.status();
  return Examples{.x = x_.index_select(0, *index).to(at::kFloat),
                  // host: data is read and kept on the host; batches move
                  .labels = at::full({index->size(0)}, -1, at::kLong)};
}

InMemoryImages Truncate(const InMemoryImages& images, int64_t limit) {
  if (limit <= 0 || limit >= images.size()) return images;
  // Copies, so the examples left out are freed, not kept by a view.
  return InMemoryImages(images.name(),
                        images.images().narrow(0, 0, limit).clone(),
                        images.labels().narrow(0, 0, limit).clone());
}

Subset::Subset(std::string name, std::shared_ptr<const Dataset> parent,
               std::vector<int64_t> indices)
    : name_(std::move(name)),
      parent_(std::move(parent)),
      indices_(std::move(indices)) {}

absl::StatusOr<Examples> Subset::Get(absl::Span<const int64_t> indices) const {
  std::vector<int64_t> mapped;
  mapped.reserve(indices.size());
  for (int64_t i : indices) {
    if (i < 0 || i >= size()) {
      return absl::OutOfRangeError(
          absl::StrCat(name_, ": example ", i, " of ", size()));
    }
    mapped.push_back(indices_[i]);
  }
  return parent_->Get(mapped);
}

}  // namespace mdm::data
