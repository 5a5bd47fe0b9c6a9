// Every sampler against a data set whose scores are known exactly: a
// mixture of eight 2-D Gaussians, pushed through the diffusion's hybrid
// kernel, has Gaussian-mixture marginals with a closed-form score for any
// K, Q, D. So sampler error is measured apart from network error.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mdm/diffusions/factory.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sampling/euler_maruyama.h"
#include "mdm/sampling/exponential_integrator.h"
#include "mdm/sampling/probability_flow.h"
#include "mdm/sampling/sample.h"
#include "mdm/sampling/time_grid.h"
#include "mdm/sde/block_ops.h"
#include "mdm/testing/statistics.h"
#include "mdm/testing/textproto.h"

namespace mdm::sampling {
namespace {

using diffusions::Diffusion;
using diffusions::KernelType;

constexpr int64_t kComponents = 8;
constexpr double kRadius = 1.5;
constexpr double kStd = 0.1;

Diffusion Make(const std::string& config) {
  absl::StatusOr<Diffusion> d = diffusions::CreateDiffusion(
      testing::ParseTextProtoOrDie<proto::DiffusionConfig>(config), 7);
  TORCH_CHECK(d.ok());
  (*d)->to(at::kDouble);
  return *d;
}

at::Tensor Centers() {
  const at::Tensor angle =
      at::arange(kComponents, at::kDouble) * (2 * M_PI / kComponents);
  return kRadius * at::stack({angle.cos(), angle.sin()}, 1);  // [C, 2].
}

at::Tensor DataSamples(int64_t n, at::Generator gen) {
  const at::Tensor which = at::randint(kComponents, {n}, gen, at::kLong);
  return Centers().index_select(0, which) +
         kStd * at::randn({n, 2}, gen, at::kDouble);
}

// The exact score of the hybrid marginal at t: per component k and data
// coordinate j, u_j ~ N(M e_0 mu_kj, Sigma_hybrid + std^2 M e_0 e_0^T M^T).
ScoreFunction ExactScore(const diffusions::DiffusionImpl& diffusion) {
  return [&diffusion](const at::Tensor& u,
                      double t) -> absl::StatusOr<at::Tensor> {
    absl::StatusOr<sde::TransitionKernel> k =
        diffusion.KernelAtTime(t, KernelType::kHybrid);
    if (!k.ok()) return k.status();
    const at::Tensor m0 = k->mean_coef.select(1, 0);  // M e_0: [K].
    const at::Tensor cov = k->cov + kStd * kStd * at::outer(m0, m0);
    const at::Tensor precision = at::linalg_inv(cov);
    const at::Tensor means = Centers().unsqueeze(-1) * m0;  // [C, 2, K].
    const at::Tensor uj = u.transpose(1, 2);                // [B, 2, K].
    const at::Tensor diff = uj.unsqueeze(1) - means;        // [B, C, 2, K].
    const at::Tensor quad =
        (at::matmul(diff, precision) * diff).sum({2, 3});  // [B, C].
    const at::Tensor w = at::softmax(-0.5 * quad, 1);
    const at::Tensor mean = at::einsum("bc,cjk->bjk", {w, means});
    return -at::matmul(uj - mean, precision).transpose(1, 2);
  };
}

// The widths of the Gaussian kernels the MMD sums.
constexpr double kMmdWidths[] = {0.05, 0.1, 0.2};

// Squared maximum mean discrepancy (unbiased) between two 2-D samples,
// with a sum of Gaussian kernels of widths 0.05, 0.1 and 0.2: sensitive to
// the blur and the mass between modes that discretization error causes.
double Mmd2(const at::Tensor& a, const at::Tensor& b) {
  auto kernel_mean = [](const at::Tensor& x, const at::Tensor& y, bool same) {
    const at::Tensor d2 = at::cdist(x, y).square();
    at::Tensor k = at::zeros_like(d2);
    for (double width : kMmdWidths) k += at::exp(-d2 / (2 * width * width));
    const int64_t n = x.size(0), m = y.size(0);
    if (!same) return k.sum().item<double>() / (n * m);
    return (k.sum() - k.diagonal().sum()).item<double>() / (n * (n - 1));
  };
  return kernel_mean(a, a, true) + kernel_mean(b, b, true) -
         2 * kernel_mean(a, b, false);
}

// Squared MMD (Mmd2's kernels) between a sample and the data law itself:
// what Mmd2 against fresh data estimates, with the data's expectations in
// closed form instead of drawn (a Gaussian kernel of width w against a
// component N(mu, s^2 I) in 2-D is w^2 / (w^2 + s^2) times a Gaussian in
// x - mu of variance w^2 + s^2). Only the sample's own term is estimated,
// so the comparison's noise is the sampler's alone.
double Mmd2ToData(const at::Tensor& a) {
  const at::Tensor centers = Centers();
  const int64_t n = a.size(0);
  const double s2 = kStd * kStd;
  double self = 0, cross = 0, data = 0;
  for (double width : kMmdWidths) {
    const double w2 = width * width;
    for (int64_t begin = 0; begin < n; begin += 2000) {
      const at::Tensor rows =
          a.narrow(0, begin, std::min<int64_t>(2000, n - begin));
      self +=
          at::exp(-at::cdist(rows, a).square() / (2 * w2)).sum().item<double>();
    }
    self -= n;  // The diagonal, k(a, a) = 1.
    const double v1 = w2 + s2, v2 = w2 + 2 * s2;
    cross += w2 / v1 *
             at::exp(-at::cdist(a, centers).square() / (2 * v1))
                 .mean()
                 .item<double>();
    data += w2 / v2 *
            at::exp(-at::cdist(centers, centers).square() / (2 * v2))
                .mean()
                .item<double>();
  }
  return self / (n * (n - 1.0)) - 2 * cross + data;
}

constexpr int64_t kSamples = 2000;

struct Errors {
  double em, expint_sde, expint_ode, rk4;
};

// Sample errors against fresh data at `steps` steps (rk4: steps / 4 steps,
// so every sampler makes `steps` score evaluations).
Errors Compare(const diffusions::DiffusionImpl& diffusion, int64_t steps,
               const at::Tensor& reference) {
  const ScoreFunction score = ExactScore(diffusion);
  const int64_t K = diffusion.num_vars();
  auto prior = [&] {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
    return diffusion.SamplePrior({kSamples, K, 2}, at::kDouble, gen);
  };
  const double t_min = 1e-3;
  const at::Tensor grid = MakeTimeGrid(TimeGridKind::kSqrt, steps, t_min, 1.0);
  auto error = [&](const absl::StatusOr<SamplerResult>& r) {
    TORCH_CHECK(r.ok(), r.status().ToString());
    return Mmd2(r->u.select(1, 0), reference);
  };
  Errors e;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(12);
  e.em = error(EulerMaruyama(diffusion, score, prior(), grid, gen));
  gen = at::make_generator<at::CPUGeneratorImpl>(12);
  e.expint_sde =
      error(ExponentialIntegrator(diffusion, score, prior(), grid, {}, gen));
  e.expint_ode = error(ExponentialIntegrator(diffusion, score, prior(), grid,
                                             {.stochastic = false}));
  ProbabilityFlowOptions rk4;
  rk4.solver = ProbabilityFlowOptions::Solver::kRk4;
  rk4.time_grid = MakeTimeGrid(TimeGridKind::kSqrt, steps / 4, t_min, 1.0);
  e.rk4 =
      error(ProbabilityFlowSample(diffusion, score, prior(), 1.0, t_min, rk4));
  return e;
}

void Record(const std::string& line) {
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (dir == nullptr) return;
  std::ofstream(std::string(dir) + "/sampler_errors.txt", std::ios::app)
      << line << "\n";
}

// The processes the sampler comparisons cover.
constexpr const char* kComparedProcesses[] = {
    "sde_type: CLD", "sde_type: VPSDE",
    "sde_type: LEARNED n_vars: 3 init_aux_var: 0.01"};

// Fresh data to measure samples against, and the MMD^2 between two
// independent data samples: the estimate's noise level.
struct Reference {
  at::Tensor data;
  double floor;
};

Reference MakeReference() {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  at::Tensor data = DataSamples(kSamples, gen);
  const double floor = Mmd2(DataSamples(kSamples, gen), data);
  return {data, floor};
}

// The data coordinate of n exponential-integrator samples at `steps` score
// evaluations on a `grid` from 1 to 1e-3, from the prior draw and noise of
// the two seeds.
at::Tensor ExpintSamples(const diffusions::DiffusionImpl& diffusion, int64_t n,
                         int64_t steps, TimeGridKind grid,
                         const ExponentialIntegratorOptions& options,
                         uint64_t prior_seed, uint64_t noise_seed) {
  at::Generator prior_gen =
      at::make_generator<at::CPUGeneratorImpl>(prior_seed);
  const at::Tensor u_T = diffusion.SamplePrior({n, diffusion.num_vars(), 2},
                                               at::kDouble, prior_gen);
  at::Generator noise_gen =
      at::make_generator<at::CPUGeneratorImpl>(noise_seed);
  absl::StatusOr<SamplerResult> r = ExponentialIntegrator(
      diffusion, ExactScore(diffusion), u_T,
      MakeTimeGrid(grid, steps, 1e-3, 1.0), options, noise_gen);
  TORCH_CHECK(r.ok(), r.status().ToString());
  TORCH_CHECK(r->score_evaluations == steps);
  return r->u.select(1, 0);
}

// The probability-flow ODE solved to convergence from the prior draw of
// seed 11 (the third-order form in t, 200 steps on the sqrt grid), and the
// median distance of samples from the same draw to it.
at::Tensor ConvergedOde(const diffusions::DiffusionImpl& diffusion) {
  return ExpintSamples(diffusion, kSamples, 200, TimeGridKind::kSqrt,
                       {.stochastic = false, .order = 3}, 11, 12);
}

double PathError(const at::Tensor& x, const at::Tensor& converged) {
  return (x - converged).norm(2, 1).median().item<double>();
}

// Mmd2ToData is what Mmd2 against fresh data estimates: on a blurred
// sample the two agree to within the fresh estimate's noise, and a sample
// of the data itself scores near zero against the law.
TEST(SamplersTest, Mmd2ToDataIsTheLimitOfFreshData) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(21);
  const at::Tensor blurred =
      DataSamples(4000, gen) + 0.05 * at::randn({4000, 2}, gen, at::kDouble);
  const double law = Mmd2ToData(blurred);
  const double fresh = Mmd2(blurred, DataSamples(8000, gen));
  const double itself = Mmd2ToData(DataSamples(4000, gen));
  std::cout << "MMD^2 of a blurred sample: to the law " << law
            << ", to fresh data " << fresh << "; of data to the law " << itself
            << "\n";
  EXPECT_NEAR(fresh, law, 0.15 * law);
  EXPECT_LT(std::abs(itself), 0.05 * law);
}

TEST(SamplersTest, ExponentialIntegratorBeatsEulerMaruyamaAtEqualEvaluations) {
  const auto [reference, floor] = MakeReference();
  // The table (in the test's outputs) covers three processes. For each, at
  // 24 evaluations the exponential integrator beats Euler-Maruyama and has
  // reached the data to within ten times the estimate's noise floor; for
  // CLD, whose fast Hamiltonian rotation is what first-order schemes handle
  // worst, it wins by a factor at both step counts, and its ODE form beats
  // RK4 by 4x.
  for (const char* config : kComparedProcesses) {
    const Diffusion diffusion = Make(config);
    for (int64_t steps : {12, 24}) {
      const Errors e = Compare(*diffusion, steps, reference);
      const std::string line = absl::StrCat(
          config, " | ", steps, " score evaluations | MMD^2: EM ", e.em,
          ", expint SDE ", e.expint_sde, ", expint ODE ", e.expint_ode,
          ", RK4 ODE ", e.rk4, " | two data samples ", floor);
      Record(line);
      std::cout << line << "\n";
      if (steps == 24) {
        EXPECT_LT(e.expint_sde, e.em) << line;
        EXPECT_LT(e.expint_sde, 10 * floor) << line;
      }
      if (std::string(config) == "sde_type: CLD") {
        EXPECT_LT(e.expint_sde, e.em / 2) << line;
        EXPECT_LT(e.expint_ode, e.rk4 / 4) << line;
      }
    }
  }
}

// The few-step sampler. At 10 score evaluations the third-order multistep
// exponential integrator reaches the data closer than the single-step one
// does at 20, on the same ODE, and within 3x the estimate's noise floor.
// Its distance to a converged ODE solution (same prior draws) shrinks at
// least 4x when the steps double, where the single-step integrator's
// halves (second- to third-order against first). (Against the SDE's
// expint at 20 this ODE form does not win for CLD: with 8,000 samples
// MMD^2 is 8.7e-4 for expint_ms at 10 and 1.0e-4 for expint at 20, noise
// ~2e-4; the table records expint at 20 for comparison. Keeping part of the
// noise does win: FewStepSamplersAtTenBeatTheSdeAtTwenty.)
TEST(SamplersTest, MultistepExponentialIntegratorAtTenEvaluationsBeatsTwenty) {
  const auto [reference, floor] = MakeReference();
  for (const char* config : kComparedProcesses) {
    const Diffusion diffusion = Make(config);
    // The multistep form in the process's variable, as Sample runs it.
    const MultistepVariable variable = MultistepVariableFor(*diffusion);
    auto sample = [&](int64_t steps, int order, bool stochastic) {
      return ExpintSamples(*diffusion, kSamples, steps, TimeGridKind::kSqrt,
                           {.stochastic = stochastic,
                            .order = order,
                            .multistep_variable = variable},
                           11, 12);
    };
    const at::Tensor converged = ConvergedOde(*diffusion);
    auto path_error = [&](const at::Tensor& x) {
      return PathError(x, converged);
    };
    const at::Tensor ms10 = sample(10, 3, false), ms20 = sample(20, 3, false);
    const at::Tensor ode10 = sample(10, 1, false), ode20 = sample(20, 1, false);
    const double ms10_mmd = Mmd2(ms10, reference);
    const double ode20_mmd = Mmd2(ode20, reference);
    const double sde20_mmd = Mmd2(sample(20, 1, true), reference);
    const std::string line = absl::StrCat(
        config, " | MMD^2: expint_ms@10 ", ms10_mmd, ", expint_ode@20 ",
        ode20_mmd, ", expint@20 ", sde20_mmd, " | two data samples ", floor,
        " | distance to the converged ODE: expint_ms@10 ", path_error(ms10),
        " @20 ", path_error(ms20), ", expint_ode@10 ", path_error(ode10),
        " @20 ", path_error(ode20));
    Record(line);
    std::cout << line << "\n";
    EXPECT_LT(ms10_mmd, ode20_mmd) << line;
    EXPECT_LT(ms10_mmd, 3 * floor) << line;
    EXPECT_GT(path_error(ms10), 4 * path_error(ms20)) << line;
    EXPECT_LT(path_error(ode10), 2.5 * path_error(ode20)) << line;
  }
}

TEST(SamplersTest, ExponentialIntegratorNeedsABoundedOrderAndNoiseFraction) {
  const Diffusion diffusion = Make("sde_type: CLD");
  const ScoreFunction score = ExactScore(*diffusion);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const at::Tensor u_T = diffusion->SamplePrior({4, 2, 2}, at::kDouble, gen);
  const at::Tensor grid = MakeTimeGrid(TimeGridKind::kSqrt, 5, 1e-3, 1.0);
  for (const ExponentialIntegratorOptions& bad :
       {ExponentialIntegratorOptions{.stochastic = false, .order = 5},
        ExponentialIntegratorOptions{.order = 0},
        ExponentialIntegratorOptions{.noise_fraction = 1.5},
        ExponentialIntegratorOptions{.noise_fraction = -0.1}}) {
    EXPECT_EQ(ExponentialIntegrator(*diffusion, score, u_T, grid, bad)
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument)
        << bad.order << " " << bad.noise_fraction;
  }
}

// Where the data coordinate is noised directly, the multistep polynomial
// in sqrt(t) extrapolates eps better than the one in t: at 10 evaluations
// on the sqrt grid the third-order ODE form lands closer to the converged
// ODE (same prior draws) on VPSDE and the learned K = 3 process.
TEST(SamplersTest, MultistepInSqrtTimeWhereTheDataIsNoisedDirectly) {
  for (const char* config :
       {"sde_type: VPSDE", "sde_type: LEARNED n_vars: 3 init_aux_var: 0.01"}) {
    const Diffusion diffusion = Make(config);
    auto sample = [&](int64_t steps, MultistepVariable variable) {
      return ExpintSamples(
          *diffusion, kSamples, steps, TimeGridKind::kSqrt,
          {.stochastic = false, .order = 3, .multistep_variable = variable}, 11,
          12);
    };
    // The reference is the form in t, converged: no head start for sqrt(t).
    const at::Tensor converged = ConvergedOde(*diffusion);
    const double in_t =
        PathError(sample(10, MultistepVariable::kTime), converged);
    const double in_sqrt_t =
        PathError(sample(10, MultistepVariable::kSqrtTime), converged);
    std::cout << config << " | distance to the converged ODE at 10: in t "
              << in_t << ", in sqrt(t) " << in_sqrt_t << "\n";
    // Measured: VPSDE 3.3e-3 against 6.7e-3, learned 1.3e-2 against 1.9e-2.
    EXPECT_LT(in_sqrt_t, 0.8 * in_t) << config;
  }
}

// The few-step samplers at 10 evaluations sample closer to the data than
// the SDE's exponential integrator at 20, on each of four fixed seeds
// (prior and noise) and by more than twice the standard error of the
// paired mean gain, measured by MMD^2 to the data law (Mmd2ToData, 16,000
// samples):
// on CLD, expint_ms_sde (order 2 keeping 80% of the SDE's noise, equal
// steps); on VPSDE and the learned K = 3 process, expint_ms (the ODE's
// third-order form, in sqrt(t) on the sqrt grid). Measured, per seed,
// few-step / SDE at 20 (x 1e-4):
// CLD 1.2 / 2.3, 1.7 / 2.8, 1.3 / 3.2, 0.8 / 3.1; VPSDE 1.0 / 1.9,
// 0.8 / 3.1, 0.2 / 1.3, 0.7 / 0.9; learned 0.8 / 2.8, 1.0 / 2.5,
// 1.2 / 2.7, 0.9 / 3.6. A sample of the data itself scores +-0.8 on this
// scale. (In t instead of sqrt(t), expint_ms ties with the SDE on VPSDE:
// 2.1-2.9 on the same seeds.)
TEST(SamplersTest, FewStepSamplersAtTenBeatTheSdeAtTwenty) {
  const int64_t n = 16000;
  struct FewStep {
    const char* config;
    TimeGridKind grid;
    ExponentialIntegratorOptions options;
  };
  const ExponentialIntegratorOptions ode3_in_sqrt_t = {
      .stochastic = false,
      .order = 3,
      .multistep_variable = MultistepVariable::kSqrtTime};
  for (const FewStep& few :
       {FewStep{"sde_type: CLD",
                TimeGridKind::kLinear,
                {.noise_fraction = 0.8, .order = 2}},
        FewStep{"sde_type: VPSDE", TimeGridKind::kSqrt, ode3_in_sqrt_t},
        FewStep{"sde_type: LEARNED n_vars: 3 init_aux_var: 0.01",
                TimeGridKind::kSqrt, ode3_in_sqrt_t}}) {
    const Diffusion diffusion = Make(few.config);
    auto mmd = [&](int64_t steps, TimeGridKind grid,
                   const ExponentialIntegratorOptions& options, int seed) {
      return Mmd2ToData(ExpintSamples(*diffusion, n, steps, grid, options,
                                      100 + seed, 200 + seed));
    };
    constexpr int kSeeds = 4;
    std::vector<double> gains;  // sde20 - few10, per seed.
    for (int seed = 0; seed < kSeeds; ++seed) {
      const double sde20 = mmd(20, TimeGridKind::kSqrt, {}, seed);
      const double few10 = mmd(10, few.grid, few.options, seed);
      const std::string line = absl::StrCat(
          few.config, " seed ", seed, " | MMD^2 to the data law: expint@20 ",
          sde20, ", few-step sampler @10 ", few10);
      Record(line);
      std::cout << line << "\n";
      EXPECT_LT(few10, sde20) << line;
      gains.push_back(sde20 - few10);
    }
    // Paired over the seeds: the mean gain is more than twice its standard
    // error (one-sided p < 0.07 under Student's t with 3 degrees of
    // freedom; measured 2.6, 5.4 and 6.9 standard errors for VPSDE, CLD and
    // the learned process).
    const at::Tensor g = at::tensor(gains, at::kDouble);
    const double mean = g.mean().item<double>();
    const double standard_error = g.std().item<double>() / std::sqrt(kSeeds);
    EXPECT_GT(mean, 2 * standard_error)
        << few.config << ": mean gain " << mean << ", standard error "
        << standard_error;
  }
}

ExponentialIntegratorOptions WithNoiseLastStep(
    ExponentialIntegratorOptions options) {
  options.noise_last_step = true;
  return options;
}

// Data drawn from the stationary law N(0, S) have the exact score -S^{-1} u
// at every time; the exponential integrator then solves the reverse
// dynamics exactly, so even three steps sample N(0, S).
TEST(SamplersTest, ExponentialIntegratorIsExactForTheStationaryLaw) {
  for (const char* config : {"sde_type: CLD init_aux_var: 0.25",
                             "sde_type: LEARNED n_vars: 3 init_aux_var: 1.0"}) {
    const Diffusion diffusion = Make(config);
    const at::Tensor S_inv = diffusion->StationaryCov().inverse();
    const ScoreFunction stationary = [&](const at::Tensor& u,
                                         double) -> absl::StatusOr<at::Tensor> {
      return -sde::ApplyMatrix(S_inv, u);
    };
    const int64_t K = diffusion->num_vars();
    // The SDE, the ODE, the ODE's multistep form and a multistep form that
    // keeps half of the SDE's noise.
    for (const ExponentialIntegratorOptions& options :
         {ExponentialIntegratorOptions{},
          ExponentialIntegratorOptions{.stochastic = false},
          ExponentialIntegratorOptions{.stochastic = false, .order = 3},
          ExponentialIntegratorOptions{.noise_fraction = 0.5, .order = 2}}) {
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
      const at::Tensor u_T =
          diffusion->SamplePrior({20000, K, 1}, at::kDouble, gen);
      absl::StatusOr<SamplerResult> r = ExponentialIntegrator(
          *diffusion, stationary, u_T,
          MakeTimeGrid(TimeGridKind::kLinear, 3, 1e-3, 1.0),
          WithNoiseLastStep(options), gen);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->score_evaluations, 3);
      EXPECT_TRUE(testing::MatchesGaussianMoments(r->u.squeeze(-1),
                                                  at::zeros({K}, at::kDouble),
                                                  diffusion->StationaryCov()))
          << config << (options.stochastic ? " noise fraction " : " ODE")
          << (options.stochastic ? options.noise_fraction : 0) << " order "
          << options.order;
    }
  }
}

