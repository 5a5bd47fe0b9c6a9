#include "mdm/eval/fid_evaluation.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mdm/data/factory.h"
#include "mdm/data/loader.h"
#include "mdm/objectives/transforms.h"
#include "mdm/util/logging.h"

namespace mdm::eval {

absl::StatusOr<FeatureStatistics> SplitStatistics(
    const FeatureNetwork& net, const proto::Experiment& experiment,
    const std::string& split, const std::string& cache_path,
    int64_t batch_size, const std::function<bool()>& stop_requested) {
  if (!experiment.data().is_image()) {
    return absl::InvalidArgumentError("FID needs image data");
  }
  absl::StatusOr<std::shared_ptr<const data::Dataset>> dataset =
      data::CreateDataset(experiment.data(), split, experiment.seed());
  if (!dataset.ok()) return dataset.status();
  // Unflipped, in file order: the statistics of the split itself.
  data::DataLoader loader(*dataset,
                          data::LoaderOptionsFor(experiment.data(), "test",
                                                 batch_size, experiment.seed()));
  const ImageBatches images =
      [&]() -> absl::StatusOr<std::optional<at::Tensor>> {
    if (stop_requested && stop_requested()) {
      return absl::CancelledError(
          "FID reference statistics stopped by request");
    }
    absl::StatusOr<std::optional<data::Examples>> batch = loader.Next();
    if (!batch.ok()) return batch.status();
    if (!batch->has_value()) return std::nullopt;
    return std::optional<at::Tensor>((*batch)->x);
  };
  const std::string source =
      absl::StrCat(proto::DataConfig::Dataset_Name(experiment.data().dataset()),
                   "/", split, "/", (*dataset)->size());
  return cache_path.empty()
             ? ComputeStatistics(net, source, images)
             : ReferenceStatistics(cache_path, net, source, images);
}

absl::StatusOr<FidResult> EvaluateFid(const model::Model& model,
                                      const proto::Experiment& experiment,
                                      const FeatureNetwork& net,
                                      const FeatureStatistics& reference,
                                      const FidEvaluationOptions& options,
                                      at::Generator& gen) {
  const proto::DataConfig& data = experiment.data();
  if (!data.is_image()) return absl::InvalidArgumentError("FID needs image data");
  if (options.samples < 2 || options.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FID needs at least 2 samples and a positive batch size, got ",
        options.samples, " and ", options.batch_size));
  }
  const objectives::DataTransform transform(
      objectives::TransformKindFor(data));
  int64_t generated = 0;
  const ImageBatches samples =
      [&]() -> absl::StatusOr<std::optional<at::Tensor>> {
    if (generated >= options.samples) return std::nullopt;
    const int64_t n = std::min(options.batch_size, options.samples - generated);
    absl::StatusOr<sampling::SamplerResult> result = sampling::Sample(
        model.diffusion(), model.Score(),
        {n, model.diffusion().num_vars(), data.in_channels(), data.height(),
         data.width()},
        at::TensorOptions(model.device()).dtype(at::kFloat), options.sampler,
        gen);
    if (!result.ok()) return result.status();
    generated += n;
    LOG_EVERY_N(INFO, 10) << "FID: generated " << generated << "/"
                          << options.samples;
    // As the data: 8-bit values in [0, 1].
    at::Tensor images =
        (transform.Inverse(result->u.select(1, 0)).clamp(0, 1) * 255).round() /
        255;
    if (options.on_images) options.on_images(images.cpu());
    return std::optional<at::Tensor>(std::move(images));
  };
  absl::StatusOr<FeatureStatistics> fake =
      ComputeStatistics(net, "samples", samples);
  if (!fake.ok()) return fake.status();
  return Fid(*fake, reference);
}

}  // namespace mdm::eval
