#include "mdm/data/factory.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/data/cifar.h"
#include "mdm/data/idx.h"
#include "mdm/data/image_folder.h"
#include "mdm/data/npz.h"
#include "mdm/data/toy.h"
#include "mdm/util/seed_streams.h"

namespace mdm::data {
namespace {

using proto::DataConfig;

constexpr int64_t kToyTrainSize = 100000;
constexpr int64_t kToyTestSize = 10000;

absl::StatusOr<std::shared_ptr<const Dataset>> Images(
    absl::StatusOr<InMemoryImages> images, int64_t limit) {
  if (!images.ok()) return images.status();
  return std::shared_ptr<const Dataset>(
      std::make_shared<InMemoryImages>(Truncate(*images, limit)));
}

absl::StatusOr<ToyKind> ToyKindOf(DataConfig::Dataset dataset) {
  switch (dataset) {
    case DataConfig::CHECKERBOARD:
      return ToyKind::kCheckerboard;
    case DataConfig::SWISS_ROLL:
      return ToyKind::kSwissRoll;
    case DataConfig::EIGHT_GAUSSIANS:
      return ToyKind::kEightGaussians;
    case DataConfig::TWO_MOONS:
      return ToyKind::kTwoMoons;
    default:
      return absl::InvalidArgumentError("not a toy data set");
  }
}

absl::StatusOr<std::shared_ptr<const Dataset>> Load(const DataConfig& config,
                                                    const std::string& split,
                                                    uint64_t seed) {
  const std::string& dir = config.data_dir();
  const int64_t limit = config.limit_examples();
  if (absl::StatusOr<ToyKind> toy = ToyKindOf(config.dataset()); toy.ok()) {
    int64_t n = split == "train" ? kToyTrainSize : kToyTestSize;
    if (limit > 0) n = std::min(n, limit);
    // Disjoint streams for the two splits.
    return std::shared_ptr<const Dataset>(std::make_shared<InMemoryVectors>(
        absl::StrCat(DataConfig::Dataset_Name(config.dataset()), " ", split),
        SampleToy(*toy, n, seed * 2 + (split == "train" ? 0 : 1))));
  }
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return absl::NotFoundError(
        absl::StrCat("data.data_dir ", dir, " is not a directory (data set ",
                     DataConfig::Dataset_Name(config.dataset()), ")"));
  }
  switch (config.dataset()) {
    case DataConfig::MNIST:
      return Images(LoadIdxImages(dir, split, "mnist"), limit);
    case DataConfig::FASHION_MNIST:
      return Images(LoadIdxImages(dir, split, "fashion_mnist"), limit);
    case DataConfig::CIFAR10:
      return Images(LoadCifar10(dir, split), limit);
    case DataConfig::IMAGENET32:
      return Images(LoadImagenet32(dir, split), limit);
    case DataConfig::CELEBA: {
      absl::StatusOr<std::unique_ptr<ImageFolder>> folder =
          ImageFolder::Open(dir, split, config.height());
      if (!folder.ok()) return folder.status();
      (*folder)->Truncate(limit);
      return std::shared_ptr<const Dataset>(std::move(*folder));
    }
    default:
      return absl::InvalidArgumentError("data.dataset is not set");
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Dataset>> CreateDataset(
    const DataConfig& config, const std::string& split, uint64_t seed) {
  if (split != "train" && split != "test" && split != "validation") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown split '", split, "': expected train, validation or test"));
  }
  const int64_t held_out = config.validation_examples();
  if (split == "validation" && held_out <= 0) {
    return absl::InvalidArgumentError(
        "the validation split needs data.validation_examples > 0");
  }
  absl::StatusOr<std::shared_ptr<const Dataset>> dataset =
      Load(config, split == "test" ? "test" : "train", seed);
  if (!dataset.ok()) return dataset.status();
  if (split != "test" && held_out > 0) {
    // A seeded choice of held_out training examples; both parts keep file
    // order.
    const int64_t n = (*dataset)->size();
    if (held_out >= n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data.validation_examples = ", held_out, " leaves no training "
          "examples of the ", n, " in ", (*dataset)->name()));
    }
    at::Generator gen =
        util::StreamGenerator(seed, util::Stream::kValidationSplit);
    // host: data is read and kept on the host; batches move
    const at::Tensor order = at::randperm(n, gen, at::kLong);
    at::Tensor chosen = std::get<0>(
        (split == "validation" ? order.narrow(0, 0, held_out)
                               : order.narrow(0, held_out, n - held_out))
            .sort());
    std::vector<int64_t> indices(chosen.data_ptr<int64_t>(),
                                 chosen.data_ptr<int64_t>() + chosen.numel());
    dataset = std::shared_ptr<const Dataset>(std::make_shared<Subset>(
        absl::StrCat((*dataset)->name(), split == "validation"
                                             ? " (validation part)"
                                             : " (without validation)"),
        *dataset, std::move(indices)));
  }
  if ((*dataset)->size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat((*dataset)->name(), " has no examples"));
  }
  const std::vector<int64_t> shape = (*dataset)->example_shape();
  const std::vector<int64_t> expected =
      config.is_image() ? std::vector<int64_t>{config.in_channels(),
                                               config.height(), config.width()}
                        : std::vector<int64_t>{config.vector_dim()};
  if (shape != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        (*dataset)->name(), " has examples of shape [",
        absl::StrJoin(shape, ", "),
        "] but the config (data.in_channels/height/width or data.vector_dim) "
        "says [",
        absl::StrJoin(expected, ", "), "]"));
  }
  return dataset;
}

LoaderOptions LoaderOptionsFor(const DataConfig& config,
                               const std::string& split, int64_t batch_size,
                               uint64_t seed, int64_t rank,
                               int64_t world_size) {
  const bool train = split == "train";
  LoaderOptions options;
  options.batch_size = batch_size;
  options.drop_last = train && config.drop_last();
  options.shuffle = train && config.shuffle();
  options.seed = seed;
  options.rank = rank;
  options.world_size = world_size;
  options.num_workers = config.num_workers();
  options.random_flip = train && config.random_flip();
  return options;
}

}  // namespace mdm::data