// A learned K = 3 process with three time bins that differ.
Diffusion DistinctBins() {
  Diffusion diffusion =
      Make("sde_type: LEARNED n_vars: 3 init_aux_var: 0.01 time_bins: 3");
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(9);
  for (at::Tensor& p : diffusion->parameters())
    p.add_(0.5 * at::randn(p.sizes(), gen, p.options()));
  return diffusion;
}

// Every sampler crosses the bin boundaries of a time-binned process: with
// the stationary law's exact score the exponential integrator is exact in
// a few steps that straddle the boundaries (each step cut at them), and
// with the mixture's exact scores every ODE solver reaches the same
// samples as a tight adaptive solve that stops at the boundaries.
TEST(SamplersTest, SamplersCrossTheBinsOfATimeBinnedProcess) {
  const Diffusion diffusion = DistinctBins();
  ASSERT_EQ(diffusion->BinBoundaries().size(), 2u);
  {
    const at::Tensor S_inv = diffusion->StationaryCov().inverse();
    const ScoreFunction stationary = [&](const at::Tensor& u,
                                         double) -> absl::StatusOr<at::Tensor> {
      return -sde::ApplyMatrix(S_inv, u);
    };
    for (auto [stochastic, order] :
         {std::pair{true, 1}, std::pair{false, 1}, std::pair{false, 3}}) {
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
      const at::Tensor u_T =
          diffusion->SamplePrior({20000, 3, 1}, at::kDouble, gen);
      absl::StatusOr<SamplerResult> r = ExponentialIntegrator(
          *diffusion, stationary, u_T,
          MakeTimeGrid(TimeGridKind::kLinear, 2, 1e-3, 1.0),
          {.stochastic = stochastic, .order = order, .noise_last_step = true},
          gen);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(testing::MatchesGaussianMoments(r->u.squeeze(-1),
                                                  at::zeros({3}, at::kDouble),
                                                  diffusion->StationaryCov()))
          << (stochastic ? "SDE" : "ODE") << " order " << order;
    }
  }
  const ScoreFunction score = ExactScore(*diffusion);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor u_T = diffusion->SamplePrior({400, 3, 2}, at::kDouble, gen);
  ProbabilityFlowOptions tight;
  tight.adaptive.rtol = 1e-9;
  tight.adaptive.atol = 1e-9;
  absl::StatusOr<SamplerResult> reference =
      ProbabilityFlowSample(*diffusion, score, u_T, 1.0, 1e-3, tight);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto distance = [&](const absl::StatusOr<SamplerResult>& r) {
    TORCH_CHECK(r.ok(), r.status().ToString());
    return (r->u - reference->u).flatten(1).norm(2, 1).median().item<double>();
  };
  ProbabilityFlowOptions rk4;
  rk4.solver = ProbabilityFlowOptions::Solver::kRk4;
  rk4.time_grid = MakeTimeGrid(TimeGridKind::kSqrt, 100, 1e-3, 1.0);
  const double rk4_error =
      distance(ProbabilityFlowSample(*diffusion, score, u_T, 1.0, 1e-3, rk4));
  const at::Tensor grid = MakeTimeGrid(TimeGridKind::kSqrt, 100, 1e-3, 1.0);
  const double expint_error = distance(ExponentialIntegrator(
      *diffusion, score, u_T, grid, {.stochastic = false}));
  const double ms_error = distance(ExponentialIntegrator(
      *diffusion, score, u_T, grid, {.stochastic = false, .order = 3}));
  std::cout << "time bins: distance to the tight solve: rk4 " << rk4_error
            << ", expint_ode " << expint_error << ", expint_ms " << ms_error
            << "\n";
  EXPECT_LT(rk4_error, 1e-4);
  EXPECT_LT(expint_error, 1e-2);
  EXPECT_LT(ms_error, 1e-3);
}

