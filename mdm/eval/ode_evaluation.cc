#include "mdm/eval/ode_evaluation.h"

#include <ATen/ATen.h>

#include <optional>
#include <utility>
#include <vector>

#include "mdm/data/factory.h"
#include "mdm/data/loader.h"
#include "mdm/objectives/transforms.h"
#include "mdm/util/logging.h"
#include "mdm/util/seed_streams.h"

namespace mdm::eval {

absl::StatusOr<OdeEvaluation> EvaluateOde(
    const model::Model& model, const proto::Experiment& experiment,
    std::shared_ptr<const data::Dataset> dataset, int64_t batch_size,
    const OdeLikelihoodOptions& options, uint64_t seed) {
  at::NoGradGuard no_grad;
  const bool is_8bit = dataset->is_8bit();
  data::DataLoader loader(
      dataset, data::LoaderOptionsFor(experiment.data(), "test", batch_size,
                                      experiment.seed()));
  const objectives::DataTransform transform(
      objectives::TransformKindFor(experiment.data()));
  at::Generator gen = util::StreamGenerator(seed, util::Stream::kEvaluation, 0,
                                            0, model.device());
  const int quantization =
      is_8bit ? objectives::kEightBitQuantization : objectives::kContinuous;
  std::vector<at::Tensor> bpd;
  int64_t evaluations = 0, batches = 0;
  OdeEvaluation result;
  while (true) {
    absl::StatusOr<std::optional<data::Examples>> batch = loader.Next();
    if (!batch.ok()) return batch.status();
    if (!batch->has_value()) break;
    at::Tensor log_det;
    const at::Tensor y = objectives::PrepareData(
        (*batch)->x.to(model.device()),
        is_8bit && experiment.data().dequantize(), transform, &log_det, gen);
    absl::StatusOr<OdeLikelihood> l = OdeDataLogLikelihood(
        model.diffusion(), model.Score(), y, options, gen);
    if (!l.ok()) return l.status();
    bpd.push_back(objectives::BitsPerDim(l->log_p.to(log_det.device()),
                                         log_det, y[0].numel(), quantization)
                      .cpu());
    evaluations += l->function_evaluations;
    result.examples += y.size(0);
    ++batches;
    LOG_EVERY_N(INFO, 10) << result.examples << " examples";
  }
  if (bpd.empty()) return absl::InvalidArgumentError("the split is empty");
  result.bpd = EstimateOf(at::cat(bpd));
  result.function_evaluations_per_batch =
      static_cast<double>(evaluations) / batches;
  return result;
}

}  // namespace mdm::eval
