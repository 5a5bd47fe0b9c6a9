// One optimizer step of a training run, accumulated from micro-batches.
// AddMicroBatch takes a micro-batch's loss and backward pass, its noise
// drawn from the run's training stream (util/seed_streams.h); Finish
// averages the gradients, the loss and the stop request over ranks,
// updates the adaptive time proposal, clips the gradients, checks the
// loss and gradient norm for non-finite values (taking no step then),
// sets the scheduled learning rate, steps the optimizer and updates the
// EMA. The trainer (trainer.h) calls the two in its loop.
//
// Example:
//   GradientStep gradient_step({.experiment = &experiment, .model = &model,
//                               .optimizer = optimizer.get()});
//   for (const at::Tensor& x : micro_batches)
//     if (absl::Status s = gradient_step.AddMicroBatch(x, step, epoch);
//         !s.ok()) return s;
//   int stop = 0;
//   absl::StatusOr<StepStats> stats = gradient_step.Finish(step, stop);
#ifndef MDM_TRAIN_GRADIENT_STEP_H_
#define MDM_TRAIN_GRADIENT_STEP_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mdm/model/ema.h"
#include "mdm/model/model.h"
#include "mdm/objectives/losses.h"
#include "mdm/objectives/transforms.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/train/distributed.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace mdm::train {

struct StepStats {
  double loss = 0;       // Mean over micro-batches and ranks.
  double grad_norm = 0;  // Before clipping.
  // Training bits/dim of an ELBO loss (NaN for noise prediction).
  double train_bpd = 0;
  // The loss or the gradient norm was not finite; no step was taken.
  bool nonfinite = false;
};

// What a step works on; nothing is owned, everything must outlive the
// GradientStep.
struct StepParts {
  const proto::Experiment* experiment = nullptr;
  model::Model* model = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;
  model::Ema* ema = nullptr;             // None: no EMA.
  Communicator* communicator = nullptr;  // None: one process.
  int rank = 0;
  int world_size = 1;
  // 8-bit data: dequantized (with data.dequantize) and counted as such in
  // the training bits/dim.
  bool eight_bit_data = true;
};

class GradientStep {
 public:
  explicit GradientStep(const StepParts& parts);

  // Adds micro-batch `x` (raw data [batch, ...], as the data set returns
  // it) of optimizer step `step` in epoch `epoch`: its loss (the objective
  // schedule's for the epoch) and backward pass, divided by
  // accumulate_grad_batches even in an epoch's shorter last accumulation,
  // as Lightning does.
  absl::Status AddMicroBatch(const at::Tensor& x, int64_t step,
                             int64_t epoch);
  // Micro-batches added since the last Finish.
  int64_t micro_batches() const { return micro_batches_; }

  // Ends the step taking the micro-batches added so far. `stop_signal` is
  // this rank's stop signal (0: none); with several ranks it comes back as
  // their agreement (-1: another rank's). `step` advances when the update
  // is taken, that is unless the loss or gradient norm is not finite (then
  // the gradients are dropped). FailedPrecondition without a micro-batch.
  absl::StatusOr<StepStats> Finish(int64_t& step, int& stop_signal);

 private:
  StepParts parts_;
  objectives::DataTransform transform_;
  int64_t micro_batches_ = 0;
  // The micro-batches' losses and mean log-dets, summed on the device in
  // double (read to the host once, in Finish).
  at::Tensor loss_sum_;
  at::Tensor log_det_sum_;
  int64_t data_dim_ = 0;
  objectives::LossType loss_type_ = objectives::LossType::kDsmElbo;
};

}  // namespace mdm::train

#endif  // MDM_TRAIN_GRADIENT_STEP_H_
