// One entry point to every sampler, by name, for the trainer's sample grids
// and //mdm/bin:sample:
//   em          Euler-Maruyama on the reverse SDE (`steps` evaluations)
//   expint      the exponential integrator on the reverse SDE (`steps`)
//   expint_ode  the exponential integrator on the probability-flow ODE
//   expint_ms   its third-order multistep form on the ODE (`steps`), in
//               sqrt(t) or t by the process (MultistepVariableFor): the
//               few-step sampler (10 evaluations beat expint_ode's 20, and
//               on VPSDE and learned processes expint's 20)
//   expint_ms_sde  its second-order form on a reverse process that keeps
//               80% of the SDE's noise (`steps`): the few-step sampler for
//               processes whose noise reaches the data only through
//               auxiliary variables (CLD: on equal steps 10 evaluations beat
//               expint's 20); noise on the data itself defeats it
//   ode         the probability-flow ODE by adaptive Dormand-Prince
//               (rtol/atol decide the evaluations)
//   rk4         the probability-flow ODE by RK4 (`steps` = 4 x intervals)
#ifndef MDM_SAMPLING_SAMPLE_H_
#define MDM_SAMPLING_SAMPLE_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sampling/ode_solvers.h"
#include "mdm/sampling/score_function.h"
#include "mdm/sampling/time_grid.h"

namespace mdm::sampling {

enum class SamplerKind {
  kEm,
  kExpint,
  kExpintOde,
  kExpintMultistep,
  kExpintMultistepSde,
  kOde,
  kRk4
};

// The one table of samplers: the name --sampler takes, the config's
// sampling.sampling_method value (the name in capitals), in the order
// the header comment lists them. Parsing, names, the config mapping, error
// messages and the binaries' help all come from it.
struct SamplerEntry {
  SamplerKind kind;
  const char* name;
  proto::SamplingConfig::SamplingMethod method;
};
inline constexpr SamplerEntry kSamplers[] = {
    {SamplerKind::kEm, "em", proto::SamplingConfig::EM},
    {SamplerKind::kExpint, "expint", proto::SamplingConfig::EXPINT},
    {SamplerKind::kExpintOde, "expint_ode", proto::SamplingConfig::EXPINT_ODE},
    {SamplerKind::kExpintMultistep, "expint_ms",
     proto::SamplingConfig::EXPINT_MS},
    {SamplerKind::kExpintMultistepSde, "expint_ms_sde",
     proto::SamplingConfig::EXPINT_MS_SDE},
    {SamplerKind::kOde, "ode", proto::SamplingConfig::ODE},
    {SamplerKind::kRk4, "rk4", proto::SamplingConfig::RK4},
};

// A name of kSamplers, or InvalidArgument listing them.
absl::StatusOr<SamplerKind> ParseSamplerKind(const std::string& name);
std::string SamplerName(SamplerKind kind);
// "em, expint, ..., ode or rk4": for help texts (a static string).
const char* SamplerNames();

struct SampleOptions {
  SamplerKind kind = SamplerKind::kEm;
  int64_t steps = 500;  // Score evaluations (all but kOde).
  TimeGridKind grid = TimeGridKind::kQuadratic;
  double t_min = 1e-3;
  double t_max = 1.0;
  AdaptiveOptions adaptive;  // kOde.
  // Polled before every score evaluation; when it returns true the sampler
  // stops with a Cancelled status (a stop signal during a sample grid).
  std::function<bool()> stop_requested;
};

// The options of an experiment's `sampling` block (and diffusion.t_max).
SampleOptions SampleOptionsFor(const proto::Experiment& experiment);

// Draws u_T ~ pi with `state_shape` [n, K, ...data] and integrates it back
// to t_min. `gen` drives the prior and the SDE noise: a CPU generator draws
// the prior on the CPU (the same on every device) and, when sampling on an
// accelerator, leaves the noise to that device's default generator; a
// generator of the sampling device draws both there.
absl::StatusOr<SamplerResult> Sample(const diffusions::DiffusionImpl& diffusion,
                                     const ScoreFunction& score,
                                     at::IntArrayRef state_shape,
                                     const at::TensorOptions& tensor_options,
                                     const SampleOptions& options,
                                     c10::optional<at::Generator> gen);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_SAMPLE_H_
