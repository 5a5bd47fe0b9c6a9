#include "mdm/objectives/time_sampling.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "mdm/testing/random_matrices.h"

namespace mdm::objectives {
namespace {

using ::mdm::testing::MakeGenerator;

// Composite Simpson's rule on [a, b] with n (even) intervals.
template <typename F>
double Simpson(F f, double a, double b, int n) {
  const double h = (b - a) / n;
  double sum = f(a) + f(b);
  for (int i = 1; i < n; ++i) sum += (i % 2 ? 4 : 2) * f(a + i * h);
  return sum * h / 3;
}

double DensityAt(const TimeSampler& sampler, double t) {
  return sampler.Density(at::full({1}, t, at::kDouble)).item<double>();
}

// Kolmogorov-Smirnov statistic of sorted draws against a CDF.
template <typename Cdf>
double KsStatistic(at::Tensor draws, Cdf cdf) {
  draws = std::get<0>(draws.sort());
  const int64_t n = draws.size(0);
  double d = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double F = cdf(draws[i].item<double>());
    d = std::max({d, std::abs(F - static_cast<double>(i) / n),
                  std::abs(F - static_cast<double>(i + 1) / n)});
  }
  return d;
}

TEST(ImportanceTimeSamplerTest, DensityIsNormalizedAndMatchesTheFormula) {
  const sde::BetaSchedule schedule = sde::BetaSchedule::Linear(0.1, 10.0);
  const ImportanceTimeSampler sampler(schedule, 1e-3, 1.0);
  // p(t) = beta / (1 - e^{-B}) / (R(T) - R(t_min)).
  const double t = 0.3, B = schedule.IntegratedBeta(t);
  const double R_T = std::log(std::expm1(schedule.IntegratedBeta(1.0)));
  const double R_min = std::log(std::expm1(schedule.IntegratedBeta(1e-3)));
  EXPECT_NEAR(DensityAt(sampler, t),
              schedule.Beta(t) / -std::expm1(-B) / (R_T - R_min), 1e-12);
  // The density is steep near t_min: integrate on a log scale.
  const double total = Simpson(
      [&](double s) {
        const double u = std::exp(s);
        return DensityAt(sampler, u) * u;
      },
      std::log(1e-3), 0.0, 2000);
  EXPECT_NEAR(total, 1.0, 1e-9);
}

// The draws follow the density: a KS test at a fixed seed (the 0.1%
// critical value is 1.95 / sqrt(n)).
TEST(ImportanceTimeSamplerTest, DrawsPassAKolmogorovSmirnovTest) {
  for (const sde::BetaSchedule& schedule :
       {sde::BetaSchedule::Linear(0.1, 10.0),
        sde::BetaSchedule::Constant(2.0)}) {
    const ImportanceTimeSampler sampler(schedule, 1e-3, 1.0);
    at::Generator gen = MakeGenerator(1);
    const TimeSample draws = sampler.Sample(20000, at::kDouble, gen);
    EXPECT_GE(draws.t.min().item<double>(), 1e-3);
    EXPECT_LE(draws.t.max().item<double>(), 1.0);
    const double R_min =
        sampler.Cdf(at::full({1}, 1e-3, at::kDouble)).item<double>();
    const double R_max =
        sampler.Cdf(at::full({1}, 1.0, at::kDouble)).item<double>();
    const double ks = KsStatistic(draws.t, [&](double t) {
      return (sampler.Cdf(at::full({1}, t, at::kDouble)).item<double>() -
              R_min) /
             (R_max - R_min);
    });
    EXPECT_LT(ks, 1.95 / std::sqrt(20000.0));
    // The density returned is the density at the draws.
    EXPECT_TRUE(at::allclose(draws.density, sampler.Density(draws.t)));
  }
}

// A wrong density would bias every estimator; the importance-sampled mean
// of f(t) / p(t) must match the quadrature of f.
TEST(ImportanceTimeSamplerTest, ImportanceSampledIntegralIsUnbiased) {
  const sde::BetaSchedule schedule = sde::BetaSchedule::Linear(0.1, 10.0);
  const ImportanceTimeSampler sampler(schedule, 1e-3, 1.0);
  // A VP-like integrand: beta / (1 - e^{-B}) times a smooth factor.
  auto f = [&](const at::Tensor& t) {
    const at::Tensor B = schedule.IntegratedBeta(t);
    return schedule.Beta(t) / (-at::expm1(-B)) * (1 + at::sin(3 * t));
  };
  const double exact = Simpson(
      [&](double s) {
        const double u = std::exp(s);
        return f(at::full({1}, u, at::kDouble)).item<double>() * u;
      },
      std::log(1e-3), 0.0, 4000);
  at::Generator gen = MakeGenerator(2);
  const TimeSample draws = sampler.Sample(200000, at::kDouble, gen);
  const at::Tensor terms = f(draws.t) / draws.density;
  const double mean = terms.mean().item<double>();
  const double se = terms.std().item<double>() / std::sqrt(200000.0);
  EXPECT_LT(std::abs(mean - exact), 4 * se) << mean << " vs " << exact;
  // Uniform draws estimate the same integral, with far more variance.
  const UniformTimeSampler uniform(1e-3, 1.0);
  const TimeSample u = uniform.Sample(200000, at::kDouble, gen);
  const at::Tensor u_terms = f(u.t) / u.density;
  const double u_se = u_terms.std().item<double>() / std::sqrt(200000.0);
  EXPECT_LT(std::abs(u_terms.mean().item<double>() - exact), 4 * u_se);
  EXPECT_GT(u_se, 5 * se);
}

TEST(UniformTimeSamplerTest, DrawsAreUniformWithConstantDensity) {
  const UniformTimeSampler sampler(0.2, 0.7);
  at::Generator gen = MakeGenerator(3);
  const TimeSample draws = sampler.Sample(20000, at::kDouble, gen);
  EXPECT_TRUE(at::allclose(draws.density, at::full({20000}, 2.0, at::kDouble)));
  EXPECT_LT(KsStatistic(draws.t, [](double t) { return (t - 0.2) / 0.5; }),
            1.95 / std::sqrt(20000.0));
}

// R(t) = log(e^B - 1) must stay finite where e^B overflows.
TEST(ImportanceTimeSamplerTest, CdfIsStableForLargeB) {
  const ImportanceTimeSampler sampler(sde::BetaSchedule::Linear(0.1, 2000.0),
                                      1e-3, 1.0);
  const at::Tensor R = sampler.Cdf(at::tensor({0.999, 1.0}, at::kDouble));
  EXPECT_TRUE(at::isfinite(R).all().item<bool>());
  EXPECT_NEAR(R[1].item<double>(), 0.1 + 0.5 * 1999.9, 1e-9);
}

// A peaked integrand the VP proposal tracks badly: most of its mass near
// t = 0.6.
at::Tensor Peaked(const sde::BetaSchedule& schedule, const at::Tensor& t) {
  const at::Tensor B = schedule.IntegratedBeta(t);
  return schedule.Beta(t) / (-at::expm1(-B)) *
         (0.05 + at::exp(-(t - 0.6).square() / (2 * 0.05 * 0.05)));
}

double PeakedIntegral(const sde::BetaSchedule& schedule) {
  return Simpson(
      [&](double s) {
        const double u = std::exp(s);
        return Peaked(schedule, at::full({1}, u, at::kDouble)).item<double>() *
               u;
      },
      std::log(1e-3), 0.0, 8000);
}

// Before any update the adaptive proposal is the VP proposal.
TEST(AdaptiveTimeSamplerTest, StartsAsTheVpProposal) {
  const sde::BetaSchedule schedule = sde::BetaSchedule::Linear(0.1, 10.0);
  AdaptiveTimeSampler adaptive(schedule, 1e-3, 1.0);
  const ImportanceTimeSampler vp(schedule, 1e-3, 1.0);
  const at::Tensor t = at::linspace(1e-3, 1.0, 101, at::kDouble);
  EXPECT_TRUE(at::allclose(adaptive->Density(t), vp.Density(t), 1e-12, 0));
}

// Fitted to a peaked integrand: still a normalized density whose draws
// follow it, an unbiased estimator, and a much smaller variance than the
// VP proposal's.
TEST(AdaptiveTimeSamplerTest, AdaptsUnbiasedlyAndCutsTheVariance) {
  const sde::BetaSchedule schedule = sde::BetaSchedule::Linear(0.1, 10.0);
  AdaptiveTimeSampler adaptive(schedule, 1e-3, 1.0,
                               AdaptiveTimeSamplerOptions{.bins = 20});
  at::Generator gen = MakeGenerator(4);
  for (int step = 0; step < 50; ++step) {
    const TimeSample draws = adaptive->Sample(512, at::kDouble, gen);
    adaptive->Observe(draws.t, Peaked(schedule, draws.t));
    adaptive->Update();
  }
  const at::Tensor masses = adaptive->Masses();
  EXPECT_NEAR(masses.sum().item<double>(), 1.0, 1e-12);
  EXPECT_GE(masses.min().item<double>(), 0.1 / 20 - 1e-15);  // vp_share.
  const double total = Simpson(
      [&](double s) {
        const double u = std::exp(s);
        return DensityAt(*adaptive, u) * u;
      },
      std::log(1e-3), 0.0, 20000);
  EXPECT_NEAR(total, 1.0, 1e-3);  // Piecewise: Simpson's error at the steps.

  const TimeSample draws = adaptive->Sample(100000, at::kDouble, gen);
  EXPECT_TRUE(at::allclose(draws.density, adaptive->Density(draws.t)));
  const at::Tensor terms = Peaked(schedule, draws.t) / draws.density;
  const double exact = PeakedIntegral(schedule);
  const double se = terms.std().item<double>() / std::sqrt(100000.0);
  EXPECT_LT(std::abs(terms.mean().item<double>() - exact), 4 * se);

  const ImportanceTimeSampler vp(schedule, 1e-3, 1.0);
  const TimeSample vp_draws = vp.Sample(100000, at::kDouble, gen);
  const at::Tensor vp_terms = Peaked(schedule, vp_draws.t) / vp_draws.density;
  EXPECT_LT(terms.var().item<double>(), 0.3 * vp_terms.var().item<double>())
      << "adaptive " << terms.var().item<double>() << " vs VP "
      << vp_terms.var().item<double>();
}

// Non-finite losses teach nothing; statistics are per-bin sums and counts
// (summed over ranks before Update) and survive a save through buffers.
TEST(AdaptiveTimeSamplerTest, PendingStatisticsAndState) {
  const sde::BetaSchedule schedule = sde::BetaSchedule::Linear(0.1, 10.0);
  AdaptiveTimeSampler adaptive(schedule, 1e-3, 1.0,
                               AdaptiveTimeSamplerOptions{.bins = 4});
  const at::Tensor t = at::tensor({0.5, 0.5, 0.5}, at::kDouble);
  adaptive->Observe(t, at::tensor({1.0, NAN, INFINITY}, at::kDouble));
  EXPECT_EQ(adaptive->pending()[1].sum().item<double>(), 1.0);
  EXPECT_TRUE(at::isfinite(adaptive->pending()).all().item<bool>());
  adaptive->Update();
  EXPECT_EQ(adaptive->pending().abs().sum().item<double>(), 0.0);
  const at::Tensor observed = adaptive->named_buffers()["observed"];
  EXPECT_EQ(observed.sum().item<double>(), 1.0);
  // One observed bin: the others weigh as it does, so still the VP.
  EXPECT_TRUE(at::allclose(adaptive->Masses(),
                           at::full({4}, 0.25, at::kDouble)));
}

}  // namespace
}  // namespace mdm::objectives
