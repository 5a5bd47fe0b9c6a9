// A learned Q/D parameterization (the paper's Learned-K): Q = W - W^T from
// an unconstrained K x K parameter W, and D = diag(softplus(d) + 1e-3) from
// a K-vector d; with d_full, the original's softplus(d d^T) + 1e-3
// (elementwise) from a K x K parameter d, or, with d_full_cholesky,
// D = L L^T + 1e-3 I from a lower-triangular L. Q and the diagonal and
// Cholesky forms of D keep their constraints for any parameter values, so
// any optimizer can train them jointly with the score network; the
// original's full form is symmetric always but positive semi-definite only
// near its initialization.
#ifndef MDM_DIFFUSIONS_LEARNED_QD_H_
#define MDM_DIFFUSIONS_LEARNED_QD_H_

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "mdm/diffusions/qd_parameterization.h"

namespace mdm::diffusions {

struct LearnedQdOptions {
  explicit LearnedQdOptions(int64_t num_vars) : num_vars_(num_vars) {}
  TORCH_ARG(int64_t, num_vars);
  // A full D: softplus(d d^T) + floor elementwise (the original's), or
  // with d_full_cholesky L L^T + floor I.
  TORCH_ARG(bool, d_full) = false;
  TORCH_ARG(bool, d_full_cholesky) = false;
  // Parameters start uniform in (-1/sqrt(K), 1/sqrt(K)), like a default
  // linear layer, drawn from a generator seeded with this.
  TORCH_ARG(uint64_t, seed) = 0;
  // Smallest eigenvalue of D, keeping the kernel non-degenerate.
  TORCH_ARG(double, d_floor) = 1e-3;
  TORCH_ARG(c10::ScalarType, dtype) = c10::kFloat;
};

class LearnedQdImpl : public QdParameterization {
 public:
  explicit LearnedQdImpl(const LearnedQdOptions& options);

  int64_t num_vars() const override { return options_.num_vars(); }
  bool learned() const override { return true; }
  at::Tensor Q() const override;
  at::Tensor D() const override;

  const LearnedQdOptions& options() const { return options_; }

 private:
  LearnedQdOptions options_;
  at::Tensor W_;      // [K, K]: Q = W - W^T.
  at::Tensor d_;      // [K] (diagonal D) or [K, K] (the original's full D),
  at::Tensor L_raw_;  // or [K, K] whose lower triangle is L (Cholesky D).
};
TORCH_MODULE(LearnedQd);

}  // namespace mdm::diffusions

#endif  // MDM_DIFFUSIONS_LEARNED_QD_H_
