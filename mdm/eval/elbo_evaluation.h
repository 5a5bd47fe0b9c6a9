// The ELBO bits/dim of a model on a data split: the one evaluation the
// trainer runs every eval_every_n_epoch (and that picks the best
// checkpoint) and that `eval --metric=elbo` reports. As the original's
// evaluate_step: the importance-sampled DSM ELBO from eval.t_min_eval, with
// eval.elbo_mc_samples_eval repeats, without and (when
// eval.elbo_offset_eval) with the [0, t_min] offset, on batches of
// eval.test_batch_size. Its randomness (dequantization, t, noise) comes
// from the run's evaluation stream, so the same weights, split and seed
// give the same numbers in the trainer and in `eval`.
#ifndef MDM_EVAL_ELBO_EVALUATION_H_
#define MDM_EVAL_ELBO_EVALUATION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mdm/data/dataset.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::eval {

// A mean over examples and its standard error.
struct Estimate {
  double mean = 0;
  double standard_error = 0;
};

// Mean and standard error of per-example values.
Estimate EstimateOf(const at::Tensor& values);

struct ElboEvaluationOptions {
  int64_t max_batches = 0;  // 0: the whole split.
  int64_t batch_size = 0;   // 0: eval.test_batch_size.
  // Seeds the evaluation stream; unset: the run's seed (experiment.seed).
  std::optional<uint64_t> seed;
  // Data-parallel evaluation: this rank takes its 1/world_size of the
  // split, and `all_reduce_sum` (required when world_size > 1) sums a
  // tensor over ranks.
  int rank = 0;
  int world_size = 1;
  std::function<absl::Status(at::Tensor&)> all_reduce_sum;
  // Draw t from the VP proposal even when the run has an adaptive one
  // (which is used by default when eval.t_min_eval = objective.t_min_train,
  // its support).
  bool vp_proposal = false;
  // Polled before each batch; when it returns true the evaluation stops
  // with a Cancelled status. Data-parallel, every rank must get the same
  // answer at the same batch (the trainer all-reduces its stop flag).
  std::function<absl::StatusOr<bool>()> stop_requested;
};

struct ElboEvaluation {
  Estimate bpd;                              // Without the offset.
  std::optional<Estimate> bpd_with_offset;  // With eval.elbo_offset_eval.
  int64_t examples = 0;
  // The proposal t was drawn from: "adaptive" (the run's) or "vp".
  std::string proposal = "vp";
};

// The evaluation above on `dataset`, with the model in evaluation mode and
// no gradients.
absl::StatusOr<ElboEvaluation> EvaluateElbo(
    const model::Model& model, const proto::Experiment& experiment,
    std::shared_ptr<const data::Dataset> dataset,
    const ElboEvaluationOptions& options = {});

}  // namespace mdm::eval

#endif  // MDM_EVAL_ELBO_EVALUATION_H_
