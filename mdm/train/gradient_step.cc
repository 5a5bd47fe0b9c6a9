#include "mdm/train/gradient_step.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/optim/optimizer.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "mdm/objectives/elbo.h"
#include "mdm/train/optimizers.h"
#include "mdm/util/host_reads.h"
#include "mdm/util/seed_streams.h"

namespace mdm::train {
namespace {

void Seed(at::Generator generator, uint64_t seed) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
}

}  // namespace

GradientStep::GradientStep(const StepParts& parts)
    : parts_(parts),
      transform_(objectives::TransformKindFor(parts.experiment->data())) {}

absl::Status GradientStep::AddMicroBatch(const at::Tensor& x, int64_t step,
                                         int64_t epoch) {
  const proto::Experiment& experiment = *parts_.experiment;
  model::Model& model = *parts_.model;
  const int64_t accumulate = experiment.training().accumulate_grad_batches();
  const uint64_t seed =
      util::StreamSeed(experiment.seed(), util::Stream::kTraining, step,
                       parts_.rank * accumulate + micro_batches_);
  Seed(at::detail::getDefaultCPUGenerator(), seed);
  if (!model.device().is_cpu())
    Seed(at::globalContext().defaultGenerator(model.device()), seed);
  // Whether the data gets no noise matters (and is read from the process)
  // only for a loss that switches.
  loss_type_ = objectives::TrainLossForEpoch(
      experiment.objective(), static_cast<int>(epoch),
      experiment.objective().train_loss_type() ==
              proto::ObjectiveConfig::NOISE_PRED_TO_ELBO &&
          objectives::DataIsNoiseFree(model.diffusion()));
  at::Tensor log_det;
  const at::Tensor y = objectives::PrepareData(
      x.to(model.device()),
      parts_.eight_bit_data && experiment.data().dequantize(), transform_,
      &log_det);
  objectives::ElboOptions elbo = objectives::TrainElboOptions(
      experiment.objective(), experiment.diffusion(), experiment.score_model());
  if (objectives::AdaptiveTimeSamplerImpl* proposal = model.proposal()) {
    // The ELBO losses draw t from the run's proposal and teach it.
    elbo.time_sampler = proposal;
    elbo.observe = [proposal](const at::Tensor& t, const at::Tensor& l) {
      proposal->Observe(t, l);
    };
  }
  absl::StatusOr<at::Tensor> loss = objectives::TrainingLoss(
      loss_type_, model.diffusion(), model.Network(), y, elbo);
  if (!loss.ok()) return loss.status();
  auto add = [](at::Tensor& sum, const at::Tensor& value) {
    const at::Tensor v = value.detach().to(at::kDouble);
    sum = sum.defined() ? sum + v : v;
  };
  add(log_det_sum_, log_det.mean());
  data_dim_ = y[0].numel();
  // A non-finite loss is reported at the step's end, when every rank
  // knows of it, so no rank is left waiting for the others.
  add(loss_sum_, *loss);
  (*loss / accumulate).backward();
  ++micro_batches_;
  return absl::OkStatus();
}

namespace {

// torch::nn::utils::clip_grad_norm_ with the 2-norm: the same operations
// in the same order, but the total norm stays on the device (LibTorch's
// returns it as a host double: one synchronization more per step), so the
// gradients are scaled by min(1, coefficient) whatever it is.
at::Tensor ClipGradNorm(const std::vector<at::Tensor>& parameters,
                        double max_norm) {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : parameters) {
    if (p.grad().defined()) grads.push_back(p.grad().data());
  }
  if (grads.empty()) {
    // Read with the step's other statistics: on their device.
    return at::zeros(
        {}, at::TensorOptions(parameters.empty() ? at::Device(at::kCPU)
                                                 : parameters[0].device())
                .dtype(at::kDouble));
  }
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (const at::Tensor& g : grads) norms.push_back(g.norm(2.0));
  const at::Tensor total =
      norms.size() == 1 ? norms[0] : at::stack(norms).norm(2.0);
  // No clipping: the coefficient would be 1, and its pass over every
  // gradient a no-op.
  if (std::isinf(max_norm)) return total;
  const at::Tensor coef =
      at::clamp(max_norm / (total + 1e-6), c10::optional<at::Scalar>(), 1.0);
  for (at::Tensor& g : grads) g.mul_(coef);
  return total;
}

}  // namespace