// One vocabulary: the config's sampling_method values are the sampler
// names of ParseSamplerKind (and so of --sampler), in capitals, both ways.
TEST(SamplersTest, ConfigAndFlagsNameTheSameSamplers) {
  const auto* methods = proto::SamplingConfig::SamplingMethod_descriptor();
  int named = 0;
  for (int i = 0; i < methods->value_count(); ++i) {
    const auto* value = methods->value(i);
    if (value->number() == 0) continue;  // UNSPECIFIED.
    proto::Experiment experiment;
    experiment.mutable_sampling()->set_sampling_method(
        static_cast<proto::SamplingConfig::SamplingMethod>(value->number()));
    const SamplerKind kind = SampleOptionsFor(experiment).kind;
    EXPECT_EQ(SamplerName(kind), absl::AsciiStrToLower(value->name()));
    ++named;
  }
  for (const SamplerEntry& entry : kSamplers) {
    EXPECT_EQ(methods->FindValueByName(absl::AsciiStrToUpper(entry.name))
                  ->number(),
              entry.method)
        << entry.name;
    EXPECT_EQ(*ParseSamplerKind(entry.name), entry.kind);
  }
  EXPECT_EQ(named, 7);
  EXPECT_STREQ(SamplerNames(),
               "em, expint, expint_ode, expint_ms, expint_ms_sde, ode or rk4");
  EXPECT_EQ(ParseSamplerKind("heun").status().message(),
            "unknown sampler 'heun' (em, expint, expint_ode, expint_ms, "
            "expint_ms_sde, ode, rk4)");
}

