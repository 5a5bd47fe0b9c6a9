#include "mdm/testing/statistics.h"

#include <ATen/ATen.h>

#include <cmath>

namespace mdm::testing {

double TwoSidedZ(double failure_probability) {
  // P(|Z| > z) = erfc(z / sqrt(2)) is decreasing in z: bisect.
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erfc(mid / std::sqrt(2.0)) > failure_probability ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

::testing::AssertionResult MatchesGaussianMoments(const at::Tensor& samples,
                                                  const at::Tensor& mean,
                                                  const at::Tensor& cov,
                                                  double failure_probability) {
  const at::Tensor x = samples.to(at::kDouble).cpu();
  const at::Tensor mu = mean.to(at::kDouble).cpu();
  const at::Tensor sigma = cov.to(at::kDouble).cpu();
  const int64_t n = x.size(0), K = x.size(1);
  const int64_t num_checks = K + K * (K + 1) / 2;
  const double z = TwoSidedZ(failure_probability / num_checks);

  const at::Tensor centered = x - mu;
  const at::Tensor empirical_mean = centered.mean(0);
  const at::Tensor empirical_cov =
      at::matmul(centered.t(), centered) / static_cast<double>(n);
  auto failure = ::testing::AssertionFailure();
  bool ok = true;
  for (int64_t i = 0; i < K; ++i) {
    const double se = std::sqrt(sigma[i][i].item<double>() / n);
    const double error = empirical_mean[i].item<double>();
    if (std::abs(error) > z * se) {
      ok = false;
      failure << "mean[" << i << "] = " << (mu[i].item<double>() + error)
              << ", expected " << mu[i].item<double>() << " +- " << z * se
              << "\n";
    }
    for (int64_t j = 0; j <= i; ++j) {
      const double s_ij = sigma[i][j].item<double>();
      const double se_ij =
          std::sqrt((sigma[i][i].item<double>() * sigma[j][j].item<double>() +
                     s_ij * s_ij) /
                    n);
      const double got = empirical_cov[i][j].item<double>();
      if (std::abs(got - s_ij) > z * se_ij) {
        ok = false;
        failure << "cov[" << i << "][" << j << "] = " << got << ", expected "
                << s_ij << " +- " << z * se_ij << "\n";
      }
    }
  }
  if (ok) return ::testing::AssertionSuccess();
  return failure << "(z = " << z << " for failure probability "
                 << failure_probability << ", n = " << n << ")";
}

}  // namespace mdm::testing
