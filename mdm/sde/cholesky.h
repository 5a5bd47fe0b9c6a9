// Cholesky factorization of batches of covariance matrices that may be
// numerically singular, with a bounded diagonal-jitter fallback.
// Kernels of processes without noise on x (CLD, ALDA, ...) have covariances
// whose smallest eigenvalue vanishes like t^3 as t -> 0 and can round to a
// tiny negative number; jitter is added only to the matrices that fail.
#ifndef MDM_SDE_CHOLESKY_H_
#define MDM_SDE_CHOLESKY_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace mdm::sde {

// The default way errors name a matrix: "covariance matrix <index>".
std::string DescribeByIndex(int64_t flat_batch_index);

struct CholeskyOptions {
  // Jitter added to a failing matrix's diagonal is this multiple of its mean
  // diagonal entry at first, then grows by `jitter_growth` per attempt up to
  // `max_relative_jitter`; past that the factorization is an error.
  double initial_relative_jitter = 1e-15;
  double max_relative_jitter = 1e-7;
  double jitter_growth = 10.0;
};

struct CholeskyFactor {
  at::Tensor
      chol;  // [..., K, K] lower triangular: chol chol^T = cov + jitter I.
  at::Tensor
      jitter;  // [...] absolute jitter added to each matrix; 0 where none.
  int64_t num_jittered = 0;  // How many matrices needed jitter.
};

// Factorizes every matrix of `cov` ([..., K, K], symmetric, any floating
// dtype). Differentiable w.r.t. `cov` (jitter is a constant). Fails with
// InvalidArgument when a matrix is not finite, has a non-positive mean
// diagonal, or is not positive definite even with the largest jitter; the
// message names the first such matrix by `describe(flat_batch_index)`.
absl::StatusOr<CholeskyFactor> SafeCholesky(
    const at::Tensor& cov, const CholeskyOptions& options = {},
    absl::FunctionRef<std::string(int64_t)> describe = DescribeByIndex);

}  // namespace mdm::sde

#endif  // MDM_SDE_CHOLESKY_H_
