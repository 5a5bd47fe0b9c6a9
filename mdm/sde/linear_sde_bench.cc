// Times the transition kernel for a batch of distinct times (128, or 512
// as in an MLP training step): what every training step pays once, before
// touching the data.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "mdm/sde/linear_sde.h"
#include "mdm/testing/random_matrices.h"

namespace mdm::sde {
namespace {

LinearSde RandomSde(int64_t K) {
  at::Generator gen = testing::MakeGenerator(K);
  return LinearSde(testing::RandomAntisymmetric(K, gen),
                   testing::RandomPsd(K, gen),
                   testing::RandomStationaryVariances(K, gen),
                   BetaSchedule::Linear(0.1, 10.0));
}

at::Tensor DistinctTimes(int64_t n) {
  return at::linspace(1e-3, 1.0, n, at::kDouble);
}

// Moments, Cholesky and L^{-T} of the hybrid kernel.
void BM_Kernel(benchmark::State& state) {
  const int64_t K = state.range(0);
  const LinearSde sde = RandomSde(K);
  const at::Tensor t = DistinctTimes(state.range(1));
  const at::Tensor sigma0 = HybridInitialCov(K, 0.01);
  for (auto _ : state) {
    auto kernel = sde.Kernel(t, sigma0);
    benchmark::DoNotOptimize(kernel->chol_inv_t.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}
BENCHMARK(BM_Kernel)
    ->ArgsProduct({{2, 3}, {128, 512}})
    ->Unit(benchmark::kMicrosecond);

// Mean coefficient and covariance only (the matrix-fraction exponential).
void BM_Moments(benchmark::State& state) {
  const int64_t K = state.range(0);
  const LinearSde sde = RandomSde(K);
  const at::Tensor t = DistinctTimes(state.range(1));
  const at::Tensor sigma0 = HybridInitialCov(K, 0.01);
  for (auto _ : state) {
    KernelMoments moments = sde.Moments(t, sigma0);
    benchmark::DoNotOptimize(moments.cov.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}
BENCHMARK(BM_Moments)
    ->ArgsProduct({{2, 3}, {128, 512}})
    ->Unit(benchmark::kMicrosecond);

// Kernel plus backward to learned Q and D, as in a training step.
void BM_KernelForwardBackward(benchmark::State& state) {
  const int64_t K = state.range(0);
  at::Generator gen = testing::MakeGenerator(K);
  const at::Tensor W = at::randn({K, K}, gen, at::kDouble).requires_grad_();
  const at::Tensor d = at::randn({K}, gen, at::kDouble).requires_grad_();
  const at::Tensor s = testing::RandomStationaryVariances(K, gen);
  const at::Tensor t = DistinctTimes(state.range(1));
  const at::Tensor sigma0 = HybridInitialCov(K, 0.01);
  for (auto _ : state) {
    const LinearSde sde(W - W.t(), at::diag(at::softplus(d) + 1e-3), s,
                        BetaSchedule::Linear(0.1, 10.0));
    auto kernel = sde.Kernel(t, sigma0);
    (kernel->chol_inv_t.sum() + kernel->mean_coef.sum()).backward();
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}
BENCHMARK(BM_KernelForwardBackward)
    ->ArgsProduct({{2, 3}, {128, 512}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mdm::sde
