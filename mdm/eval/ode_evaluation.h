// Bits/dim of a data split from the probability-flow ODE's exact
// likelihood (likelihood.h), batch by batch over the split: what
// `eval --metric=ode` reports.
#ifndef MDM_EVAL_ODE_EVALUATION_H_
#define MDM_EVAL_ODE_EVALUATION_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "mdm/data/dataset.h"
#include "mdm/eval/elbo_evaluation.h"
#include "mdm/eval/likelihood.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::eval {

struct OdeEvaluation {
  Estimate bpd;
  int64_t examples = 0;
  double function_evaluations_per_batch = 0;
};

// The ODE bits/dim of every example of `dataset` in batches of
// `batch_size`, dequantized and transformed as the run's data, its draws
// (dequantization, v_0, divergence probes) from the evaluation stream of
// `seed`. No gradients.
absl::StatusOr<OdeEvaluation> EvaluateOde(
    const model::Model& model, const proto::Experiment& experiment,
    std::shared_ptr<const data::Dataset> dataset, int64_t batch_size,
    const OdeLikelihoodOptions& options, uint64_t seed);

}  // namespace mdm::eval

#endif  // MDM_EVAL_ODE_EVALUATION_H_
