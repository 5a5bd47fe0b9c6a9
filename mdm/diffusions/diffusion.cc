#include "mdm/diffusions/diffusion.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>
#include <vector>

#include "mdm/diffusions/fixed_qd.h"
#include "mdm/sde/block_ops.h"

namespace mdm::diffusions {
namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log(2 pi)

// Shape [1, K, 1, ..., 1] to broadcast a per-variable vector over a state.
at::Tensor PerVariable(const at::Tensor& v, const at::Tensor& state) {
  std::vector<int64_t> shape(state.dim(), 1);
  shape[1] = v.size(0);
  return v.to(state.options()).view(shape);
}

// [batch] -> [batch, 1, 1] in float64, for scaling [batch, K, K] matrices.
at::Tensor AsBatchScale(const at::Tensor& x) {
  return x.to(at::kDouble).view({-1, 1, 1});
}

// Times as float64 on the diffusion's device: samplers pass their grid's
// times as CPU tensors whatever device the state is on.
at::Tensor TimesOn(const at::Tensor& t, const at::Tensor& like) {
  return t.to(like.device(), at::kDouble);
}

}  // namespace

DiffusionImpl::DiffusionImpl(std::shared_ptr<QdParameterization> qd,
                             const DiffusionOptions& options)
    : qd_(register_module("qd", std::move(qd))), options_(options) {
  TORCH_CHECK(
      options.stationary_x_var() > 0 && options.stationary_aux_var() > 0,
      "stationary variances must be positive");
  TORCH_CHECK(options.init_aux_var() > 0, "init_aux_var must be positive");
  TORCH_CHECK(options.t_max() > 0, "t_max must be positive");
  stationary_var_ = register_buffer(
      "stationary_var",
      sde::StationaryVariances(num_vars(), options.stationary_x_var(),
                               options.stationary_aux_var())
          .to(qd_->Q().device()));
}

DiffusionImpl::DiffusionImpl(const at::Tensor& Q, const at::Tensor& D,
                             const DiffusionOptions& options)
    : DiffusionImpl(FixedQd(Q, D).ptr(), options) {}

sde::LinearSde DiffusionImpl::Sde() const {
  return sde::LinearSde(Q(), D(), stationary_var_, options_.schedule());
}

at::Tensor DiffusionImpl::StationaryCov() const {
  return at::diag(stationary_var_);
}

at::Tensor DiffusionImpl::InitialCov(KernelType type) const {
  const at::Tensor cov =
      type == KernelType::kFull
          ? sde::FullInitialCov(num_vars())
          : sde::HybridInitialCov(num_vars(), options_.init_aux_var());
  return cov.to(stationary_var_.device());
}

absl::StatusOr<sde::TransitionKernel> DiffusionImpl::Kernel(
    const at::Tensor& t, KernelType type) const {
  return Sde().Kernel(t, InitialCov(type));
}

absl::StatusOr<sde::TransitionKernel> DiffusionImpl::KernelAtTime(
    double t, KernelType type) const {
  absl::StatusOr<sde::TransitionKernel> kernel =
      Kernel(at::full({1}, t, stationary_var_.options()), type);
  if (!kernel.ok()) return kernel.status();
  return sde::TransitionKernel{.mean_coef = kernel->mean_coef[0],
                               .cov = kernel->cov[0],
                               .chol = kernel->chol[0],
                               .chol_inv_t = kernel->chol_inv_t[0],
                               .jitter = kernel->jitter[0]};
}

at::Tensor DiffusionImpl::TransitionMean(const sde::TransitionKernel& kernel,
                                         const at::Tensor& u_0,
                                         KernelType type) const {
  if (type == KernelType::kFull || num_vars() == 1) {
    return sde::ApplyMatrix(kernel.mean_coef, u_0);
  }
  // M (x_0, 0, ..., 0) = M[:, 0] x_0: M's first column times the data.
  std::vector<int64_t> shape(u_0.dim(), 1);
  shape[1] = num_vars();
  const at::Tensor& M = kernel.mean_coef;
  if (M.dim() == 3) shape[0] = M.size(0);
  return M.select(-1, 0).to(u_0.options()).view(shape) * u_0.narrow(1, 0, 1);
}

