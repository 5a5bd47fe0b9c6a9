// Evaluates a trained run: bits/dim (ELBO or probability-flow ODE) or FID.
//
//   $ bazel run //mdm/bin:eval -- --checkpoint=runs/quickstart --metric=elbo
//   $ bazel run //mdm/bin:eval -- --checkpoint=runs/quickstart --metric=ode
//         --limit_examples=1000 --v0_draws=4
//   $ bazel run //mdm/bin:eval -- --checkpoint=runs/quickstart --metric=fid
//         --fid_model=features.pt --fid_stats=test.stats --fid_samples=10000
#include <gflags/gflags.h>

#include <optional>
#include <string>

#include "mdm/bin/eval_lib.h"
#include "mdm/sampling/sample.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"

DEFINE_string(checkpoint, "",
              "A run directory (its best, else last, checkpoint) or a "
              "checkpoint file.");
DEFINE_string(config, "",
              "Another config than the checkpoint's (same shapes).");
DEFINE_string(split, "test", "test, validation or train.");
DEFINE_string(metric, "elbo", "elbo, ode or fid.");
DEFINE_string(proposal, "run",
              "elbo: draw t from the run's proposal (its adaptive one when "
              "trained with one) or from vp.");
DEFINE_int64(limit_examples, 0, "Use the split's first N examples; 0: all.");
DEFINE_int64(batch_size, 0, "Examples per batch; 0: eval.test_batch_size.");
DEFINE_int64(seed, -1,
             "Seed of the Monte Carlo draws; -1: the run's own evaluation "
             "stream (what its eval.csv reports for the same weights).");
DEFINE_double(rtol, 1e-5, "ode: relative tolerance.");
DEFINE_double(atol, 1e-5, "ode: absolute tolerance.");
DEFINE_int64(ode_max_steps, 100000, "ode: the adaptive solver's step limit.");
DEFINE_int64(v0_draws, 1, "ode: importance samples of v_0 per example.");
DEFINE_string(divergence, "rademacher",
              "ode: rademacher or gaussian (Hutchinson probes) or exact.");
DEFINE_string(fid_model, "", "fid: TorchScript feature network.");
DEFINE_string(fid_stats, "",
              "fid: cache of the split's feature statistics (made once).");
DEFINE_int64(fid_samples, 1000, "fid: number of generated samples.");
namespace {
const char* FidSamplerHelp() {
  static const std::string* const help =
      new std::string(std::string("fid: ") + mdm::sampling::SamplerNames());
  return help->c_str();
}
}  // namespace
DEFINE_string(sampler, "em", FidSamplerHelp());
DEFINE_int64(steps, 0, "fid: score evaluations per sample; 0: n_fes.");
DEFINE_string(json, "", "Where to write the JSON; default RUN/eval/.");
DEFINE_int32(num_threads, 0,
             "Threads to compute with (LibTorch's pool; BLAS runs in its "
             "callers' threads); 0: one per core.");
DEFINE_string(device, "cpu", "cpu, cuda or cuda:N.");

int main(int argc, char** argv) {
  mdm::util::ParseToolFlags(
      {.name = "eval",
       .summary = "Evaluates a trained run on a data split: bits/dim from the "
                  "ELBO or the probability-flow ODE, or FID.",
       .examples =
           "bazel run //mdm/bin:eval -- --checkpoint=runs/quickstart "
           "--metric=elbo\n"
           "bazel run //mdm/bin:eval -- --checkpoint=runs/quickstart "
           "--metric=ode --limit_examples=1000\n"
           "bazel run //mdm/bin:eval -- --checkpoint=runs/quickstart "
           "--metric=fid --fid_model=features.pt --fid_stats=test.stats"},
      &argc, &argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  using mdm::util::ResolveUserPath;
  return mdm::util::RunAndReport("eval", [&]() -> absl::Status {
    if (absl::Status s = mdm::util::NoPositionalArguments(argc, argv); !s.ok())
      return s;
    return mdm::bin::RunEvaluation(
               {
                   .checkpoint = ResolveUserPath(FLAGS_checkpoint),
                   .config = ResolveUserPath(FLAGS_config),
                   .split = FLAGS_split,
                   .metric = FLAGS_metric,
                   .limit_examples = FLAGS_limit_examples,
                   .batch_size = FLAGS_batch_size,
                   .seed = FLAGS_seed < 0 ? std::nullopt
                                          : std::optional<uint64_t>(FLAGS_seed),
                   .proposal = FLAGS_proposal,
                   .rtol = FLAGS_rtol,
                   .atol = FLAGS_atol,
                   .ode_max_steps = FLAGS_ode_max_steps,
                   .v0_draws = FLAGS_v0_draws,
                   .divergence = FLAGS_divergence,
                   .fid_model = ResolveUserPath(FLAGS_fid_model),
                   .fid_stats = ResolveUserPath(FLAGS_fid_stats),
                   .fid_samples = FLAGS_fid_samples,
                   .sampler = FLAGS_sampler,
                   .steps = FLAGS_steps,
                   .json = ResolveUserPath(FLAGS_json),
                   .num_threads = FLAGS_num_threads,
                   .device = FLAGS_device,
               })
        .status();
  });
}
