// A multivariate diffusion as data (docs/math.md sections 1-4): the K x K
// matrices Q and D (fixed or learned, from a QdParameterization), the
// stationary covariance S, the initial auxiliary variance, the time
// schedule, and everything the objectives and samplers ask of it: the
// transition kernel, transition sampling, prior and q(v_0) densities,
// drift, its divergence and G G^T.
//
// States are [batch, K, ...data] tensors; data are [batch, ...data].
#ifndef MDM_DIFFUSIONS_DIFFUSION_H_
#define MDM_DIFFUSIONS_DIFFUSION_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/diffusions/qd_parameterization.h"
#include "mdm/sde/linear_sde.h"
#include "mdm/sde/schedule.h"

namespace mdm::diffusions {

struct DiffusionOptions {
  // Variances of x and of each auxiliary variable under the stationary law
  // N(0, S): S = diag(stationary_x_var, stationary_aux_var, ...).
  TORCH_ARG(double, stationary_x_var) = 1.0;
  TORCH_ARG(double, stationary_aux_var) = 1.0;
  // v_0 ~ N(0, init_aux_var I).
  TORCH_ARG(double, init_aux_var) = 0.01;
  TORCH_ARG(sde::BetaSchedule, schedule) = sde::BetaSchedule::Linear(0.1, 10.0);
  // End time T.
  TORCH_ARG(double, t_max) = 1.0;
};

// Which initial covariance the transition kernel starts from.
enum class KernelType {
  kFull,    // q(u_t | u_0): Sigma_0 = 0.
  kHybrid,  // q(u_t | x_0): v_0 ~ N(0, init_aux_var I) integrated out.
};

// u_t drawn from a transition kernel, with the noise that made it.
struct TransitionSample {
  at::Tensor u_t;                // [batch, K, ...data].
  at::Tensor eps;                // [batch, K, ...data], u_t = M u_0 + L eps.
  sde::TransitionKernel kernel;  // At the batch's times, float64.
};

// Example (a new fixed process is two matrices; see mdm/examples/):
//   Diffusion cld(at::tensor({0.0, -1.0, 1.0, 0.0}).view({2, 2}),
//                 at::diag(at::tensor({0.0, 2.0})), DiffusionOptions());
//   absl::StatusOr<TransitionSample> s =
//       cld->SampleTransition(u_0, t, KernelType::kHybrid);
class DiffusionImpl : public torch::nn::Module {
 public:
  // A diffusion with the given Q/D parameterization, registered as the
  // submodule "qd" (its parameters are this module's parameters).
  DiffusionImpl(std::shared_ptr<QdParameterization> qd,
                const DiffusionOptions& options);
  // A fixed process from its two matrices.
  DiffusionImpl(const at::Tensor& Q, const at::Tensor& D,
                const DiffusionOptions& options);

  int64_t num_vars() const { return qd_->num_vars(); }
  bool learned() const { return qd_->learned(); }
  const DiffusionOptions& options() const { return options_; }
  const QdParameterization& qd() const { return *qd_; }

  // Q and D [K, K] of a process with one time bin (an error otherwise).
  at::Tensor Q() const { return qd_->Q(); }
  at::Tensor D() const { return qd_->D(); }
  // The linear SDE with the current Q and D (cheap; keeps autograd
  // history), for a process with one time bin.
  sde::LinearSde Sde() const;

  // Time bins: Q and D are piecewise constant over time_bins() = N equal
  // bins of B(t). Bin k holds the times with B(t) in (k w, (k + 1) w],
  // w = B(t_max) / N (t = 0 is in bin 0; times past t_max in the last).
  int64_t time_bins() const { return qd_->time_bins(); }
  // Every bin's Q and D: [N, K, K] (N = 1 included).
  at::Tensor BinnedQ() const;
  at::Tensor BinnedD() const;
  // The linear SDE of one bin.
  sde::LinearSde BinSde(int64_t bin) const;
  // The bin of each time: t [batch] (any device) -> [batch] int64 on the
  // diffusion's device; and of one time.
  at::Tensor BinOf(const at::Tensor& t) const;
  int64_t BinOf(double t) const;
  // The N - 1 times where Q and D change, increasing (B(t) = k w).
  std::vector<double> BinBoundaries() const;
  // int_0^t beta(s) tr(A(s)) ds = log |det M(t)|: a float64 scalar with
  // autograd history.
  at::Tensor IntegratedDriftTrace(double t) const;
  // diag(S) [K] and S [K, K], float64.
  const at::Tensor& stationary_var() const { return stationary_var_; }
  at::Tensor StationaryCov() const;
  // Sigma_0 [K, K] float64 of the kernel type.
  at::Tensor InitialCov(KernelType type) const;

