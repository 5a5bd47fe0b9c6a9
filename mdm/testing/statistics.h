// Statistical checks for tests of samplers and kernels: z-tests of sample
// moments with tolerances derived from a stated failure probability (with a
// Bonferroni correction over all entries checked), at fixed seeds.
#ifndef MDM_TESTING_STATISTICS_H_
#define MDM_TESTING_STATISTICS_H_

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>

namespace mdm::testing {

// z such that P(|Z| > z) = failure_probability for Z ~ N(0, 1).
double TwoSidedZ(double failure_probability);

// Whether samples [n, K] have mean [K] and covariance [K, K] consistent with
// N(mean, cov): each mean entry within z sqrt(cov_ii / n), each covariance
// entry within z sqrt((cov_ii cov_jj + cov_ij^2) / n), where z makes the
// whole check fail with probability at most `failure_probability` when the
// samples do come from N(mean, cov).
::testing::AssertionResult MatchesGaussianMoments(
    const at::Tensor& samples, const at::Tensor& mean, const at::Tensor& cov,
    double failure_probability = 1e-6);

}  // namespace mdm::testing

#endif  // MDM_TESTING_STATISTICS_H_