absl::StatusOr<TransitionSample> DiffusionImpl::SampleTransition(
    const at::Tensor& u_0, const at::Tensor& t, KernelType type,
    c10::optional<at::Generator> gen) const {
  TORCH_CHECK(u_0.dim() >= 2 && u_0.size(1) == num_vars(),
              "u_0 must be [batch, K = ", num_vars(), ", ...data], got ",
              u_0.sizes());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == u_0.size(0),
              "t must be [batch = ", u_0.size(0), "], got ", t.sizes());
  absl::StatusOr<sde::TransitionKernel> kernel = Kernel(t, type);
  if (!kernel.ok()) return kernel.status();
  at::Tensor eps = at::randn(u_0.sizes(), gen, u_0.options());
  at::Tensor u_t =
      TransitionMean(*kernel, u_0, type) + sde::ApplyMatrix(kernel->chol, eps);
  return TransitionSample{.u_t = std::move(u_t),
                          .eps = std::move(eps),
                          .kernel = *std::move(kernel)};
}

at::Tensor DiffusionImpl::PriorLogProb(const at::Tensor& u) const {
  TORCH_CHECK(u.dim() >= 2 && u.size(1) == num_vars(),
              "a state must be [batch, K = ", num_vars(), ", ...data], got ",
              u.sizes());
  const int64_t d = sde::DataDim(u);
  const at::Tensor var = PerVariable(stationary_var_, u);
  const at::Tensor log_norm =
      (-0.5 * d) * (num_vars() * kLog2Pi + at::log(stationary_var_).sum());
  return -0.5 * (u * u / var).flatten(1).sum(1) + log_norm.to(u.dtype());
}

at::Tensor DiffusionImpl::SamplePrior(at::IntArrayRef state_shape,
                                      const at::TensorOptions& options,
                                      c10::optional<at::Generator> gen) const {
  TORCH_CHECK(state_shape.size() >= 2 && state_shape[1] == num_vars(),
              "state_shape must be [batch, K = ", num_vars(),
              ", ...data], got ", state_shape);
  const at::Tensor eps = at::randn(state_shape, gen, options);
  return eps * at::sqrt(PerVariable(stationary_var_, eps));
}

at::Tensor DiffusionImpl::LogQV0(const at::Tensor& v_0) const {
  TORCH_CHECK(v_0.dim() >= 2 && v_0.size(1) == num_vars() - 1,
              "v_0 must be [batch, K-1 = ", num_vars() - 1, ", ...data], got ",
              v_0.sizes());
  const double var = options_.init_aux_var();
  const int64_t n = v_0.numel() / std::max<int64_t>(v_0.size(0), 1);
  return -0.5 * (v_0 * v_0).flatten(1).sum(1) / var -
         0.5 * n * (kLog2Pi + std::log(var));
}

at::Tensor DiffusionImpl::SampleV0(const at::Tensor& x_0,
                                   c10::optional<at::Generator> gen) const {
  std::vector<int64_t> shape = x_0.sizes().vec();
  shape.insert(shape.begin() + 1, num_vars() - 1);
  return std::sqrt(options_.init_aux_var()) *
         at::randn(shape, gen, x_0.options());
}

at::Tensor DiffusionImpl::JoinState(const at::Tensor& x_0,
                                    const at::Tensor& v_0) {
  return at::cat({x_0.unsqueeze(1), v_0.to(x_0.dtype())}, 1);
}

at::Tensor DiffusionImpl::Drift(const at::Tensor& u,
                                const at::Tensor& t) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  return sde::ApplyMatrix(AsBatchScale(beta) * Sde().A(), u);
}

at::Tensor DiffusionImpl::DriftDivergence(const at::Tensor& t,
                                          int64_t data_dim) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  return beta * sde::Trace(Sde().A()) * static_cast<double>(data_dim);
}

at::Tensor DiffusionImpl::DiffusionMatrix(const at::Tensor& t) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  return AsBatchScale(2.0 * beta) * D().to(at::kDouble);
}

at::Tensor DiffusionImpl::DiffusionSqrt(const at::Tensor& t) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  const at::Tensor D64 = D().to(at::kDouble);
  at::Tensor sqrt_D;
  if (at::equal(D64, at::diag(D64.diagonal()))) {
    sqrt_D = at::diag(at::sqrt(D64.diagonal().clamp_min(0)));
  } else {
    auto [eigenvalues, V] = at::linalg_eigh(D64);
    sqrt_D = at::matmul(V * at::sqrt(eigenvalues.clamp_min(0)), V.t());
  }
  return AsBatchScale(at::sqrt(2.0 * beta)) * sqrt_D;
}

}  // namespace mdm::diffusions
