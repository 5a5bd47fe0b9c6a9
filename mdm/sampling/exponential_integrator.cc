#include "mdm/sampling/exponential_integrator.h"

#include <ATen/ATen.h>

#include <cmath>
#include <deque>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/sde/block_ops.h"
#include "mdm/sde/linear_sde.h"

namespace mdm::sampling {
namespace {

// Gauss-Legendre nodes and weights on [-1, 1] (Golub-Welsch: eigenvalues
// of the Jacobi matrix, weights from the eigenvectors' first components).
std::pair<at::Tensor, at::Tensor> GaussLegendre(int n) {
  // host: computed once on the host; the sampler moves the nodes
  at::Tensor jacobi = at::zeros({n, n}, at::kDouble);
  for (int k = 1; k < n; ++k) {
    const double b = k / std::sqrt(4.0 * k * k - 1.0);
    jacobi[k][k - 1] = b;
    jacobi[k - 1][k] = b;
  }
  auto [nodes, vectors] = at::linalg_eigh(jacobi);
  return {nodes, 2 * vectors[0].square()};
}

// The symmetric square root of a PSD matrix, negative rounding clamped.
at::Tensor PsdSqrt(const at::Tensor& cov) {
  auto [values, vectors] = at::linalg_eigh(0.5 * (cov + cov.transpose(-1, -2)));
  return at::matmul(vectors * values.clamp_min(0).sqrt().unsqueeze(-2),
                    vectors.transpose(-1, -2));
}

// The Lagrange basis of the nodes `times` evaluated at x [n]: row j is the
// polynomial that is 1 at times[j] and 0 at the others, [times.size(), n].
at::Tensor LagrangeBasis(const std::vector<double>& times,
                         const at::Tensor& x) {
  std::vector<at::Tensor> rows;
  for (size_t j = 0; j < times.size(); ++j) {
    at::Tensor l = at::ones_like(x);
    for (size_t m = 0; m < times.size(); ++m) {
      if (m != j) l = l * (x - times[m]) / (times[j] - times[m]);
    }
    rows.push_back(l);
  }
  return at::stack(rows);
}

}  // namespace

MultistepVariable MultistepVariableFor(
    const diffusions::DiffusionImpl& diffusion) {
  const double d00 = diffusion.BinSde(0).D()[0][0].item<double>();
  return d00 > 0 ? MultistepVariable::kSqrtTime : MultistepVariable::kTime;
}

absl::StatusOr<SamplerResult> ExponentialIntegrator(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, const at::Tensor& time_grid,
    const ExponentialIntegratorOptions& options,
    c10::optional<at::Generator> gen, const StepCallback& callback) {
  TORCH_CHECK(time_grid.dim() == 1 && time_grid.size(0) >= 2,
              "the time grid needs at least two times");
  TORCH_CHECK(options.quadrature_nodes >= 1, "need quadrature nodes");
  if (options.order < 1 || options.order > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("the exponential integrator's order must be 1 to 4, not ",
                     options.order));
  }
  if (!(options.noise_fraction >= 0 && options.noise_fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the exponential integrator's noise fraction must be in [0, 1], not ",
        options.noise_fraction));
  }
  at::NoGradGuard no_grad;
  const at::Tensor grid = time_grid.to(at::kCPU, at::kDouble);
  const int64_t steps = grid.size(0) - 1;
  const sde::BetaSchedule& schedule = diffusion.options().schedule();
  const at::Tensor S_inv = diffusion.StationaryCov().inverse();
  const int64_t K = diffusion.num_vars();
  // The share of the SDE's noise variance kept (0: the ODE).
  const double eta2 = options.stochastic ? options.noise_fraction : 0.0;
  const double c = 1.0 + eta2;
  // Per time bin (one for most processes): D and the linear part solved
  // exactly, A_c = A + c D S^{-1}: the drift and the stationary score's
  // share of the score term.
  std::vector<at::Tensor> D_bins, A_c_bins;
  for (int64_t k = 0; k < diffusion.time_bins(); ++k) {
    const sde::LinearSde sde = diffusion.BinSde(k);
    D_bins.push_back(sde.D().to(at::kDouble));
    A_c_bins.push_back(sde.A() + c * at::matmul(D_bins.back(), S_inv));
  }
  const std::vector<double> boundaries = diffusion.BinBoundaries();
  // The rule is computed on the CPU; its nodes and weights meet the
  // kernels and A_c on the diffusion's device.
  auto [gl_nodes, gl_weights] = GaussLegendre(options.quadrature_nodes);
  gl_nodes = gl_nodes.to(S_inv.device());
  gl_weights = gl_weights.to(S_inv.device());

  const bool in_sqrt_t =
      options.multistep_variable == MultistepVariable::kSqrtTime;
  at::Tensor u = u_T;
  SamplerResult result;
  // The last `order` evaluations, newest first: (t, eps_hat).
  std::deque<std::pair<double, at::Tensor>> history;
  for (int64_t i = 0; i < steps; ++i) {
    const double t = grid[i].item<double>();
    const double t_next = grid[i + 1].item<double>();
    if (!(t_next < t) || t_next <= 0) {
      return absl::InvalidArgumentError(
          "the exponential integrator needs a decreasing grid of positive "
          "times");
    }
    absl::StatusOr<sde::TransitionKernel> kernel =
        diffusion.KernelAtTime(t, diffusions::KernelType::kHybrid);
    if (!kernel.ok()) return kernel.status();
    absl::StatusOr<at::Tensor> s = score(u, t);
    if (!s.ok()) return s.status();
    ++result.score_evaluations;
    // The score's residual from the stationary score, as noise.
    const at::Tensor eps_hat = sde::ApplyMatrix(
        -kernel->chol.transpose(-1, -2), *s + sde::ApplyMatrix(S_inv, u));
    history.emplace_front(t, eps_hat);
    if (static_cast<int>(history.size()) > options.order) history.pop_back();
    // The history's times in the polynomial's variable.
    std::vector<double> times;
    for (const auto& h : history)
      times.push_back(in_sqrt_t ? std::sqrt(h.first) : h.first);

    // The step in pieces, one per time bin it crosses (the bin boundaries
    // inside (t', t) cut it), each solved exactly with its bin's matrices
    // for the same eps over the step.
    std::vector<double> cuts = {t};
    for (auto b = boundaries.rbegin(); b != boundaries.rend(); ++b) {
      if (t_next < *b && *b < t) cuts.push_back(*b);
    }
    cuts.push_back(t_next);
    for (size_t p = 0; p + 1 < cuts.size(); ++p) {
      const double piece_hi = cuts[p], piece_lo = cuts[p + 1];
      const int64_t bin =
          boundaries.empty() ? 0 : diffusion.BinOf(0.5 * (piece_hi + piece_lo));
      const at::Tensor& D = D_bins[bin];
      const at::Tensor& A_c = A_c_bins[bin];
      // Quadrature in y = log r over [log lo, log hi]: dr = r dy.
      const double lo = std::log(piece_lo), hi = std::log(piece_hi);
      const at::Tensor r = at::exp(lo + (hi - lo) * (gl_nodes + 1) / 2);
      const at::Tensor w = gl_weights * (hi - lo) / 2 * r;
      absl::StatusOr<sde::TransitionKernel> at_nodes =
          diffusion.Kernel(r, diffusions::KernelType::kHybrid);
      if (!at_nodes.ok()) return at_nodes.status();
      const double B_lo = schedule.IntegratedBeta(piece_lo);
      const at::Tensor phi_nodes = at::linalg_matrix_exp(
          -(schedule.IntegratedBeta(r) - B_lo).view({-1, 1, 1}) * A_c);
      const at::Tensor integrand =
          at::matmul(phi_nodes, at::matmul(D, at_nodes->chol_inv_t)) *
          (c * schedule.Beta(r) * w).view({-1, 1, 1});
      // eps over the step: the polynomial through the history, in t or
      // sqrt(t) (one term, the frozen eps_hat, at order 1 and on the first
      // step).
      const at::Tensor basis = LagrangeBasis(
          times, in_sqrt_t ? at::sqrt(r) : r);  // [history, nodes].

      // Phi(lo, hi) and the noise covariance from one matrix-fraction call.
      const sde::KernelMoments reverse = sde::MatrixFractionMoments(
          -A_c, D,
          at::full({1}, schedule.IntegratedBeta(piece_hi) - B_lo,
                   D.options().dtype(at::kDouble)),
          at::zeros({K, K}, D.options().dtype(at::kDouble)));
      const at::Tensor forcing =
          at::einsum("jn,nab->jab", {basis, integrand});  // [history, K, K].
      u = sde::ApplyMatrix(reverse.mean_coef[0], u);
      for (size_t j = 0; j < history.size(); ++j) {
        u = u - sde::ApplyMatrix(forcing[j], history[j].second);
      }
      // No noise anywhere in the last step unless asked: its mean.
      if (eta2 > 0 && (i + 1 < steps || options.noise_last_step)) {
        u = u + sde::ApplyMatrix(std::sqrt(eta2) * PsdSqrt(reverse.cov[0]),
                                 at::randn(u.sizes(), gen, u.options()));
      }
    }
    if (callback) callback(i, t_next, u);
  }
  result.u = u;
  return result;
}

}  // namespace mdm::sampling
