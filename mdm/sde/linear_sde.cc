#include "mdm/sde/linear_sde.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mdm::sde {
namespace {

at::TensorOptions Float64Like(const at::Tensor& t) {
  return t.options().dtype(at::kDouble);
}

std::string MatrixToString(const at::Tensor& m) {
  const at::Tensor cpu = m.detach().to(at::kCPU, at::kDouble).contiguous();
  std::ostringstream out;
  out.precision(6);
  out << "[";
  for (int64_t i = 0; i < cpu.size(0); ++i) {
    out << (i ? ", [" : "[");
    for (int64_t j = 0; j < cpu.size(1); ++j) {
      out << (j ? ", " : "") << cpu[i][j].item<double>();
    }
    out << "]";
  }
  out << "]";
  return out.str();
}

}  // namespace

at::Tensor DriftMatrix(const at::Tensor& Q, const at::Tensor& D,
                       const at::Tensor& stationary_var) {
  // Right-multiplying by S^{-1} divides column j by S_jj.
  return -(Q + D) / stationary_var.to(Q.dtype());
}

at::Tensor StationaryVariances(int64_t num_vars, double x_var, double aux_var) {
  at::Tensor s = at::full({num_vars}, aux_var, at::kDouble);
  s[0] = x_var;
  return s;
}

at::Tensor FullInitialCov(int64_t num_vars) {
  return at::zeros({num_vars, num_vars}, at::kDouble);
}

at::Tensor HybridInitialCov(int64_t num_vars, double init_aux_var) {
  at::Tensor diag = at::full({num_vars}, init_aux_var, at::kDouble);
  diag[0] = 0.0;
  return at::diag(diag);
}

namespace {

// exp(h X) for a small square X at each of a batch of h = B / 2^s, s >= 0
// the fewest halvings that make |h X|_1 <= 1 (s = 0 for small B), by
// Taylor's series I + sum_k (h^k / k!) X^k, k <= 24: the powers of X are
// computed once, so all times cost one matrix product, the series' terms
// are below 1 and its truncation error below 1e-25. The caller squares
// each time's result back s times (`halvings`). B carries no gradient;
// X does.
struct HalvedExponentials {
  at::Tensor phi;       // exp(h X): [batch, n, n].
  at::Tensor halvings;  // s per time: [batch].
  int64_t max_halvings = 0;
};

HalvedExponentials TaylorAtHalvedTimes(const at::Tensor& X,
                                       const at::Tensor& B) {
  const double norm = X.detach().abs().sum(0).max().item<double>();
  const at::Tensor halvings =
      at::ceil(at::log2(B.detach().abs() * norm)).clamp_min(0);
  const at::Tensor h = B.detach() * at::exp2(-halvings);
  // X^k for k = 1..kDegree, by doubling batches: [X] -> [X, X^2] ->
  // [X .. X^4] -> ..., one batched product per doubling.
  constexpr int64_t kDegree = 24;
  at::Tensor powers = X.unsqueeze(0);
  while (powers.size(0) < kDegree) {
    const int64_t have = powers.size(0);
    const int64_t add = std::min(have, kDegree - have);
    powers = at::cat(
        {powers, at::matmul(powers[have - 1], powers.narrow(0, 0, add))});
  }
  const int64_t n = X.size(0);
  const at::Tensor exponents = at::arange(1, kDegree + 1, X.options());
  const at::Tensor coefficients =
      at::exp(exponents * at::log(h).unsqueeze(1) -
              at::lgamma(exponents + 1).unsqueeze(0))
          .nan_to_num(0.0);  // h = 0: every power's coefficient is 0.
  return HalvedExponentials{
      .phi = at::eye(n, X.options()) +
             at::matmul(coefficients, powers.view({kDegree, -1}))
                 .view({-1, n, n}),
      .halvings = halvings,
      .max_halvings = halvings.max().item<int64_t>()};
}

}  // namespace

