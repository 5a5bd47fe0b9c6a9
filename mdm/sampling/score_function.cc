#include "mdm/sampling/score_function.h"

#include <ATen/ATen.h>

#include <utility>

namespace mdm::sampling {

ScoreFunction NetworkScore(const diffusions::DiffusionImpl& diffusion,
                           objectives::ScoreNetwork network,
                           objectives::Parameterization parameterization) {
  return [&diffusion, network = std::move(network), parameterization](
             const at::Tensor& u, double t) -> absl::StatusOr<at::Tensor> {
    // One time for the whole batch: the [K, K] matrices are shared.
    absl::StatusOr<sde::TransitionKernel> kernel =
        diffusion.KernelAtTime(t, diffusions::KernelType::kHybrid);
    if (!kernel.ok()) return kernel.status();
    const at::Tensor times = at::full({u.size(0)}, t, u.options());
    return objectives::ScoreFromOutput(network(u, times), *kernel,
                                       parameterization);
  };
}

}  // namespace mdm::sampling
