// The eval binary's logic: load a run's checkpoint and measure it on a
// data split:
//   elbo  bits/dim from the DSM ELBO (eval/elbo_evaluation.h: the
//         trainer's evaluation), without and, with eval.elbo_offset_eval,
//         with the offset, mean +- 1.96 standard errors over examples
//   ode   bits/dim from the probability-flow ODE's exact likelihood
//         (importance-weighted over v_0 for K > 1)
//   fid   Frechet distance of generated samples' features to the split's,
//         with a user-supplied TorchScript feature network; the first
//         log_image_size^2 samples drawn beside the JSON (*_samples.png)
// Prints a table and writes the numbers as JSON.
#ifndef MDM_BIN_EVAL_LIB_H_
#define MDM_BIN_EVAL_LIB_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace mdm::bin {

struct EvalFlags {
  std::string checkpoint;
  std::string config;  // Optional: another config than the run's.
  std::string split = "test";
  std::string metric = "elbo";  // elbo, ode, fid.
  int64_t limit_examples = 0;   // 0: the whole split.
  int64_t batch_size = 0;       // 0: eval.test_batch_size.
  // Seeds the Monte Carlo draws; unset: the run's evaluation stream, so
  // --metric=elbo reproduces the trainer's evaluation of the same weights.
  std::optional<uint64_t> seed;
  // elbo: "run" draws t from the run's proposal (its adaptive one when it
  // has one), "vp" from the VP proposal.
  std::string proposal = "run";
  // ode.
  double rtol = 1e-5, atol = 1e-5;
  int64_t ode_max_steps = 100000;
  int64_t v0_draws = 1;
  std::string divergence = "rademacher";  // rademacher, gaussian, exact.
  // fid.
  std::string fid_model;
  std::string fid_stats;  // Cache of the split's feature statistics.
  int64_t fid_samples = 1000;
  std::string sampler = "em";
  int64_t steps = 0;  // 0: sampling.n_fes.
  // Output; empty: RUN/eval/<metric>_<split>.json.
  std::string json;
  int num_threads = 0;
  std::string device = "cpu";
};

// Returns the JSON written (also printed as a table).
absl::StatusOr<std::string> RunEvaluation(const EvalFlags& flags);

}  // namespace mdm::bin

#endif  // MDM_BIN_EVAL_LIB_H_
