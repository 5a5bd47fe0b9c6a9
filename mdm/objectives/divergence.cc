#include "mdm/objectives/divergence.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

namespace mdm::objectives {

std::vector<at::Tensor> DivergenceProbes(DivergenceEstimator estimator,
                                         const at::Tensor& like, int64_t count,
                                         c10::optional<at::Generator> gen) {
  std::vector<at::Tensor> probes;
  if (estimator == DivergenceEstimator::kExact) return probes;
  TORCH_CHECK(count >= 1, "Hutchinson's estimator needs at least one probe");
  const bool cpu_gen = !gen.has_value() || gen->device().is_cpu();
  const at::TensorOptions draw =
      like.options().device(cpu_gen ? at::Device(at::kCPU) : like.device());
  for (int64_t i = 0; i < count; ++i) {
    at::Tensor z =
        estimator == DivergenceEstimator::kGaussian
            ? at::randn(like.sizes(), gen, draw)
            : at::randint(0, 2, like.sizes(), gen, draw).mul_(2).sub_(1);
    probes.push_back(z.to(like.device()));
  }
  return probes;
}

at::Tensor Divergence(const at::Tensor& v, const at::Tensor& u,
                      DivergenceEstimator estimator,
                      const std::vector<at::Tensor>& probes,
                      bool create_graph) {
  const int64_t batch = u.size(0);
  at::Tensor divergence =
      at::zeros({batch}, u.options().dtype(at::kDouble));
  if (estimator == DivergenceEstimator::kExact) {
    const at::Tensor v_flat = v.reshape({batch, -1});
    for (int64_t i = 0; i < v_flat.size(1); ++i) {
      const at::Tensor grad =
          torch::autograd::grad({v_flat.select(1, i).sum()}, {u}, {},
                                /*retain_graph=*/true, create_graph)[0];
      divergence =
          divergence + grad.reshape({batch, -1}).select(1, i).to(at::kDouble);
    }
    return divergence;
  }
  TORCH_CHECK(!probes.empty(), "Hutchinson's estimator needs probes");
  for (const at::Tensor& z : probes) {
    const at::Tensor vjp =
        torch::autograd::grad({(v * z).sum()}, {u}, {},
                              /*retain_graph=*/true, create_graph)[0];
    divergence =
        divergence + (vjp * z).reshape({batch, -1}).sum(1).to(at::kDouble);
  }
  return divergence / static_cast<double>(probes.size());
}

}  // namespace mdm::objectives
