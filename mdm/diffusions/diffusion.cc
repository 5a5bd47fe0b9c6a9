#include "mdm/diffusions/diffusion.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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
          .to(qd_->BinQ(0).device()));
}

DiffusionImpl::DiffusionImpl(const at::Tensor& Q, const at::Tensor& D,
                             const DiffusionOptions& options)
    : DiffusionImpl(FixedQd(Q, D).ptr(), options) {}

sde::LinearSde DiffusionImpl::Sde() const {
  TORCH_CHECK(time_bins() == 1, "this process has ", time_bins(),
              " time bins: ask for one bin's SDE (BinSde)");
  return sde::LinearSde(Q(), D(), stationary_var_, options_.schedule());
}

at::Tensor DiffusionImpl::BinnedQ() const {
  if (time_bins() == 1) return Q().unsqueeze(0);
  std::vector<at::Tensor> bins;
  for (int64_t k = 0; k < time_bins(); ++k) bins.push_back(qd_->BinQ(k));
  return at::stack(bins);
}

at::Tensor DiffusionImpl::BinnedD() const {
  if (time_bins() == 1) return D().unsqueeze(0);
  std::vector<at::Tensor> bins;
  for (int64_t k = 0; k < time_bins(); ++k) bins.push_back(qd_->BinD(k));
  return at::stack(bins);
}

sde::LinearSde DiffusionImpl::BinSde(int64_t bin) const {
  TORCH_CHECK(bin >= 0 && bin < time_bins(), "bin ", bin, " of ",
              time_bins());
  return sde::LinearSde(qd_->BinQ(bin), qd_->BinD(bin), stationary_var_,
                        options_.schedule());
}

double DiffusionImpl::BinWidth() const {
  return options_.schedule().IntegratedBeta(options_.t_max()) / time_bins();
}

at::Tensor DiffusionImpl::BinOf(const at::Tensor& t) const {
  const at::Tensor t64 = TimesOn(t, stationary_var_);
  if (time_bins() == 1) return at::zeros(t64.sizes(), t64.options().dtype(at::kLong));
  const at::Tensor B = options_.schedule().IntegratedBeta(t64);
  return (at::ceil(B / BinWidth()) - 1)
      .clamp(0, time_bins() - 1)
      .to(at::kLong);
}

int64_t DiffusionImpl::BinOf(double t) const {
  // host: a scalar in, a scalar out
  return BinOf(at::full({1}, t, at::kDouble)).item<int64_t>();
}

std::vector<double> DiffusionImpl::BinBoundaries() const {
  std::vector<double> times;
  for (int64_t k = 1; k < time_bins(); ++k) {
    times.push_back(options_.schedule()
                        .InverseIntegratedBeta(
                            // host: a scalar in, a scalar out
                            at::full({1}, k * BinWidth(), at::kDouble))
                        .item<double>());
  }
  return times;
}

at::Tensor DiffusionImpl::BinnedA() const {
  if (time_bins() == 1) return Sde().A().unsqueeze(0);
  const at::Tensor s = stationary_var_.to(at::kDouble);
  return sde::DriftMatrix(BinnedQ().to(at::kDouble), BinnedD().to(at::kDouble),
                          s);
}

at::Tensor DiffusionImpl::PerTime(const at::Tensor& binned, const at::Tensor& t,
                                  c10::optional<int64_t> bin) const {
  if (bin.has_value()) {
    TORCH_CHECK(*bin >= 0 && *bin < time_bins(), "bin ", *bin, " of ",
                time_bins());
    return binned[*bin];
  }
  if (time_bins() == 1) return binned[0];
  return binned.index_select(0, BinOf(t));
}