KernelMoments MatrixFractionMoments(const at::Tensor& A, const at::Tensor& D,
                                    const at::Tensor& int_beta,
                                    const at::Tensor& initial_cov) {
  TORCH_CHECK(A.dim() == 2 && A.size(0) == A.size(1), "A must be [K, K], got ",
              A.sizes());
  TORCH_CHECK(D.sizes() == A.sizes(), "D must be [K, K] like A, got ",
              D.sizes());
  TORCH_CHECK(initial_cov.sizes() == A.sizes(),
              "initial_cov must be [K, K] like A, got ", initial_cov.sizes());
  TORCH_CHECK(int_beta.dim() == 1, "int_beta must be [batch], got ",
              int_beta.sizes());
  const int64_t K = A.size(0);
  const at::Tensor A64 = A.to(at::kDouble);
  const at::Tensor D64 = D.to(at::kDouble);
  const at::Tensor sigma0 = initial_cov.to(A64.options());
  const at::Tensor B = int_beta.to(A64.options());
  if (B.numel() == 0) {
    const at::Tensor empty = at::empty({0, K, K}, A64.options());
    return KernelMoments{.mean_coef = empty, .cov = empty};
  }

  const at::Tensor block =
      at::cat({at::cat({A64, 2.0 * D64}, 1),
               at::cat({at::zeros_like(A64), -A64.t()}, 1)},
              0);  // [2K, 2K]

  // The kernel depends on t only through B, and A and D are tiny, so the
  // exponentials of all times share one set of powers of `block`
  // (TaylorAtHalvedTimes): exp(h block) at h = B / 2^s, then
  // M(h) = Phi_11 and Sigma_F(h) = Phi_12 M(h)^T, doubled s times:
  //   Sigma_F(2h) = M(h) Sigma_F(h) M(h)^T + Sigma_F(h), M(2h) = M(h)^2.
  // Doubling adds positive semi-definite terms: no cancellation, however
  // large B |A| (the plain Phi_12 M^T of exp(B block) loses every digit
  // there, and overflows past B |A| ~ 700). s is chosen per time, so a
  // time's kernel does not depend on the rest of its batch. Gradients flow
  // through the products to Q and D; few, batched operations keep autograd
  // cheap (this is most of a small network's training step).
  const HalvedExponentials halved = TaylorAtHalvedTimes(block, B);
  const at::Tensor& phi = halved.phi;
  const at::Tensor& halvings = halved.halvings;
  at::Tensor M = phi.narrow(1, 0, K).narrow(2, 0, K);
  at::Tensor forced =
      at::matmul(phi.narrow(1, 0, K).narrow(2, K, K), M.transpose(1, 2));
  for (int64_t i = 0; i < halved.max_halvings; ++i) {
    const at::Tensor active = halvings.gt(i).view({-1, 1, 1});
    const at::Tensor M_t = M.transpose(1, 2);
    forced = at::where(active, at::matmul(at::matmul(M, forced), M_t) + forced,
                       forced);
    M = at::where(active, at::matmul(M, M), M);
  }
  at::Tensor cov =
      at::matmul(at::matmul(M, sigma0), M.transpose(1, 2)) + forced;
  cov = 0.5 * (cov + cov.transpose(1, 2));  // Remove rounding asymmetry.
  return KernelMoments{.mean_coef = M, .cov = cov};
}

at::Tensor MatrixExponentials(const at::Tensor& A, const at::Tensor& int_beta) {
  TORCH_CHECK(A.dim() == 2 && A.size(0) == A.size(1), "A must be [K, K], got ",
              A.sizes());
  TORCH_CHECK(int_beta.dim() == 1, "int_beta must be [batch], got ",
              int_beta.sizes());
  const at::Tensor A64 = A.to(at::kDouble);
  const at::Tensor B = int_beta.to(A64.options());
  if (B.numel() == 0) return at::empty({0, A.size(0), A.size(0)}, A64.options());
  const HalvedExponentials halved = TaylorAtHalvedTimes(A64, B);
  at::Tensor M = halved.phi;
  for (int64_t i = 0; i < halved.max_halvings; ++i) {
    M = at::where(halved.halvings.gt(i).view({-1, 1, 1}), at::matmul(M, M), M);
  }
  return M;
}

LinearSde::LinearSde(at::Tensor Q, at::Tensor D, at::Tensor stationary_var,
                     BetaSchedule schedule)
    : Q_(std::move(Q)),
      D_(std::move(D)),
      stationary_var_(std::move(stationary_var)),
      schedule_(schedule) {
  TORCH_CHECK(Q_.dim() == 2 && Q_.size(0) == Q_.size(1),
              "Q must be [K, K], got ", Q_.sizes());
  TORCH_CHECK(D_.sizes() == Q_.sizes(), "D must be [K, K] like Q, got ",
              D_.sizes());
  TORCH_CHECK(
      stationary_var_.dim() == 1 && stationary_var_.size(0) == Q_.size(0),
      "stationary_var must be [K], got ", stationary_var_.sizes());
  D64_ = D_.to(Float64Like(D_));
  A_ = DriftMatrix(Q_.to(Float64Like(Q_)), D64_,
                   stationary_var_.to(Float64Like(Q_)));
}

at::Tensor LinearSde::StationaryCov() const {
  return at::diag(stationary_var_.to(A_.options()));
}

KernelMoments LinearSde::Moments(const at::Tensor& t,
                                 const at::Tensor& initial_cov) const {
  return MatrixFractionMoments(
      A_, D64_, schedule_.IntegratedBeta(t.to(A_.options())), initial_cov);
}

absl::StatusOr<TransitionKernel> FactorizeKernel(
    KernelMoments moments, const CholeskyOptions& cholesky_options,
    absl::FunctionRef<std::string(int64_t)> describe) {
  absl::StatusOr<CholeskyFactor> factor =
      SafeCholesky(moments.cov, cholesky_options, describe);
  if (!factor.ok()) return factor.status();
  const int64_t K = moments.cov.size(-1);
  const at::Tensor eye =
      at::eye(K, moments.cov.options()).expand_as(factor->chol);
  const at::Tensor chol_inv =
      at::linalg_solve_triangular(factor->chol, eye, /*upper=*/false);
  return TransitionKernel{
      .mean_coef = std::move(moments.mean_coef),
      .cov = std::move(moments.cov),
      .chol = factor->chol,
      .chol_inv_t = chol_inv.transpose(1, 2),
      .jitter = factor->jitter,
  };
}

absl::StatusOr<TransitionKernel> LinearSde::Kernel(
    const at::Tensor& t, const at::Tensor& initial_cov,
    const CholeskyOptions& cholesky_options) const {
  auto describe = [&](int64_t index) {
    return absl::StrCat("the transition kernel's covariance at t = ",
                        t.detach().flatten()[index].item<double>(),
                        " with Q = ", MatrixToString(Q_),
                        " and D = ", MatrixToString(D_));
  };
  return FactorizeKernel(Moments(t, initial_cov), cholesky_options, describe);
}

}  // namespace mdm::sde
