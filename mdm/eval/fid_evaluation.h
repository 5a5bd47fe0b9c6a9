// FID of a model's samples against a data split: the one evaluation that
// `eval --metric=fid` and the trainer (eval.fid_model, every
// eval.val_fid_epoch epochs) share. Samples are drawn with the run's
// sampler settings, mapped back to data space by the run's transform and
// quantized to 8 bits as the data are; features come from the user's
// TorchScript network (fid.h).
//
// Example:
//   absl::StatusOr<FeatureStatistics> reference = SplitStatistics(
//       net, experiment, "test", /*cache_path=*/"fid_test.pt", 128);
//   absl::StatusOr<FidResult> fid = EvaluateFid(
//       model, experiment, net, *reference,
//       {.samples = 10000, .batch_size = 128,
//        .sampler = sampling::SampleOptionsFor(experiment)}, gen);
#ifndef MDM_EVAL_FID_EVALUATION_H_
#define MDM_EVAL_FID_EVALUATION_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "mdm/eval/fid.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sampling/sample.h"

namespace mdm::eval {

// The feature statistics of the images of `split` ("train", "validation"
// or "test") of the experiment's data, in batches of `batch_size`: read
// from `cache_path` when it holds them for this network and split, else
// computed (and saved there when the path is not empty). `stop_requested`,
// when given, is polled before each batch: true stops with Cancelled.
absl::StatusOr<FeatureStatistics> SplitStatistics(
    const FeatureNetwork& net, const proto::Experiment& experiment,
    const std::string& split, const std::string& cache_path,
    int64_t batch_size, const std::function<bool()>& stop_requested = nullptr);

struct FidEvaluationOptions {
  int64_t samples = 50000;
  int64_t batch_size = 128;  // Samples drawn at once.
  sampling::SampleOptions sampler;  // Its stop_requested stops the FID.
  // When given, called with each batch of generated images [n, C, H, W]
  // (values in [0, 1], 8-bit levels, on the host) as the features see them,
  // e.g. to keep a few for a picture.
  std::function<void(const at::Tensor&)> on_images;
};

// The FID of `options.samples` samples of `model` (whose weights the caller
// chose: EMA or not) against `reference`. Image data only.
absl::StatusOr<FidResult> EvaluateFid(const model::Model& model,
                                      const proto::Experiment& experiment,
                                      const FeatureNetwork& net,
                                      const FeatureStatistics& reference,
                                      const FidEvaluationOptions& options,
                                      at::Generator& gen);

}  // namespace mdm::eval

#endif  // MDM_EVAL_FID_EVALUATION_H_
