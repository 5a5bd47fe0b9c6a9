#include "mdm/eval/elbo_evaluation.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mdm/data/factory.h"
#include "mdm/data/loader.h"
#include "mdm/objectives/elbo.h"
#include "mdm/objectives/losses.h"
#include "mdm/objectives/transforms.h"
#include "mdm/util/seed_streams.h"

namespace mdm::eval {

Estimate EstimateOf(const at::Tensor& values) {
  const at::Tensor v = values.to(at::kDouble).cpu();
  const double n = static_cast<double>(v.numel());
  Estimate estimate;
  estimate.mean = v.mean().item<double>();
  estimate.standard_error =
      n > 1 ? std::sqrt(v.var().item<double>() / n) : 0.0;
  return estimate;
}

absl::StatusOr<ElboEvaluation> EvaluateElbo(
    const model::Model& model, const proto::Experiment& experiment,
    std::shared_ptr<const data::Dataset> dataset,
    const ElboEvaluationOptions& options) {
  if (options.world_size > 1 && !options.all_reduce_sum) {
    return absl::InvalidArgumentError(
        "a data-parallel evaluation needs all_reduce_sum");
  }
  objectives::ElboOptions elbo = objectives::EvalElboOptions(experiment);
  ElboEvaluation result;
  if (model.proposal() != nullptr && !options.vp_proposal &&
      experiment.eval().t_min_eval() == experiment.objective().t_min_train()) {
    elbo.time_sampler = model.proposal();
    result.proposal = "adaptive";
  }
  const int64_t batch_size = options.batch_size > 0
                                 ? options.batch_size
                                 : experiment.eval().test_batch_size();
  data::DataLoader loader(
      dataset, data::LoaderOptionsFor(experiment.data(), "test", batch_size,
                                      experiment.seed(), options.rank,
                                      options.world_size));
  const bool dequantize = dataset->is_8bit() && experiment.data().dequantize();
  const int quantization = dataset->is_8bit() ? objectives::kEightBitQuantization
                                              : objectives::kContinuous;
  const objectives::DataTransform transform(
      objectives::TransformKindFor(experiment.data()));
  at::Generator gen = util::StreamGenerator(
      options.seed.value_or(experiment.seed()), util::Stream::kEvaluation,
      options.rank, 0, model.device());
  model.SetTraining(false);
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> bpd, bpd_offset;
  int64_t batches = 0;
  while (options.max_batches <= 0 || batches < options.max_batches) {
    if (options.stop_requested) {
      absl::StatusOr<bool> stop = options.stop_requested();
      if (!stop.ok()) return stop.status();
      if (*stop) {
        return absl::CancelledError(absl::StrCat(
            "evaluation stopped by request after ", batches, " batches"));
      }
    }
    absl::StatusOr<std::optional<data::Examples>> batch = loader.Next();
    if (!batch.ok()) return batch.status();
    if (!batch->has_value()) break;
    ++batches;
    at::Tensor log_det;
    const at::Tensor y =
        objectives::PrepareData((*batch)->x.to(model.device()), dequantize,
                                transform, &log_det, gen);
    absl::StatusOr<objectives::ElboTerms> terms = objectives::DsmElbo(
        model.diffusion(), model.Network(), y, elbo, gen);
    if (!terms.ok()) return terms.status();
    const int64_t d = y[0].numel();
    bpd.push_back(
        objectives::BitsPerDim(terms->elbo, log_det, d, quantization).cpu());
    if (elbo.with_offset) {
      bpd_offset.push_back(objectives::BitsPerDim(terms->elbo_with_offset,
                                                  log_det, d, quantization)
                               .cpu());
    }
  }
  if (bpd.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dataset->name(), " has no batch to evaluate"));
  }
  const at::Tensor values = at::cat(bpd);
  if (options.world_size <= 1) {
    result.bpd = EstimateOf(values);
    if (elbo.with_offset) result.bpd_with_offset = EstimateOf(at::cat(bpd_offset));
    result.examples = values.size(0);
    return result;
  }
  // Sums over this rank's examples, then over ranks.
  const at::Tensor offsets =
      elbo.with_offset ? at::cat(bpd_offset) : at::zeros_like(values);
  const at::Tensor count =
      at::scalar_tensor(values.size(0), values.options().dtype(at::kDouble));
  at::Tensor sums = at::stack({count,
                               values.sum(), values.square().sum(),
                               offsets.sum(), offsets.square().sum()});
  if (absl::Status s = options.all_reduce_sum(sums); !s.ok()) return s;
  sums = sums.cpu();
  const double n = sums[0].item<double>();
  auto estimate = [n](double sum, double sum_sq) {
    const double mean = sum / n;
    const double variance =
        n > 1 ? std::max(0.0, (sum_sq - n * mean * mean) / (n - 1)) : 0.0;
    return Estimate{mean, std::sqrt(variance / n)};
  };
  result.bpd = estimate(sums[1].item<double>(), sums[2].item<double>());
  if (elbo.with_offset) {
    result.bpd_with_offset =
        estimate(sums[3].item<double>(), sums[4].item<double>());
  }
  result.examples = static_cast<int64_t>(n);
  return result;
}

}  // namespace mdm::eval