  // The kernel's moments at times t [batch]: M and Sigma, float64. With
  // time bins, M is the product of the bins' exponentials exp(tau_k A_k)
  // over the stretch tau_k of B(t) each bin covers, and, since N(0, S) is
  // stationary in every bin, Sigma = S + Phi (Sigma(b_1) - S) Phi^T past
  // the first bin boundary b_1 (Phi the product past it); the first bin is
  // the one-bin kernel (accurate at small t).
  sde::KernelMoments Moments(const at::Tensor& t, KernelType type) const;

  // The kernel at times t [batch]: M, Sigma, L, L^{-T}, float64.
  absl::StatusOr<sde::TransitionKernel> Kernel(const at::Tensor& t,
                                               KernelType type) const;

  // The kernel at one time t, as [K, K] matrices shared by a whole batch
  // (ApplyMatrix broadcasts them): for a fixed t or a sampler's step.
  absl::StatusOr<sde::TransitionKernel> KernelAtTime(double t,
                                                     KernelType type) const;

  // M u_0' with u_0' = u_0 for kFull and u_0' = (x_0, 0, ..., 0) for
  // kHybrid, for a kernel of this diffusion (M [batch, K, K] or, from
  // KernelAtTime, [K, K]): shaped like u_0 [batch, K, ...data], in its
  // dtype. The hybrid mean is an outer product M e_1 x_0, no matrix
  // product over the state.
  at::Tensor TransitionMean(const sde::TransitionKernel& kernel,
                            const at::Tensor& u_0, KernelType type) const;

  // u_t = M u_0' + L eps, eps ~ N(0, I), with u_0' = u_0 for kFull and
  // u_0' = (x_0, 0, ..., 0) for kHybrid (v_0 integrated out; the caller's
  // u_0 is never modified). u_0: [batch, K, ...data]; t: [batch].
  absl::StatusOr<TransitionSample> SampleTransition(
      const at::Tensor& u_0, const at::Tensor& t, KernelType type,
      c10::optional<at::Generator> gen = c10::nullopt) const;

  // log N(u; 0, S) summed over variables and data: [batch].
  at::Tensor PriorLogProb(const at::Tensor& u) const;
  // u ~ N(0, S) of shape [batch, K, ...data] (`state_shape`).
  at::Tensor SamplePrior(at::IntArrayRef state_shape,
                         const at::TensorOptions& options,
                         c10::optional<at::Generator> gen = c10::nullopt) const;

  // log q(v_0) = log N(v_0; 0, init_aux_var I) summed: [batch], for v_0
  // [batch, K-1, ...data] (zero for K = 1).
  at::Tensor LogQV0(const at::Tensor& v_0) const;
  // v_0 ~ q(v_0) for data x_0 [batch, ...data]: [batch, K-1, ...data].
  at::Tensor SampleV0(const at::Tensor& x_0,
                      c10::optional<at::Generator> gen = c10::nullopt) const;
  // u_0 = (x_0, v_0): [batch, K, ...data].
  static at::Tensor JoinState(const at::Tensor& x_0, const at::Tensor& v_0);

  // The times t [batch] of these four may be on any device (samplers keep
  // their grids on the CPU); results are on the diffusion's. A and D are
  // those of each time's bin, or of `bin` for every time when given (for
  // integrators that stop at the bin boundaries and evaluate there).
  // f(u, t) = beta(t) A u: shaped like u.
  at::Tensor Drift(const at::Tensor& u, const at::Tensor& t,
                   c10::optional<int64_t> bin = c10::nullopt) const;
  // div_u f = beta(t) tr(A) d for d data coordinates: [batch] float64.
  at::Tensor DriftDivergence(const at::Tensor& t, int64_t data_dim,
                             c10::optional<int64_t> bin = c10::nullopt) const;
  // G G^T = 2 beta(t) D: [batch, K, K] float64.
  at::Tensor DiffusionMatrix(const at::Tensor& t,
                             c10::optional<int64_t> bin = c10::nullopt) const;
  // G = sqrt(2 beta(t) D), the symmetric square root: [batch, K, K]
  // float64 (elementwise for diagonal D).
  at::Tensor DiffusionSqrt(const at::Tensor& t,
                           c10::optional<int64_t> bin = c10::nullopt) const;

 private:
  // B(t_max) / N.
  double BinWidth() const;
  // Every bin's A [N, K, K], float64, on the diffusion's device.
  at::Tensor BinnedA() const;
  // Per-time [batch, K, K] matrices from per-bin ones [N, K, K].
  at::Tensor PerTime(const at::Tensor& binned, const at::Tensor& t,
                     c10::optional<int64_t> bin) const;

  std::shared_ptr<QdParameterization> qd_;
  DiffusionOptions options_;
  at::Tensor stationary_var_;  // Buffer [K], float64.
};
TORCH_MODULE(Diffusion);

}  // namespace mdm::diffusions

#endif  // MDM_DIFFUSIONS_DIFFUSION_H_
