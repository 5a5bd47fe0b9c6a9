// The linear SDE of a multivariate diffusion and its Gaussian transition
// kernel (docs/math.md sections 1 and 2):
//   du = beta(t) A u dt + sqrt(2 beta(t) D) dW,   A = -(Q + D) S^{-1},
// with the same KxK matrices acting on every data coordinate. The kernel
// is computed once per distinct time in float64, whatever the data dtype,
// and is differentiable w.r.t. Q and D so they can be learned.
#ifndef MDM_SDE_LINEAR_SDE_H_
#define MDM_SDE_LINEAR_SDE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "mdm/sde/cholesky.h"
#include "mdm/sde/schedule.h"

namespace mdm::sde {

// A = -(Q + D) S^{-1} for Q, D [..., K, K] and the diagonal of S, [K].
at::Tensor DriftMatrix(const at::Tensor& Q, const at::Tensor& D,
                       const at::Tensor& stationary_var);

// Diagonal of S: (x_var, aux_var, ..., aux_var), [K] float64.
at::Tensor StationaryVariances(int64_t num_vars, double x_var, double aux_var);

// Initial covariances Sigma_0 [K, K] float64 naming the two kernels:
// the full kernel q(u_t | u_0) conditions on all of u_0 (Sigma_0 = 0); the
// hybrid kernel q(u_t | x_0) integrates out v_0 ~ N(0, init_aux_var I)
// (Sigma_0 = diag(0, init_aux_var, ..., init_aux_var)).
at::Tensor FullInitialCov(int64_t num_vars);
at::Tensor HybridInitialCov(int64_t num_vars, double init_aux_var);

// Mean coefficient and covariance of the kernel at a batch of times.
struct KernelMoments {
  at::Tensor mean_coef;  // M(t) = exp(B(t) A): [batch, K, K].
  at::Tensor cov;        // Sigma(t): [batch, K, K], symmetric.
};

// How MatrixFractionMoments and MatrixExponentials square their Taylor
// results back: kAuto fuses each time's squarings into one autograd node
// with a hand-written backward on the CPU and uses batched operations on
// other devices; kBatchedOperations always uses the latter (a test
// compares the two).
enum class SquaringPath { kAuto, kBatchedOperations };

// Moments for integrated schedule values `int_beta` ([batch]) by the
// matrix-fraction (Van Loan) method: with block = [[A, 2D], [0, -A^T]],
//   Phi = exp(B block),  M = Phi_11,  Sigma_F = Phi_12 M^T,
//   Sigma = M Sigma_0 M^T + Sigma_F,
// so no matrix is inverted. Each time's B is halved until the Taylor
// series of exp(h block) is exact to rounding, the powers of `block`
// shared by the whole batch, and its (M, Sigma_F) are doubled back,
// adding only positive semi-definite terms (see the .cc). All inputs are
// promoted to float64.
KernelMoments MatrixFractionMoments(const at::Tensor& A, const at::Tensor& D,
                                    const at::Tensor& int_beta,
                                    const at::Tensor& initial_cov,
                                    SquaringPath path = SquaringPath::kAuto);

// exp(B A) for a [K, K] A at a batch of B ([batch]): the same shared
// Taylor series and per-time squarings, differentiable in A (a time-binned
// process's later bins). float64, [batch, K, K].
at::Tensor MatrixExponentials(const at::Tensor& A, const at::Tensor& int_beta,
                              SquaringPath path = SquaringPath::kAuto);

// Everything a sampler or objective needs about q(u_t | .) at a batch of
// times, computed once per time and shared by every data coordinate.
struct TransitionKernel {
  at::Tensor mean_coef;   // M(t): [batch, K, K].
  at::Tensor cov;         // Sigma(t): [batch, K, K].
  at::Tensor chol;        // L, lower triangular, L L^T = Sigma + jitter I.
  at::Tensor chol_inv_t;  // L^{-T}: [batch, K, K], upper triangular.
  at::Tensor jitter;      // [batch] diagonal jitter added; 0 where none.
};

// The Cholesky factor (bounded jitter, SafeCholesky) and L^{-T} of kernel
// moments computed elsewhere (a time-binned process composes its own);
// `describe` names a failing covariance by its batch index.
absl::StatusOr<TransitionKernel> FactorizeKernel(
    KernelMoments moments, const CholeskyOptions& cholesky_options,
    absl::FunctionRef<std::string(int64_t)> describe);

// One linear SDE: Q [K, K] antisymmetric, D [K, K] symmetric PSD (neither is
// checked: constraints are built into the parameterizations that make
// them), the stationary variances and the schedule. Cheap to construct: a
// learned diffusion builds one per step from its current Q and D, and the
// kernel keeps their autograd history. Results are float64.
//
// Example:
//   LinearSde sde(Q, D, StationaryVariances(2, 1.0, 1.0),
//                 BetaSchedule::Linear(0.1, 10.0));
//   absl::StatusOr<TransitionKernel> k = sde.Kernel(t, HybridInitialCov(2,
//   0.01)); at::Tensor u_t = ApplyMatrix(k->mean_coef, u_0) +
//   ApplyMatrix(k->chol, eps);
class LinearSde {
 public:
  LinearSde(at::Tensor Q, at::Tensor D, at::Tensor stationary_var,
            BetaSchedule schedule);

  int64_t num_vars() const { return A_.size(-1); }
  const at::Tensor& Q() const { return Q_; }
  const at::Tensor& D() const { return D_; }
  const at::Tensor& A() const { return A_; }  // float64.
  const at::Tensor& stationary_var() const { return stationary_var_; }
  at::Tensor StationaryCov() const;  // S = diag(stationary_var).
  const BetaSchedule& schedule() const { return schedule_; }

  // Kernel moments at times t ([batch], any floating dtype).
  KernelMoments Moments(const at::Tensor& t,
                        const at::Tensor& initial_cov) const;

  // Moments plus the Cholesky factor and L^{-T}. Fails, naming t, Q and D,
  // if some Sigma(t) cannot be factorized even with the bounded jitter.
  absl::StatusOr<TransitionKernel> Kernel(
      const at::Tensor& t, const at::Tensor& initial_cov,
      const CholeskyOptions& cholesky_options = {}) const;

 private:
  at::Tensor Q_;
  at::Tensor D_;
  at::Tensor stationary_var_;
  BetaSchedule schedule_;
  at::Tensor A_;
  at::Tensor D64_;
};

}  // namespace mdm::sde

#endif  // MDM_SDE_LINEAR_SDE_H_
