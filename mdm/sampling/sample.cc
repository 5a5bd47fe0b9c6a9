#include "mdm/sampling/sample.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/sampling/euler_maruyama.h"
#include "mdm/sampling/exponential_integrator.h"
#include "mdm/sampling/probability_flow.h"

namespace mdm::sampling {

absl::StatusOr<SamplerKind> ParseSamplerKind(const std::string& name) {
  std::vector<std::string> names;
  for (const SamplerEntry& entry : kSamplers) {
    if (entry.name == name) return entry.kind;
    names.push_back(entry.name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown sampler '", name, "' (", absl::StrJoin(names, ", "), ")"));
}

std::string SamplerName(SamplerKind kind) {
  for (const SamplerEntry& entry : kSamplers) {
    if (entry.kind == kind) return entry.name;
  }
  return "?";
}

const char* SamplerNames() {
  static const std::string* const names = [] {
    std::vector<std::string> all;
    for (const SamplerEntry& entry : kSamplers) all.push_back(entry.name);
    const std::string last = all.back();
    all.pop_back();
    return new std::string(
        absl::StrCat(absl::StrJoin(all, ", "), " or ", last));
  }();
  return names->c_str();
}

SampleOptions SampleOptionsFor(const proto::Experiment& experiment) {
  const proto::SamplingConfig& config = experiment.sampling();
  SampleOptions options;
  // Validated configs hold a known method; anything else stays EM.
  for (const SamplerEntry& entry : kSamplers) {
    if (entry.method == config.sampling_method()) options.kind = entry.kind;
  }
  options.steps = config.n_fes();
  switch (config.sampling_t_arr_fn()) {
    case proto::SamplingConfig::LINEAR:
      options.grid = TimeGridKind::kLinear;
      break;
    case proto::SamplingConfig::SQRT:
      options.grid = TimeGridKind::kSqrt;
      break;
    default:
      options.grid = TimeGridKind::kQuadratic;
  }
  options.t_min = config.t_min_sampling();
  options.t_max = experiment.diffusion().t_max();
  return options;
}

absl::StatusOr<SamplerResult> Sample(const diffusions::DiffusionImpl& diffusion,
                                     const ScoreFunction& network_score,
                                     at::IntArrayRef state_shape,
                                     const at::TensorOptions& tensor_options,
                                     const SampleOptions& options,
                                     c10::optional<at::Generator> gen) {
  // Every sampler evaluates the score once per step or stage, and passes
  // a failed evaluation on: the one place to stop them all.
  ScoreFunction score = network_score;
  if (options.stop_requested) {
    score = [&network_score, stop = options.stop_requested](
                const at::Tensor& u, double t) -> absl::StatusOr<at::Tensor> {
      if (stop()) return absl::CancelledError("sampling stopped by request");
      return network_score(u, t);
    };
  }
  if (options.kind != SamplerKind::kOde && options.steps < 1) {
    return absl::InvalidArgumentError("the sampler needs at least one step");
  }
  if (options.kind == SamplerKind::kRk4 && options.steps % 4 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rk4 makes 4 score evaluations per step: steps = ", options.steps,
        " is not a multiple of 4"));
  }
  if (!(0 < options.t_min && options.t_min < options.t_max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("need 0 < t_min < t_max, got t_min = ", options.t_min,
                     ", t_max = ", options.t_max));
  }
  at::NoGradGuard no_grad;
  // A CPU generator (or none) draws the prior on the CPU, moved after, so a
  // seed gives the same starting points on every device; on an accelerator
  // the noise then comes from the device's default generator. A generator
  // of the sampling device draws the prior and the noise there.
  const bool cpu_gen = !gen.has_value() || gen->device().is_cpu();
  const at::Tensor u_T =
      diffusion
          .SamplePrior(
              state_shape,
              cpu_gen ? tensor_options.device(at::kCPU) : tensor_options, gen)
          .to(tensor_options.device());
  const c10::optional<at::Generator> noise_gen =
      !cpu_gen || tensor_options.device().is_cpu() ? gen : c10::nullopt;
  const int64_t intervals =
      options.kind == SamplerKind::kRk4 ? options.steps / 4 : options.steps;
  const at::Tensor grid =
      MakeTimeGrid(options.grid, std::max<int64_t>(intervals, 1), options.t_min,
                   options.t_max);
  switch (options.kind) {
    case SamplerKind::kEm:
      return EulerMaruyama(diffusion, score, u_T, grid, noise_gen);
    case SamplerKind::kExpint:
    case SamplerKind::kExpintOde:
    case SamplerKind::kExpintMultistep:
    case SamplerKind::kExpintMultistepSde: {
      ExponentialIntegratorOptions expint;
      expint.stochastic = options.kind == SamplerKind::kExpint ||
                          options.kind == SamplerKind::kExpintMultistepSde;
      if (options.kind == SamplerKind::kExpintMultistep) {
        expint.order = 3;
        expint.multistep_variable = MultistepVariableFor(diffusion);
      }
      if (options.kind == SamplerKind::kExpintMultistepSde) {
        expint.order = 2;
        expint.noise_fraction = 0.8;
      }
      return ExponentialIntegrator(diffusion, score, u_T, grid, expint,
                                   noise_gen);
    }
    case SamplerKind::kOde:
    case SamplerKind::kRk4: {
      ProbabilityFlowOptions flow;
      flow.adaptive = options.adaptive;
      if (options.kind == SamplerKind::kRk4) {
        flow.solver = ProbabilityFlowOptions::Solver::kRk4;
        flow.time_grid = grid;
      }
      return ProbabilityFlowSample(diffusion, score, u_T, options.t_max,
                                   options.t_min, flow);
    }
  }
  return absl::InternalError("unknown sampler");
}

}  // namespace mdm::sampling
