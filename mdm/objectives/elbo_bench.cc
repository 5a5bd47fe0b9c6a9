// The objective's own cost, apart from any network: one dsm_elbo loss and
// its backward pass for a batch of 128 28x28x1 images with K = 3 and a
// trivial score model (one learned scale per variable), so kernels, noise,
// quadratic forms and the time sampler are what is timed.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "mdm/diffusions/factory.h"
#include "mdm/objectives/losses.h"
#include "mdm/testing/textproto.h"

namespace mdm::objectives {
namespace {

void BM_DsmElboLossForwardBackward(benchmark::State& state) {
  const bool learned = state.range(0) != 0;
  absl::StatusOr<diffusions::Diffusion> diffusion = diffusions::CreateDiffusion(
      testing::ParseTextProtoOrDie<proto::DiffusionConfig>(
          learned ? "sde_type: LEARNED n_vars: 3"
                  : "sde_type: MALDA n_vars: 3"),
      0);
  const at::Tensor scale = at::full({1, 3, 1, 1, 1}, 0.1).requires_grad_();
  const ScoreNetwork network = [&](const at::Tensor& u, const at::Tensor&) {
    return scale * u;
  };
  const at::Tensor x = at::rand({128, 1, 28, 28});
  const ElboOptions options;  // Hybrid kernel, importance-sampled t.
  for (auto _ : state) {
    absl::StatusOr<at::Tensor> loss =
        TrainingLoss(LossType::kDsmElbo, **diffusion, network, x, options);
    loss->backward();
  }
  state.SetItemsProcessed(state.iterations() * 128);
  state.SetLabel(learned ? "learned Q, D" : "fixed MALDA");
}
BENCHMARK(BM_DsmElboLossForwardBackward)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mdm::objectives
