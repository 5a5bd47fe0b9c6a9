#include "mdm/sampling/euler_maruyama.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "mdm/sde/block_ops.h"

namespace mdm::sampling {

absl::StatusOr<SamplerResult> EulerMaruyama(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, const at::Tensor& time_grid,
    c10::optional<at::Generator> gen, const StepCallback& callback) {
  TORCH_CHECK(time_grid.dim() == 1 && time_grid.size(0) >= 2,
              "the time grid needs at least two times");
  at::NoGradGuard no_grad;
  const at::Tensor grid = time_grid.to(at::kCPU, at::kDouble);
  const int64_t steps = grid.size(0) - 1;
  at::Tensor u = u_T;
  SamplerResult result;
  for (int64_t i = 0; i < steps; ++i) {
    const double t = grid[i].item<double>();
    const double h = t - grid[i + 1].item<double>();
    TORCH_CHECK(h > 0, "the time grid must decrease");
    absl::StatusOr<at::Tensor> s = score(u, t);
    if (!s.ok()) return s.status();
    ++result.score_evaluations;
    // Per-step [1, K, K] matrices, shared by the batch.
    const at::Tensor t_tensor =
        at::full({1}, t, u.options().dtype(at::kDouble));
    const at::Tensor GGt = diffusion.DiffusionMatrix(t_tensor)[0];
    const at::Tensor drift = diffusion.Drift(
        u, at::full({u.size(0)}, t, u.options().dtype(at::kDouble)));
    u = u + h * (sde::ApplyMatrix(GGt, *s) - drift);
    if (i + 1 < steps) {
      const at::Tensor G = diffusion.DiffusionSqrt(t_tensor)[0];
      u = u + std::sqrt(h) *
                  sde::ApplyMatrix(G, at::randn(u.sizes(), gen, u.options()));
    }
    if (callback) callback(i, grid[i + 1].item<double>(), u);
  }
  result.u = u;
  return result;
}

}  // namespace mdm::sampling
