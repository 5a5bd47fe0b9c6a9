#include "mdm/diffusions/diffusion.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <string>
#include <vector>

#include "mdm/diffusions/factory.h"
#include "mdm/diffusions/processes.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/testing/statistics.h"
#include "mdm/testing/textproto.h"

namespace mdm::diffusions {
namespace {

using ::mdm::proto::DiffusionConfig;
using ::mdm::testing::MatchesGaussianMoments;
using ::mdm::testing::ParseTextProtoOrDie;

constexpr double kLog2Pi = 1.8378770664093453;

at::Generator Gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

struct NamedConfig {
  std::string name;
  std::string config;
};

// Every process, with non-default variances so S != I matters.
std::vector<NamedConfig> AllProcesses() {
  const std::string common =
      " stationary_x_var: 1.5 stationary_aux_var: 0.5 init_aux_var: 0.2 ";
  return {
      {"vpsde", "sde_type: VPSDE" + common},
      {"cld", "sde_type: CLD" + common},
      {"malda3", "sde_type: MALDA n_vars: 3" + common},
      {"alda", "sde_type: ALDA alda_gamma: 0.8 alda_psi: 1.2" + common},
      {"learned3", "sde_type: LEARNED n_vars: 3" + common},
      {"learned3_full", "sde_type: LEARNED n_vars: 3 d_full: true" + common},
      {"learned3_cholesky",
       "sde_type: LEARNED n_vars: 3 d_full: true d_full_cholesky: true" +
           common},
      {"custom2",
       "sde_type: CUSTOM q: [0, 0.5, -0.5, 0] d: [0.3, 0.1, 0.1, 0.4]" +
           common},
  };
}

Diffusion Make(const std::string& config) {
  absl::StatusOr<Diffusion> diffusion =
      CreateDiffusion(ParseTextProtoOrDie<DiffusionConfig>(config), /*seed=*/4);
  TORCH_CHECK(diffusion.ok(), std::string(diffusion.status().message()));
  return *diffusion;
}

// 200k draws of u_t from both kernels match M u_0 (or M (x_0, 0)) and
// Sigma(t). One example whose 200k data coordinates share u_0 gives 200k
// independent draws from one kernel.
TEST(DiffusionTest, TransitionSamplesHaveTheKernelsMoments) {
  constexpr int64_t n = 200000;
  for (const NamedConfig& process : AllProcesses()) {
    Diffusion diffusion = Make(process.config);
    const int64_t K = diffusion->num_vars();
    at::Tensor u0_values = at::linspace(0.7, -0.4, K, at::kDouble);
    const at::Tensor u_0 =
        u0_values.view({1, K, 1}).expand({1, K, n}).contiguous();
    const at::Tensor u_0_copy = u_0.clone();
    for (KernelType type : {KernelType::kFull, KernelType::kHybrid}) {
      for (double t : {0.05, 0.6}) {
        absl::StatusOr<TransitionSample> sample = diffusion->SampleTransition(
            u_0, at::full({1}, t, at::kDouble), type, Gen(11));
        ASSERT_TRUE(sample.ok()) << sample.status();
        at::Tensor mean_input = u0_values.clone();
        if (type == KernelType::kHybrid) mean_input.narrow(0, 1, K - 1).zero_();
        const at::Tensor mean =
            at::matmul(sample->kernel.mean_coef[0], mean_input);
        EXPECT_TRUE(MatchesGaussianMoments(sample->u_t[0].t(), mean,
                                           sample->kernel.cov[0]))
            << process.name << " t = " << t << " hybrid "
            << (type == KernelType::kHybrid);
      }
    }
    EXPECT_TRUE(at::equal(u_0, u_0_copy)) << "u_0 was modified";
  }
}

// The hybrid kernel is the full kernel with v_0 ~ q(v_0) integrated out:
// drawing v_0 first and then u_t from the full kernel has the hybrid
// kernel's moments.
TEST(DiffusionTest, HybridKernelIntegratesOutV0) {
  constexpr int64_t n = 200000;
  for (const NamedConfig& process : AllProcesses()) {
    Diffusion diffusion = Make(process.config);
    const int64_t K = diffusion->num_vars();
    if (K == 1) continue;
    at::Generator gen = Gen(3);
    const at::Tensor x_0 = at::full({1, n}, 0.9, at::kDouble);
    const at::Tensor u_0 =
        DiffusionImpl::JoinState(x_0, diffusion->SampleV0(x_0, gen));
    const at::Tensor t = at::full({1}, 0.3, at::kDouble);
    absl::StatusOr<TransitionSample> sample =
        diffusion->SampleTransition(u_0, t, KernelType::kFull, gen);
    ASSERT_TRUE(sample.ok());
    absl::StatusOr<sde::TransitionKernel> hybrid =
        diffusion->Kernel(t, KernelType::kHybrid);
    ASSERT_TRUE(hybrid.ok());
    const at::Tensor mean = hybrid->mean_coef[0].select(1, 0) * 0.9;
    EXPECT_TRUE(
        MatchesGaussianMoments(sample->u_t[0].t(), mean, hybrid->cov[0]))
        << process.name;
  }
}

// Every process's kernel, from either initial covariance, tends to the
// stationary law N(0, S): M -> 0 and Sigma -> S.
TEST(DiffusionTest, EveryProcessTendsToItsStationaryLaw) {
  for (const NamedConfig& process : AllProcesses()) {
    Diffusion diffusion = Make(process.config);
    for (KernelType type : {KernelType::kFull, KernelType::kHybrid}) {
      absl::StatusOr<sde::TransitionKernel> k =
          diffusion->Kernel(at::full({1}, 10.0, at::kDouble), type);
      ASSERT_TRUE(k.ok()) << k.status();
      EXPECT_LT(k->mean_coef.abs().max().item<double>(), 1e-8) << process.name;
      EXPECT_LT((k->cov[0] - diffusion->StationaryCov()).abs().max().item<double>(),
                1e-8)
          << process.name;
    }
  }
}

TEST(DiffusionTest, KernelAtOneTimeIsTheBatchKernelsMatrices) {
  Diffusion diffusion = Make(AllProcesses()[3].config);  // ALDA.
  absl::StatusOr<sde::TransitionKernel> batch =
      diffusion->Kernel(at::full({1}, 0.4, at::kDouble), KernelType::kHybrid);
  absl::StatusOr<sde::TransitionKernel> single =
      diffusion->KernelAtTime(0.4, KernelType::kHybrid);
  ASSERT_TRUE(batch.ok() && single.ok());
  EXPECT_EQ(single->chol.sizes(), at::IntArrayRef({3, 3}));
  EXPECT_TRUE(at::equal(single->mean_coef, batch->mean_coef[0]));
  EXPECT_TRUE(at::equal(single->chol_inv_t, batch->chol_inv_t[0]));
}

TEST(DiffusionTest, PriorDensityAndSamples) {
  Diffusion diffusion = Make(AllProcesses()[2].config);  // MALDA, K = 3.
  const at::Tensor u = at::randn({2, 3, 4}, Gen(1), at::kDouble);
  const std::vector<double> var = {1.5, 0.5, 0.5};
  for (int64_t b = 0; b < 2; ++b) {
    double expected = 0;
    for (int64_t k = 0; k < 3; ++k) {
      for (int64_t j = 0; j < 4; ++j) {
        const double x = u[b][k][j].item<double>();
        expected += -0.5 * x * x / var[k] - 0.5 * (kLog2Pi + std::log(var[k]));
      }
    }
    EXPECT_NEAR(diffusion->PriorLogProb(u)[b].item<double>(), expected, 1e-12);
  }
  const at::Tensor samples =
      diffusion->SamplePrior({1, 3, 200000}, at::kDouble, Gen(2));
  EXPECT_TRUE(MatchesGaussianMoments(
      samples[0].t(), at::zeros({3}, at::kDouble), diffusion->StationaryCov()));
}

TEST(DiffusionTest, InitialAuxiliaryDensityAndSamples) {
  Diffusion diffusion = Make(AllProcesses()[1].config);  // CLD, init 0.2.
  const at::Tensor x_0 = at::zeros({1, 100000}, at::kDouble);
  const at::Tensor v_0 = diffusion->SampleV0(x_0, Gen(5));
  ASSERT_EQ(v_0.sizes(), at::IntArrayRef({1, 1, 100000}));
  EXPECT_TRUE(MatchesGaussianMoments(v_0[0].t(), at::zeros({1}, at::kDouble),
                                     at::full({1, 1}, 0.2, at::kDouble)));
  const at::Tensor v = at::tensor({0.3, -0.1}, at::kDouble).view({1, 1, 2});
  const double expected =
      -0.5 * (0.09 + 0.01) / 0.2 - (kLog2Pi + std::log(0.2));
  EXPECT_NEAR(diffusion->LogQV0(v).item<double>(), expected, 1e-12);
  // K = 1 has no auxiliary variables: an empty v_0 of density 1.
  Diffusion vp = Make(AllProcesses()[0].config);
  const at::Tensor empty = vp->SampleV0(at::zeros({2, 5}, at::kDouble));
  EXPECT_EQ(empty.sizes(), at::IntArrayRef({2, 0, 5}));
  EXPECT_EQ(vp->LogQV0(empty).abs().max().item<double>(), 0.0);
}

// The drift is beta(t) A u, and its divergence (the trace of its Jacobian,
// by autograd one coordinate at a time) is beta(t) tr(A) d.
TEST(DiffusionTest, DriftAndItsDivergence) {
  Diffusion diffusion = Make(AllProcesses()[4].config);  // Learned K = 3.
  const at::Tensor t = at::tensor({0.2, 0.9}, at::kDouble);
  const at::Tensor u =
      at::randn({2, 3, 2}, Gen(6), at::kDouble).requires_grad_();
  const at::Tensor f = diffusion->Drift(u, t);
  const at::Tensor A = diffusion->Sde().A().detach();
  for (int64_t b = 0; b < 2; ++b) {
    const double beta =
        diffusion->options().schedule().Beta(t[b].item<double>());
    EXPECT_TRUE(at::allclose(f[b].detach(), beta * at::matmul(A, u[b].detach()),
                             1e-12, 1e-12));
  }
  at::Tensor divergence = at::zeros({2}, at::kDouble);
  for (int64_t k = 0; k < 3; ++k) {
    for (int64_t j = 0; j < 2; ++j) {
      const at::Tensor grad =
          torch::autograd::grad({f.select(1, k).select(1, j).sum()}, {u}, {},
                                /*retain_graph=*/true)[0];
      divergence += grad.select(1, k).select(1, j);
    }
  }
  EXPECT_TRUE(at::allclose(diffusion->DriftDivergence(t, /*data_dim=*/2),
                           divergence, 1e-12, 1e-12));
}

TEST(DiffusionTest, DiffusionMatrixAndItsSquareRoot) {
  for (const NamedConfig& process : AllProcesses()) {
    Diffusion diffusion = Make(process.config);
    const at::Tensor t = at::tensor({0.1, 0.8}, at::kDouble);
    const at::Tensor GGt = diffusion->DiffusionMatrix(t);
    const at::Tensor G = diffusion->DiffusionSqrt(t);
    for (int64_t b = 0; b < 2; ++b) {
      const double beta =
          diffusion->options().schedule().Beta(t[b].item<double>());
      EXPECT_TRUE(at::allclose(
          GGt[b], 2 * beta * diffusion->D().to(at::kDouble), 1e-12, 1e-12));
    }
    EXPECT_TRUE(at::allclose(at::matmul(G, G), GGt, 1e-9, 1e-12))
        << process.name;
    EXPECT_TRUE(at::allclose(G, G.transpose(1, 2), 0, 1e-12)) << process.name;
  }
}

// A learned diffusion's kernel is differentiable all the way to W and d.
TEST(DiffusionTest, GradientsReachLearnedParametersThroughSampling) {
  Diffusion diffusion = Make(AllProcesses()[4].config);
  const at::Tensor u_0 = at::randn({4, 3, 5}, Gen(7));
  absl::StatusOr<TransitionSample> sample = diffusion->SampleTransition(
      u_0, at::rand({4}, Gen(8)) * 0.9 + 0.05, KernelType::kHybrid, Gen(9));
  ASSERT_TRUE(sample.ok());
  EXPECT_EQ(sample->u_t.scalar_type(), at::kFloat);
  (sample->u_t.pow(2).sum() + diffusion->PriorLogProb(sample->u_t).sum())
      .backward();
  ASSERT_EQ(diffusion->parameters().size(), 2u);
  for (const at::Tensor& p : diffusion->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().max().item<double>(), 0.0);
  }
}

// The C++ API for a new process: two matrices.
TEST(DiffusionTest, FixedProcessFromTwoMatrices) {
  const QdMatrices cld = CldMatrices(1.0);
  Diffusion diffusion(cld.Q, cld.D, DiffusionOptions().init_aux_var(0.04));
  EXPECT_EQ(diffusion->num_vars(), 2);
  EXPECT_FALSE(diffusion->learned());
  EXPECT_TRUE(diffusion->parameters().empty());
  EXPECT_EQ(diffusion->InitialCov(KernelType::kHybrid)[1][1].item<double>(),
            0.04);
  EXPECT_EQ(diffusion->InitialCov(KernelType::kFull).abs().max().item<double>(),
            0);
}

}  // namespace
}  // namespace mdm::diffusions