absl::StatusOr<StepStats> GradientStep::Finish(int64_t& step,
                                               int& stop_signal) {
  const proto::Experiment& experiment = *parts_.experiment;
  model::Model& model = *parts_.model;
  if (micro_batches_ == 0) {
    return absl::FailedPreconditionError(
        "GradientStep::Finish without a micro-batch (AddMicroBatch first)");
  }
  const double micro_batches = static_cast<double>(micro_batches_);
  micro_batches_ = 0;
  const std::vector<at::Tensor> params = model.Parameters();
  at::Tensor loss_sum = std::exchange(loss_sum_, at::Tensor());
  const at::Tensor log_det_sum = std::exchange(log_det_sum_, at::Tensor());
  if (parts_.world_size > 1) {
    std::vector<double> scalars = {util::ReadToHost({loss_sum})[0],
                                   stop_signal != 0 ? 1.0 : 0.0};
    if (absl::Status s =
            AllReduceGradients(*parts_.communicator, params, scalars);
        !s.ok()) {
      return s;
    }
    // The ranks' total, read back with the step's other statistics.
    loss_sum = at::full({1}, scalars[0],
                        at::TensorOptions(model.device()).dtype(at::kDouble));
    if (stop_signal == 0 && scalars[1] > 0) stop_signal = -1;
  }
  if (objectives::AdaptiveTimeSamplerImpl* proposal = model.proposal()) {
    // Every rank adapts to the draws of all ranks.
    if (parts_.world_size > 1) {
      if (absl::Status s =
              parts_.communicator->AllReduceSum(proposal->pending());
          !s.ok()) {
        return s;
      }
    }
    proposal->Update();
  }
  const double clip = experiment.optimizer().grad_clip_val();
  const at::Tensor grad_norm = ClipGradNorm(
      params, clip > 0 ? clip : std::numeric_limits<double>::infinity());
  // The step's one read: loss, log-det and gradient norm together.
  const std::vector<double> read =
      util::ReadToHost({loss_sum, log_det_sum, grad_norm});
  StepStats stats;
  stats.loss = read[0] / (micro_batches * parts_.world_size);
  const double log_det = read[1] / micro_batches;
  stats.grad_norm = read[2];
  // An ELBO loss is the batch's negative ELBO of the transformed data:
  // with the transform's log-det it is a training bits/dim (this rank's
  // log-det; the ranks' batches are alike in distribution).
  const bool elbo_loss = loss_type_ == objectives::LossType::kDsmElbo ||
                         loss_type_ == objectives::LossType::kIsmElbo;
  stats.train_bpd =
      elbo_loss ? objectives::BitsPerDim(
                      // host: scalars in, a scalar out
                      at::full({1}, -stats.loss, at::kDouble),
                      // host: scalars in, a scalar out
                      at::full({1}, log_det, at::kDouble), data_dim_,
                      parts_.eight_bit_data ? objectives::kEightBitQuantization
                                            : objectives::kContinuous)
                      .item<double>()
                : std::nan("");
  stats.nonfinite =
      !std::isfinite(stats.loss) || !std::isfinite(stats.grad_norm);
  torch::optim::Optimizer& optimizer = *parts_.optimizer;
  if (stats.nonfinite) {
    // No step: the gradients go, whether the run stops or skips.
    optimizer.zero_grad();
    return stats;
  }
  SetLearningRate(optimizer, LearningRateAt(experiment.optimizer(), step));
  optimizer.step();
  optimizer.zero_grad();
  if (parts_.ema != nullptr) parts_.ema->Update();
  ++step;
  return stats;
}

}  // namespace mdm::train