// A sampler by name through Sample at 10 steps on `grid`, from seed 7, with
// the prior draw it started from and a generator where Sample's noise
// began: what a direct call needs to draw the same samples.
struct NamedDraw {
  at::Tensor u;
  at::Tensor u_T;
  at::Generator noise_gen;
};

NamedDraw SampleByName(const diffusions::DiffusionImpl& diffusion,
                       const std::string& name, at::IntArrayRef shape,
                       TimeGridKind grid) {
  SampleOptions options;
  options.kind = *ParseSamplerKind(name);
  options.steps = 10;
  options.grid = grid;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
  absl::StatusOr<SamplerResult> named = Sample(
      diffusion, ExactScore(diffusion), shape, at::kDouble, options, gen);
  TORCH_CHECK(named.ok(), named.status().ToString());
  TORCH_CHECK(named->score_evaluations == 10);
  at::Generator replay = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor u_T = diffusion.SamplePrior(shape, at::kDouble, replay);
  return {named->u, u_T, replay};
}

// expint_ms_sde is the second-order multistep form that keeps 80% of the
// SDE's noise: Sample draws what the direct call does, bit for bit.
TEST(SamplersTest, ExpintMsSdeNamesThePartlyStochasticSecondOrderForm) {
  const Diffusion diffusion = Make("sde_type: CLD");
  NamedDraw named = SampleByName(*diffusion, "expint_ms_sde", {50, 2, 2},
                                 TimeGridKind::kLinear);
  absl::StatusOr<SamplerResult> direct = ExponentialIntegrator(
      *diffusion, ExactScore(*diffusion), named.u_T,
      MakeTimeGrid(TimeGridKind::kLinear, 10, 1e-3, 1.0),
      {.noise_fraction = 0.8, .order = 2}, named.noise_gen);
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_TRUE(at::equal(named.u, direct->u));
}

