// The interface of a data set the input pipeline reads from: N examples of
// one shape, images [C, H, W] with values in [0, 1] or vectors [dim], with
// optional integer labels. Dequantization and the logit/center transforms
// belong to the objectives, not here.
#ifndef MDM_DATA_DATASET_H_
#define MDM_DATA_DATASET_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace mdm::data {

struct Examples {
  at::Tensor x;       // float32 [n, ...example_shape].
  at::Tensor labels;  // int64 [n]; -1 where the data set has none.
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // [C, H, W] for images, [dim] for vectors.
  virtual std::vector<int64_t> example_shape() const = 0;
  // Whether examples are 8-bit images (k / 255), so dequantization applies.
  virtual bool is_8bit() const = 0;
  // The examples at `indices`, stacked. Safe to call from several threads.
  virtual absl::StatusOr<Examples> Get(
      absl::Span<const int64_t> indices) const = 0;
  // A name for messages, e.g. "fashion_mnist train".
  virtual std::string name() const = 0;
};

// Images held in memory as uint8 [N, C, H, W] (converted to float per
// batch, so ImageNet32 fits) with int64 labels [N].
class InMemoryImages : public Dataset {
 public:
  InMemoryImages(std::string name, at::Tensor images, at::Tensor labels);

  int64_t size() const override { return images_.size(0); }
  std::vector<int64_t> example_shape() const override;
  bool is_8bit() const override { return true; }
  absl::StatusOr<Examples> Get(
      absl::Span<const int64_t> indices) const override;
  std::string name() const override { return name_; }

  const at::Tensor& images() const { return images_; }  // uint8.
  const at::Tensor& labels() const { return labels_; }

 private:
  std::string name_;
  at::Tensor images_;
  at::Tensor labels_;
};

// Real-valued vectors held in memory, float32 [N, dim] (toy data sets).
class InMemoryVectors : public Dataset {
 public:
  InMemoryVectors(std::string name, at::Tensor x);

  int64_t size() const override { return x_.size(0); }
  std::vector<int64_t> example_shape() const override { return {x_.size(1)}; }
  bool is_8bit() const override { return false; }
  absl::StatusOr<Examples> Get(
      absl::Span<const int64_t> indices) const override;
  std::string name() const override { return name_; }

 private:
  std::string name_;
  at::Tensor x_;
};

// The first `limit` examples of `images` (all when limit <= 0 or larger),
// holding only their own memory.
InMemoryImages Truncate(const InMemoryImages& images, int64_t limit);

// The examples of `parent` at `indices`, in that order (a held-out
// validation split and the training examples left).
class Subset : public Dataset {
 public:
  Subset(std::string name, std::shared_ptr<const Dataset> parent,
         std::vector<int64_t> indices);

  int64_t size() const override {
    return static_cast<int64_t>(indices_.size());
  }
  std::vector<int64_t> example_shape() const override {
    return parent_->example_shape();
  }
  bool is_8bit() const override { return parent_->is_8bit(); }
  absl::StatusOr<Examples> Get(
      absl::Span<const int64_t> indices) const override;
  std::string name() const override { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const Dataset> parent_;
  std::vector<int64_t> indices_;
};

}  // namespace mdm::data

#endif  // MDM_DATA_DATASET_H_
