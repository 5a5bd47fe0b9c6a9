#include "mdm/objectives/elbo.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "mdm/diffusions/factory.h"
#include "mdm/sde/block_ops.h"
#include "mdm/testing/textproto.h"

namespace mdm::objectives {
namespace {

using diffusions::Diffusion;
using diffusions::KernelType;
using ::mdm::proto::DiffusionConfig;
using ::mdm::testing::ParseTextProtoOrDie;

constexpr double kLog2Pi = 1.8378770664093453;

at::Generator Gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

Diffusion Make(const std::string& config, double x_var, double aux_var) {
  DiffusionConfig c = ParseTextProtoOrDie<DiffusionConfig>(config);
  c.set_stationary_x_var(x_var);
  c.set_stationary_aux_var(aux_var);
  c.set_init_aux_var(aux_var);  // u_0 is stationary.
  absl::StatusOr<Diffusion> d = diffusions::CreateDiffusion(c, /*seed=*/7);
  TORCH_CHECK(d.ok(), std::string(d.status().message()));
  (*d)->to(at::kDouble);
  return *d;
}

// The exact score of every marginal of the stationary process, -S^{-1} u,
// times `scale`, as a score-predicting network.
ScoreNetwork ExactScore(const Diffusion& diffusion, double scale = 1.0) {
  const at::Tensor inv_var = 1.0 / diffusion->stationary_var();
  return [inv_var, scale](const at::Tensor& u, const at::Tensor&) {
    std::vector<int64_t> shape(u.dim(), 1);
    shape[1] = inv_var.size(0);
    return -scale * u * inv_var.view(shape).to(u.dtype());
  };
}

// Mean and standard error over examples of (ELBO - exact) / d.
struct Estimate {
  double mean;
  double standard_error;
};

Estimate Summarize(const std::vector<at::Tensor>& gaps) {
  const at::Tensor gap = at::cat(gaps);
  return {
      gap.mean().item<double>(),
      gap.std().item<double>() / std::sqrt(static_cast<double>(gap.size(0)))};
}

enum class Form { kDsm, kIsm };

// Estimates the ELBO of x = 0.7 in every coordinate under the exact score
// (times `scale`) from `chunks` batches of 40000 examples of d = 50, each
// chunk with its own seed. The bound is tight for scale = 1.
Estimate EstimateGap(const Diffusion& diffusion, Form form, double scale,
                     int chunks) {
  constexpr int64_t kExamples = 40000, kDim = 50;
  constexpr double kX = 0.7;
  const double exact_per_dim = -0.5 * kX * kX - 0.5 * kLog2Pi;  // x_var = 1.
  ElboOptions options;
  options.parameterization = Parameterization::kScorePred;
  if (form == Form::kDsm) {
    options.t_min = 1e-3;  // The [0, t_min] gap is ~1e-4 nats here.
  } else {
    options.t_min = 1e-5;
    options.divergence = DivergenceEstimator::kRademacher;
  }
  std::vector<at::Tensor> gaps;
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const at::Tensor x = at::full({kExamples, kDim}, kX, at::kDouble);
    absl::StatusOr<ElboTerms> terms =
        form == Form::kDsm ? DsmElbo(*diffusion, ExactScore(diffusion, scale),
                                     x, options, Gen(100 + chunk))
                           : IsmElbo(*diffusion, ExactScore(diffusion, scale),
                                     x, options, Gen(100 + chunk));
    TORCH_CHECK(terms.ok(), std::string(terms.status().message()));
    gaps.push_back(terms->elbo / kDim - exact_per_dim);
  }
  return Summarize(gaps);
}

struct TightnessCase {
  std::string name;
  std::string config;
  int dsm_chunks;  // Chosen so the standard error is below 0.01 nats/dim.
  int ism_chunks;
};

void PrintTo(const TightnessCase& c, std::ostream* os) { *os << c.name; }

class ElboTightnessTest : public ::testing::TestWithParam<TightnessCase> {};

// With data x ~ N(0, stationary_x_var) and init_aux_var =
// stationary_aux_var, u_0 is stationary, the exact score of every marginal
// is -S^{-1} u, and the ELBO with that score equals log N(x; 0, x_var):
// both estimators must land within 4 standard errors of it.
TEST_P(ElboTightnessTest, ExactScoreGivesTheExactLogLikelihood) {
  const TightnessCase& c = GetParam();
  const Diffusion diffusion = Make(c.config, 1.0, 1.0);
  for (Form form : {Form::kDsm, Form::kIsm}) {
    const Estimate e = EstimateGap(
        diffusion, form, 1.0, form == Form::kDsm ? c.dsm_chunks : c.ism_chunks);
    const char* name = form == Form::kDsm ? "DSM" : "ISM";
    RecordProperty(std::string(name) + "_gap", std::to_string(e.mean));
    RecordProperty(std::string(name) + "_se", std::to_string(e.standard_error));
    EXPECT_LT(e.standard_error, 0.01) << name;
    EXPECT_LT(std::abs(e.mean), 4 * e.standard_error)
        << name << " gap " << e.mean << " +- " << e.standard_error;
  }
}

// A wrong score (0.8 times the exact one) gives a bound far below the
// exact value, so the test above could not pass with a broken estimator.
TEST_P(ElboTightnessTest, ScaledScoreFallsFarBelow) {
  const TightnessCase& c = GetParam();
  const Diffusion diffusion = Make(c.config, 1.0, 1.0);
  for (Form form : {Form::kDsm, Form::kIsm}) {
    const Estimate e = EstimateGap(diffusion, form, 0.8, 1);
    EXPECT_LT(e.mean, -5 * e.standard_error)
        << (form == Form::kDsm ? "DSM" : "ISM") << " gap " << e.mean << " +- "
        << e.standard_error;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Processes, ElboTightnessTest,
    ::testing::Values(
        TightnessCase{"vpsde", "sde_type: VPSDE", 1, 1},
        TightnessCase{"cld", "sde_type: CLD", 5, 5},
        TightnessCase{"malda", "sde_type: MALDA n_vars: 3", 5, 10},
        TightnessCase{"alda", "sde_type: ALDA", 14, 2},
        TightnessCase{"learned3", "sde_type: LEARNED n_vars: 3", 1, 2}),
    [](const auto& info) { return info.param.name; });

// The same for a learned process with three time bins that differ: N(0, S)
// is stationary in every bin, so the bound is tight through the boundaries
// (the prior term and the offset's log |det M| compose the bins).
TEST(ElboTest, TimeBinnedProcessBoundIsTight) {
  const Diffusion diffusion =
      Make("sde_type: LEARNED n_vars: 3 time_bins: 3", 1.0, 1.0);
  {
    at::NoGradGuard no_grad;
    at::Generator gen = Gen(9);
    for (at::Tensor& p : diffusion->parameters())
      p.add_(0.5 * at::randn(p.sizes(), gen, p.options()));
  }
  for (Form form : {Form::kDsm, Form::kIsm}) {
    const Estimate e =
        EstimateGap(diffusion, form, 1.0, form == Form::kDsm ? 2 : 3);
    const char* name = form == Form::kDsm ? "DSM" : "ISM";
    EXPECT_LT(e.standard_error, 0.01) << name;
    EXPECT_LT(std::abs(e.mean), 4 * e.standard_error)
        << name << " gap " << e.mean << " +- " << e.standard_error;
    const Estimate wrong = EstimateGap(diffusion, form, 0.8, 1);
    EXPECT_LT(wrong.mean, -5 * wrong.standard_error) << name;
  }
}

// The measured setting: d = 1, ISM with the exact divergence at
// t_min = 1e-5 (one vector-Jacobian product per variable).
TEST(ElboTest, IsmWithExactDivergenceIsTight) {
  for (const char* config : {"sde_type: VPSDE", "sde_type: CLD"}) {
    const Diffusion diffusion = Make(config, 1.0, 1.0);
    ElboOptions options;
    options.parameterization = Parameterization::kScorePred;
    options.t_min = 1e-5;
    options.divergence = DivergenceEstimator::kExact;
    const at::Tensor x = at::full({200000, 1}, 0.7, at::kDouble);
    absl::StatusOr<ElboTerms> terms =
        IsmElbo(*diffusion, ExactScore(diffusion), x, options, Gen(5));
    ASSERT_TRUE(terms.ok()) << terms.status();
    const Estimate e = Summarize({terms->elbo - (-0.5 * 0.49 - 0.5 * kLog2Pi)});
    EXPECT_LT(std::abs(e.mean), 4 * e.standard_error)
        << config << " " << e.mean;
    EXPECT_LT(e.standard_error, 0.06) << config;
  }
}

// Conditioning on a drawn v_0 (the full kernel) is also a valid bound, tight
// under the exact score; a learned D of full rank keeps its variance low.
TEST(ElboTest, FullKernelBoundIsTightToo) {
  const Diffusion diffusion = Make("sde_type: LEARNED n_vars: 2", 1.0, 1.0);
  ElboOptions options;
  options.parameterization = Parameterization::kScorePred;
  options.kernel = KernelType::kFull;
  const at::Tensor x = at::full({40000, 50}, 0.7, at::kDouble);
  std::vector<at::Tensor> gaps;
  for (int chunk = 0; chunk < 2; ++chunk) {
    absl::StatusOr<ElboTerms> terms =
        DsmElbo(*diffusion, ExactScore(diffusion), x, options, Gen(chunk));
    ASSERT_TRUE(terms.ok()) << terms.status();
    gaps.push_back(terms->elbo / 50 - (-0.5 * 0.49 - 0.5 * kLog2Pi));
  }
  const Estimate e = Summarize(gaps);
  EXPECT_LT(std::abs(e.mean), 4 * e.standard_error) << e.mean;
  EXPECT_LT(e.standard_error, 0.02);
}

// noise_pred and score_pred describe the same score: a network predicting
// eps_hat = -L^T s gives the same terms as one predicting s, draw for draw.
TEST(ElboTest, NoiseAndScoreParameterizationsAgree) {
  const Diffusion diffusion = Make("sde_type: MALDA n_vars: 3", 1.0, 0.5);
  const ScoreNetwork score_net = ExactScore(diffusion, 0.9);
  const ScoreNetwork noise_net = [&](const at::Tensor& u, const at::Tensor& t) {
    absl::StatusOr<sde::TransitionKernel> k =
        diffusion->Kernel(t, KernelType::kHybrid);
    TORCH_CHECK(k.ok());
    return NoiseFromScore(score_net(u, t), *k);
  };
  const at::Tensor x = at::randn({64, 3, 4}, Gen(1), at::kDouble);
  ElboOptions options;
  options.with_offset = true;
  options.mc_samples = 2;
  options.parameterization = Parameterization::kScorePred;
  absl::StatusOr<ElboTerms> a =
      DsmElbo(*diffusion, score_net, x, options, Gen(2));
  options.parameterization = Parameterization::kNoisePred;
  absl::StatusOr<ElboTerms> b =
      DsmElbo(*diffusion, noise_net, x, options, Gen(2));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(at::allclose(a->elbo, b->elbo, 1e-10, 1e-8));
  EXPECT_TRUE(at::allclose(a->offset, b->offset, 1e-10, 1e-8));
  EXPECT_TRUE(at::allclose(a->elbo_with_offset, a->elbo + a->offset));
}

// The offset's Monte-Carlo mean against its closed form for the score
// s = -c S^{-1} u_eps (c = 1/2, so the offset is far from 0): with
// u_eps = M u_0 + L e,
//   e + L^T s = P e - C u_0,  P = I - c L^T S^{-1} L,  C = c L^T S^{-1} M,
// so per coordinate E offset = -1/2 [tr(P^T P) + mu_0^T C^T C mu_0 +
// tr(C^T C Sigma_0)] + K/2 + B tr(A), with v_0 ~ N(0, Sigma_0) drawn inside.
TEST(ElboTest, OffsetMatchesItsClosedForm) {
  const Diffusion diffusion = Make("sde_type: CLD", 1.0, 1.0);
  const double t_min = 0.05, x0 = 0.7, c = 0.5;
  absl::StatusOr<sde::TransitionKernel> k =
      diffusion->Kernel(at::full({1}, t_min, at::kDouble), KernelType::kFull);
  ASSERT_TRUE(k.ok());
  const at::Tensor L = k->chol[0], M = k->mean_coef[0];
  const at::Tensor S_inv = at::diag(1.0 / diffusion->stationary_var());
  const at::Tensor P =
      at::eye(2, at::kDouble) - c * at::matmul(L.t(), at::matmul(S_inv, L));
  const at::Tensor C = c * at::matmul(L.t(), at::matmul(S_inv, M));
  const at::Tensor CtC = at::matmul(C.t(), C);
  const at::Tensor mu0 = at::tensor({x0, 0.0}, at::kDouble);
  const double B = diffusion->options().schedule().IntegratedBeta(t_min);
  const double expected =
      -0.5 * ((P * P).sum().item<double>() +
              at::dot(mu0, at::matmul(CtC, mu0)).item<double>() +
              (CtC * diffusion->InitialCov(KernelType::kHybrid))
                  .sum()
                  .item<double>()) +
      1.0 + B * sde::Trace(diffusion->Sde().A()).item<double>();

  ElboOptions options;
  options.t_min = t_min;
  options.with_offset = true;
  options.parameterization = Parameterization::kScorePred;
  const at::Tensor x = at::full({200000, 1}, x0, at::kDouble);
  absl::StatusOr<ElboTerms> terms =
      DsmElbo(*diffusion, ExactScore(diffusion, c), x, options, Gen(3));
  ASSERT_TRUE(terms.ok());
  const Estimate e = Summarize({terms->offset - expected});
  EXPECT_LT(std::abs(e.mean), 4 * e.standard_error)
      << "offset mean " << expected + e.mean << " vs " << expected;
  EXPECT_GT(std::abs(expected), 20 * e.standard_error) << expected;
}

// A small fixed MLP, smooth and far from any exact score.
ScoreNetwork FixedMlp(int64_t K, int64_t d) {
  at::Generator gen = Gen(42);
  const int64_t in = K * d + 1, hidden = 16;
  const at::Tensor W1 =
      at::randn({in, hidden}, gen, at::kDouble) / std::sqrt(in);
  const at::Tensor b1 = at::randn({hidden}, gen, at::kDouble) * 0.1;
  const at::Tensor W2 =
      at::randn({hidden, K * d}, gen, at::kDouble) / std::sqrt(hidden);
  return [=](const at::Tensor& u, const at::Tensor& t) {
    const at::Tensor input =
        at::cat({u.flatten(1), t.view({-1, 1}).to(u.dtype())}, 1);
    return at::matmul(at::tanh(at::matmul(input, W1) + b1), W2)
               .view(u.sizes()) -
           0.5 * u;
  };
}

// DSM and ISM are two estimators of one bound: for any score model their
// expectations agree (integration by parts), here within 4 standard errors
// of the difference.
TEST(ElboTest, DsmAndIsmAgreeForAFixedNetwork) {
  const Diffusion diffusion = Make("sde_type: LEARNED n_vars: 2", 1.0, 0.5);
  const ScoreNetwork network = FixedMlp(2, 2);
  const at::Tensor x =
      at::randn({1, 2}, Gen(9), at::kDouble).expand({400000, 2});
  ElboOptions options;
  options.parameterization = Parameterization::kScorePred;
  options.t_min = 0.01;
  absl::StatusOr<ElboTerms> dsm =
      DsmElbo(*diffusion, network, x, options, Gen(1));
  options.divergence = DivergenceEstimator::kExact;
  absl::StatusOr<ElboTerms> ism =
      IsmElbo(*diffusion, network, x, options, Gen(2));
  ASSERT_TRUE(dsm.ok() && ism.ok());
  const Estimate a = Summarize({dsm->elbo}), b = Summarize({ism->elbo});
  const double se = std::hypot(a.standard_error, b.standard_error);
  EXPECT_LT(std::abs(a.mean - b.mean), 4 * se)
      << "DSM " << a.mean << " ISM " << b.mean << " se " << se;
  EXPECT_LT(se, 0.06);
  // Hutchinson's estimator with Gaussian probes has the same mean.
  options.divergence = DivergenceEstimator::kGaussian;
  options.hutchinson_probes = 2;
  absl::StatusOr<ElboTerms> hutchinson =
      IsmElbo(*diffusion, network, x, options, Gen(3));
  ASSERT_TRUE(hutchinson.ok());
  const Estimate c = Summarize({hutchinson->elbo});
  EXPECT_LT(std::abs(c.mean - b.mean),
            4 * std::hypot(c.standard_error, b.standard_error))
      << "Hutchinson " << c.mean << " exact " << b.mean;
  // Not the exact score: the bound is well below the stationary value.
  EXPECT_LT(a.mean, -1.0);
}

// Gradients of the DSM loss w.r.t. a learned diffusion's W and d against
// float64 central differences with the noise held fixed (same seed).
TEST(ElboTest, LossGradientMatchesFiniteDifferences) {
  const Diffusion diffusion = Make("sde_type: LEARNED n_vars: 3", 1.0, 1.0);
  const ScoreNetwork network = FixedMlp(3, 2);
  const at::Tensor x = at::randn({8, 2}, Gen(4), at::kDouble);
  ElboOptions options;
  options.with_offset = true;
  auto loss = [&] {
    absl::StatusOr<ElboTerms> terms =
        DsmElbo(*diffusion, network, x, options, Gen(5));
    TORCH_CHECK(terms.ok());
    return -terms->elbo_with_offset.mean();
  };
  loss().backward();
  const double h = 1e-6;
  for (const auto& named : diffusion->named_parameters()) {
    at::Tensor p = named.value();
    const at::Tensor grad = p.grad().clone();
    EXPECT_GT(grad.abs().max().item<double>(), 1e-4) << named.key();
    at::NoGradGuard no_grad;
    for (int64_t i = 0; i < p.numel(); ++i) {
      at::Tensor flat = p.view({-1});
      const double original = flat[i].item<double>();
      flat[i] = original + h;
      const double plus = loss().item<double>();
      flat[i] = original - h;
      const double minus = loss().item<double>();
      flat[i] = original;
      const double fd = (plus - minus) / (2 * h);
      EXPECT_NEAR(grad.view({-1})[i].item<double>(), fd,
                  1e-5 * (1 + std::abs(fd)))
          << named.key() << "[" << i << "]";
    }
  }
}

// original_integral_factor scales only the time integral, by the
// original's (1 - t_min) for importance-sampled t and (1 - t_min) /
// (T - t_min) for uniform t; the same draws otherwise.
TEST(ElboTest, OriginalIntegralFactorScalesTheIntegralAlone) {
  const Diffusion diffusion = Make("sde_type: CLD t_max: 0.8", 1.0, 1.0);
  const at::Tensor x = at::randn({16, 3}, Gen(1)).to(at::kDouble);
  for (bool importance : {true, false}) {
    ElboOptions options;
    options.t_min = 0.01;
    options.importance_sampling = importance;
    options.parameterization = Parameterization::kScorePred;
    absl::StatusOr<ElboTerms> exact =
        DsmElbo(*diffusion, ExactScore(diffusion, 0.9), x, options, Gen(2));
    options.original_integral_factor = true;
    absl::StatusOr<ElboTerms> original =
        DsmElbo(*diffusion, ExactScore(diffusion, 0.9), x, options, Gen(2));
    ASSERT_TRUE(exact.ok() && original.ok());
    const double factor = importance ? 0.99 : 0.99 / 0.79;
    EXPECT_TRUE(at::allclose(original->diffusion, factor * exact->diffusion,
                             1e-14, 0));
    EXPECT_TRUE(at::equal(original->prior, exact->prior));
    EXPECT_GT((original->diffusion - exact->diffusion).abs().min().item<double>(),
              1e-6);
  }
}

}  // namespace
}  // namespace mdm::objectives