// expint_ms extrapolates in sqrt(t) where the data coordinate is noised
// directly and in t on CLD: by name, Sample draws what the direct call in
// that variable does, bit for bit, and not what the other variable gives.
TEST(SamplersTest, ExpintMsExtrapolatesInTheProcesssVariable) {
  EXPECT_EQ(MultistepVariableFor(*Make("sde_type: CLD")),
            MultistepVariable::kTime);
  EXPECT_EQ(MultistepVariableFor(
                *Make("sde_type: LEARNED n_vars: 3 init_aux_var: 0.01")),
            MultistepVariable::kSqrtTime);
  const Diffusion diffusion = Make("sde_type: VPSDE");
  EXPECT_EQ(MultistepVariableFor(*diffusion), MultistepVariable::kSqrtTime);
  const NamedDraw named = SampleByName(*diffusion, "expint_ms", {50, 1, 2},
                                       TimeGridKind::kQuadratic);
  for (const MultistepVariable variable :
       {MultistepVariable::kSqrtTime, MultistepVariable::kTime}) {
    absl::StatusOr<SamplerResult> direct = ExponentialIntegrator(
        *diffusion, ExactScore(*diffusion), named.u_T,
        MakeTimeGrid(TimeGridKind::kQuadratic, 10, 1e-3, 1.0),
        {.stochastic = false, .order = 3, .multistep_variable = variable});
    ASSERT_TRUE(direct.ok()) << direct.status();
    EXPECT_EQ(at::equal(named.u, direct->u),
              variable == MultistepVariable::kSqrtTime);
  }
}

}  // namespace
}  // namespace mdm::sampling
