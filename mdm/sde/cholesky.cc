#include "mdm/sde/cholesky.h"

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/util/logging.h"

namespace mdm::sde {
namespace {

// Returns a [N] bool tensor: which matrices of `cov` ([N, K, K]) fail.
at::Tensor FailsToFactorize(const at::Tensor& cov) {
  return std::get<1>(at::linalg_cholesky_ex(cov)).ne(0);
}

}  // namespace

std::string DescribeByIndex(int64_t flat_batch_index) {
  return absl::StrCat("covariance matrix ", flat_batch_index);
}

absl::StatusOr<CholeskyFactor> SafeCholesky(
    const at::Tensor& cov, const CholeskyOptions& options,
    absl::FunctionRef<std::string(int64_t)> describe) {
  TORCH_CHECK(cov.dim() >= 2 && cov.size(-1) == cov.size(-2),
              "SafeCholesky expects [..., K, K], got ", cov.sizes());
  const int64_t K = cov.size(-1);
  const at::IntArrayRef batch_shape = cov.sizes().slice(0, cov.dim() - 2);

  // A jitter, when one is needed, is decided without autograd; the
  // factorization returned is differentiable.
  at::Tensor flat = cov.detach().reshape({-1, K, K});
  const int64_t n = flat.size(0);
  at::Tensor jitter = at::zeros({n}, flat.options());
  int64_t num_jittered = 0;

  // The factorization to return, tried first: most covariances need no
  // jitter, and then one read (one synchronization on an accelerator) of
  // whether any is not finite or failed is the whole check. LAPACK's potrf
  // may "succeed" on NaN input (OpenBLAS's does): finiteness is checked
  // from the input.
  auto [first, first_info] = at::linalg_cholesky_ex(cov);
  const at::Tensor not_finite = flat.isfinite().logical_not().flatten(1).any(1);
  const int64_t verdict = (not_finite.any().to(at::kLong) * 2 +
                           first_info.ne(0).any().to(at::kLong))
                              .item<int64_t>();
  if (verdict >= 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(describe(not_finite.nonzero()[0][0].item<int64_t>()),
                     " is not finite"));
  }
  if (verdict == 0) {
    return CholeskyFactor{
        .chol = first, .jitter = jitter.view(batch_shape), .num_jittered = 0};
  }

  at::Tensor failing = FailsToFactorize(flat).nonzero().flatten();
  if (failing.numel() > 0) {
    const at::Tensor scale =
        flat.index_select(0, failing).diagonal(0, -2, -1).mean(-1);
    const at::Tensor bad_scale = scale <= 0;
    if (bad_scale.any().item<bool>()) {
      return absl::InvalidArgumentError(absl::StrCat(
          describe(failing[bad_scale.nonzero()[0][0]].item<int64_t>()),
          " has a non-positive mean diagonal and cannot be factorized"));
    }
    const at::Tensor eye = at::eye(K, flat.options());
    at::Tensor pending = failing;  // Indices into `flat` still failing.
    for (double relative = options.initial_relative_jitter;
         relative <= options.max_relative_jitter * (1 + 1e-9) &&
         pending.numel() > 0;
         relative *= options.jitter_growth) {
      const at::Tensor candidates = flat.index_select(0, pending);
      const at::Tensor trial =
          relative * candidates.diagonal(0, -2, -1).mean(-1);
      const at::Tensor still_failing =
          FailsToFactorize(candidates + trial.view({-1, 1, 1}) * eye);
      const at::Tensor fixed = still_failing.logical_not();
      jitter.index_copy_(0, pending.masked_select(fixed),
                         trial.masked_select(fixed));
      pending = pending.masked_select(still_failing);
    }
    if (pending.numel() > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          describe(pending[0].item<int64_t>()),
          " is not positive definite even with jitter ",
          options.max_relative_jitter, " times its mean diagonal"));
    }
    num_jittered = failing.numel();
    LOG_FIRST_N(WARNING, 20)
        << "Cholesky: added diagonal jitter to " << num_jittered << " of " << n
        << " covariance matrices (largest " << jitter.max().item<double>()
        << ")";
  }

  at::Tensor jittered = cov;
  if (num_jittered > 0) {
    jittered =
        cov +
        jitter.to(cov.dtype()).view(batch_shape).unsqueeze(-1).unsqueeze(-1) *
            at::eye(K, cov.options());
  }
  auto [chol, info] = at::linalg_cholesky_ex(jittered);
  if (info.ne(0).any().item<bool>()) {
    // Cannot happen unless the factorization is not deterministic.
    return absl::InternalError(
        "Cholesky: a jittered covariance failed to factorize on the second "
        "attempt");
  }
  return CholeskyFactor{
      .chol = chol,
      .jitter = jitter.view(batch_shape),
      .num_jittered = num_jittered,
  };
}

}  // namespace mdm::sde