at::Tensor DiffusionImpl::IntegratedDriftTrace(double t) const {
  const double B = options_.schedule().IntegratedBeta(t);
  const at::Tensor traces = sde::Trace(BinnedA());  // [N].
  if (time_bins() == 1) return B * traces[0];
  const double w = BinWidth();
  std::vector<double> spans;
  for (int64_t k = 0; k < time_bins(); ++k) {
    double span = std::max(B - k * w, 0.0);
    if (k + 1 < time_bins()) span = std::min(span, w);
    spans.push_back(span);
  }
  return (at::tensor(spans, traces.options()) * traces).sum();
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

sde::KernelMoments DiffusionImpl::Moments(const at::Tensor& t,
                                          KernelType type) const {
  const at::Tensor t64 = TimesOn(t, stationary_var_);
  if (time_bins() == 1) return Sde().Moments(t64, InitialCov(type));
  const double w = BinWidth();
  const at::Tensor B = options_.schedule().IntegratedBeta(t64);
  const at::Tensor A = BinnedA();
  const at::Tensor D = BinnedD().to(at::kDouble);
  // The first bin: the one-bin kernel up to B = w.
  sde::KernelMoments m = sde::MatrixFractionMoments(
      A[0], D[0], B.clamp_max(w), InitialCov(type));
  // Then each later bin over the stretch tau_k of B(t) it covers:
  // P = exp(tau_{N-1} A_{N-1}) ... exp(tau_1 A_1) (the identity, exactly,
  // for times still in the first bin). The mean is P M(b_1); the covariance relaxes to S, exactly, since
  // S is stationary in every bin: Sigma = S + P (Sigma(b_1) - S) P^T, used
  // only past b_1 (it would cancel S against S for the tiny covariances
  // of small t).
  const int64_t N = time_bins();
  std::vector<at::Tensor> spans;
  for (int64_t k = 1; k < N; ++k) {
    at::Tensor tau = (B - k * w).clamp_min(0);
    if (k + 1 < N) tau = tau.clamp_max(w);
    spans.push_back(tau);
  }
  at::Tensor P = sde::MatrixExponentials(A[1], spans[0]);
  for (int64_t k = 2; k < N; ++k) {
    P = at::matmul(sde::MatrixExponentials(A[k], spans[k - 1]), P);
  }
  const at::Tensor S = StationaryCov();
  at::Tensor cov = S + at::matmul(at::matmul(P, m.cov - S), P.transpose(1, 2));
  cov = 0.5 * (cov + cov.transpose(1, 2));
  m.mean_coef = at::matmul(P, m.mean_coef);
  m.cov = at::where((B > w).view({-1, 1, 1}), cov, m.cov);
  return m;
}

absl::StatusOr<sde::TransitionKernel> DiffusionImpl::Kernel(
    const at::Tensor& t, KernelType type) const {
  if (time_bins() == 1) return Sde().Kernel(t, InitialCov(type));
  auto describe = [&](int64_t index) {
    const double time = t.detach().flatten()[index].item<double>();
    return absl::StrCat("the transition kernel's covariance at t = ", time,
                        " (time bin ", BinOf(time), " of ", time_bins(), ")");
  };
  return sde::FactorizeKernel(Moments(t, type), {}, describe);
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

at::Tensor DiffusionImpl::Drift(const at::Tensor& u, const at::Tensor& t,
                                c10::optional<int64_t> bin) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  return sde::ApplyMatrix(AsBatchScale(beta) * PerTime(BinnedA(), t, bin), u);
}

at::Tensor DiffusionImpl::DriftDivergence(const at::Tensor& t,
                                          int64_t data_dim,
                                          c10::optional<int64_t> bin) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  return beta * sde::Trace(PerTime(BinnedA(), t, bin)) *
         static_cast<double>(data_dim);
}

at::Tensor DiffusionImpl::DiffusionMatrix(const at::Tensor& t,
                                          c10::optional<int64_t> bin) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  return AsBatchScale(2.0 * beta) *
         PerTime(BinnedD().to(at::kDouble), t, bin);
}

at::Tensor DiffusionImpl::DiffusionSqrt(const at::Tensor& t,
                                        c10::optional<int64_t> bin) const {
  const at::Tensor beta = options_.schedule().Beta(TimesOn(t, stationary_var_));
  const at::Tensor D64 = BinnedD().to(at::kDouble);  // [N, K, K].
  std::vector<at::Tensor> roots;
  for (int64_t k = 0; k < D64.size(0); ++k) {
    const at::Tensor Dk = D64[k];
    if (at::equal(Dk, at::diag(Dk.diagonal()))) {
      roots.push_back(at::diag(at::sqrt(Dk.diagonal().clamp_min(0))));
    } else {
      auto [eigenvalues, V] = at::linalg_eigh(Dk);
      roots.push_back(at::matmul(V * at::sqrt(eigenvalues.clamp_min(0)), V.t()));
    }
  }
  return AsBatchScale(at::sqrt(2.0 * beta)) *
         PerTime(at::stack(roots), t, bin);
}

}  // namespace mdm::diffusions
