#include "mdm/objectives/elbo.h"

#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <utility>

#include "mdm/objectives/time_sampling.h"
#include "mdm/sde/block_ops.h"

namespace mdm::objectives {
namespace {

using diffusions::DiffusionImpl;
using diffusions::KernelType;

constexpr double kLog2Pi = 1.8378770664093453;

// The integrand at one draw of (t, u_t): [batch] float64.
using Integrand = std::function<absl::StatusOr<at::Tensor>(
    const at::Tensor& t, const at::Tensor& u_0, c10::optional<at::Generator>)>;

std::unique_ptr<TimeSampler> MakeTimeSampler(const DiffusionImpl& diffusion,
                                             const ElboOptions& options) {
  const double t_max = diffusion.options().t_max();
  if (options.importance_sampling) {
    return std::make_unique<ImportanceTimeSampler>(
        diffusion.options().schedule(), options.t_min, t_max);
  }
  return std::make_unique<UniformTimeSampler>(options.t_min, t_max);
}

// Sum over every axis but the batch, in float64.
at::Tensor SumPerExample(const at::Tensor& x) {
  return x.flatten(1).sum(1).to(at::kDouble);
}

// E_{u_T ~ q} log N(u_T; 0, S) in closed form: with mean mu_j per data
// coordinate and covariance Sigma_T,
//   -1/2 sum_j mu_j^T S^{-1} mu_j - d/2 tr(S^{-1} Sigma_T)
//   - d/2 (K log 2 pi + log |S|).
// Sampling u_T instead would add a standard deviation of ~sqrt(d/2) nats.
absl::StatusOr<at::Tensor> ExpectedPriorLogProb(const DiffusionImpl& diffusion,
                                                const at::Tensor& u_0,
                                                KernelType type) {
  const at::Tensor s = diffusion.stationary_var();
  const sde::KernelMoments moments = diffusion.Moments(
      at::full({1}, diffusion.options().t_max(), s.options()), type);
  const at::Tensor M = moments.mean_coef[0];
  const at::Tensor S_inv = at::diag(1.0 / s);
  const int64_t d = sde::DataDim(u_0);
  at::Tensor mean_term;
  if (type == KernelType::kHybrid) {
    // mu_j = M e_1 x_j, so sum_j mu_j^T S^{-1} mu_j = (m^T S^{-1} m) |x|^2.
    const at::Tensor m = M.select(1, 0);
    mean_term = (m * m / s).sum() *
                SumPerExample(u_0.narrow(1, 0, 1).to(at::kDouble).square());
  } else {
    const at::Tensor mu = sde::ApplyMatrix(M, u_0.to(at::kDouble));
    mean_term = sde::QuadraticForm(mu, S_inv, mu);
  }
  return -0.5 * mean_term -
         0.5 * d * sde::Trace(at::matmul(S_inv, moments.cov[0])) -
         0.5 * d * (diffusion.num_vars() * kLog2Pi + at::log(s).sum());
}

// log p(u_0 | u_eps) - log q(u_eps | u_0) for the full kernel at eps =
// t_min. With u_eps = M u_0 + L e, p(u_0 | u_eps) = N(M^{-1}(u_eps +
// Sigma s), M^{-1} Sigma M^{-T}) gives
//   -1/2 |e + L^T s|^2 + 1/2 |e|^2 + d log |det M|,
// log |det M| = int_0^eps beta tr(A) (B(eps) tr(A) for constant A).
absl::StatusOr<at::Tensor> Offset(const DiffusionImpl& diffusion,
                                  const ScoreNetwork& network,
                                  const at::Tensor& u_0,
                                  const ElboOptions& options,
                                  c10::optional<at::Generator> gen) {
  absl::StatusOr<sde::TransitionKernel> full =
      diffusion.KernelAtTime(options.t_min, KernelType::kFull);
  if (!full.ok()) return full.status();
  absl::StatusOr<sde::TransitionKernel> hybrid =
      diffusion.KernelAtTime(options.t_min, KernelType::kHybrid);
  if (!hybrid.ok()) return hybrid.status();
  const int64_t d = sde::DataDim(u_0);
  const at::Tensor t = at::full({u_0.size(0)}, options.t_min, u_0.options());
  const at::Tensor eps = at::randn(u_0.sizes(), gen, u_0.options());
  const at::Tensor u_eps =
      diffusion.TransitionMean(*full, u_0, KernelType::kFull) +
      sde::ApplyMatrix(full->chol, eps);
  const at::Tensor score =
      ScoreFromOutput(network(u_eps, t), *hybrid, options.parameterization);
  const at::Tensor r = eps + sde::ApplyMatrix(full->chol.t(), score);
  return -0.5 * SumPerExample(r * r) + 0.5 * SumPerExample(eps * eps) +
         d * diffusion.IntegratedDriftTrace(options.t_min);
}

// The parts every form shares: v_0, prior, entropy, offset, and the
// Monte-Carlo average of the integrand over (t, u_t).
absl::StatusOr<ElboTerms> Elbo(const DiffusionImpl& diffusion,
                               const ScoreNetwork& network,
                               const at::Tensor& x_0,
                               const ElboOptions& options,
                               c10::optional<at::Generator> gen,
                               const Integrand& integrand) {
  TORCH_CHECK(options.mc_samples >= 1, "mc_samples must be at least 1");
  const int64_t batch = x_0.size(0);
  const int64_t K = diffusion.num_vars();
  const at::Tensor v_0 = diffusion.SampleV0(x_0, gen);
  const at::Tensor u_0 = DiffusionImpl::JoinState(x_0, v_0);

  ElboTerms terms;
  absl::StatusOr<at::Tensor> prior =
      ExpectedPriorLogProb(diffusion, u_0, options.kernel);
  if (!prior.ok()) return prior.status();
  terms.prior = *std::move(prior);

  if (options.kernel == KernelType::kHybrid) {
    // v_0 never enters: its entropy is exact.
    const double var = diffusion.options().init_aux_var();
    terms.entropy_v0 = at::full(
        {batch},
        0.5 * (K - 1) * sde::DataDim(u_0) * (1 + kLog2Pi + std::log(var)),
        terms.prior.options());
  } else {
    terms.entropy_v0 = -diffusion.LogQV0(v_0).to(at::kDouble);
  }

  std::unique_ptr<TimeSampler> owned;
  const TimeSampler* sampler = options.time_sampler;
  if (sampler == nullptr) {
    owned = MakeTimeSampler(diffusion, options);
    sampler = owned.get();
  }
  terms.diffusion = at::zeros_like(terms.prior);
  terms.offset = at::zeros_like(terms.prior);
  for (int i = 0; i < options.mc_samples; ++i) {
    const TimeSample times = sampler->Sample(batch, x_0.options(), gen);
    absl::StatusOr<at::Tensor> l = integrand(times.t, u_0, gen);
    if (!l.ok()) return l.status();
    if (options.observe) options.observe(times.t, *l);
    terms.diffusion = terms.diffusion + *l / times.density;
    if (options.with_offset) {
      absl::StatusOr<at::Tensor> offset =
          Offset(diffusion, network, u_0, options, gen);
      if (!offset.ok()) return offset.status();
      terms.offset = terms.offset + *offset;
    }
  }
  terms.diffusion = terms.diffusion / options.mc_samples;
  if (options.original_integral_factor) {
    // The original's estimate l(t) (1 - t_min) / w(t), where w is the
    // proposal's density (importance) or 1 (uniform).
    const double t_max = diffusion.options().t_max();
    terms.diffusion =
        terms.diffusion * (options.importance_sampling
                               ? 1 - options.t_min
                               : (1 - options.t_min) / (t_max - options.t_min));
  }
  terms.offset = terms.offset / options.mc_samples;
  terms.elbo = terms.prior + terms.diffusion + terms.entropy_v0;
  terms.elbo_with_offset = terms.elbo + terms.offset;
  return terms;
}

// One draw of u_t at times t: the kernel the bound conditions on, the
// hybrid kernel that defines the score parameterization (the same under
// kHybrid), the noise and u_t = M u_0' + L eps.
struct Draw {
  sde::TransitionKernel conditioning;
  sde::TransitionKernel hybrid;
  at::Tensor eps;
  at::Tensor u_t;
};

absl::StatusOr<Draw> DrawState(const DiffusionImpl& diffusion,
                               const at::Tensor& t, const at::Tensor& u_0,
                               KernelType type,
                               c10::optional<at::Generator> gen) {
  absl::StatusOr<sde::TransitionKernel> hybrid =
      diffusion.Kernel(t, KernelType::kHybrid);
  if (!hybrid.ok()) return hybrid.status();
  absl::StatusOr<sde::TransitionKernel> conditioning = hybrid;
  if (type != KernelType::kHybrid) conditioning = diffusion.Kernel(t, type);
  if (!conditioning.ok()) return conditioning.status();
  at::Tensor eps = at::randn(u_0.sizes(), gen, u_0.options());
  at::Tensor u_t = diffusion.TransitionMean(*conditioning, u_0, type) +
                   sde::ApplyMatrix(conditioning->chol, eps);
  return Draw{*std::move(conditioning), *std::move(hybrid), std::move(eps),
              std::move(u_t)};
}

}  // namespace

absl::StatusOr<ElboTerms> DsmElbo(const DiffusionImpl& diffusion,
                                  const ScoreNetwork& network,
                                  const at::Tensor& x_0,
                                  const ElboOptions& options,
                                  c10::optional<at::Generator> gen) {
  auto integrand =
      [&](const at::Tensor& t, const at::Tensor& u_0,
          c10::optional<at::Generator> g) -> absl::StatusOr<at::Tensor> {
    absl::StatusOr<Draw> draw = DrawState(diffusion, t, u_0, options.kernel, g);
    if (!draw.ok()) return draw.status();
    const sde::TransitionKernel& kernel = draw->conditioning;
    const at::Tensor& eps = draw->eps;
    const at::Tensor GGt = diffusion.DiffusionMatrix(t);
    // N = L^{-1} G G^T L^{-T} for the conditioning kernel's L.
    const at::Tensor N = at::matmul(
        at::matmul(kernel.chol_inv_t.transpose(1, 2), GGt), kernel.chol_inv_t);
    const int64_t d = sde::DataDim(u_0);
    const at::Tensor output = network(draw->u_t, t.to(draw->u_t.dtype()));
    at::Tensor mismatch;  // (s - grad log q)^T G G^T (s - grad log q).
    if (options.kernel == KernelType::kHybrid) {
      // s - grad log q = -L^{-T} (eps_hat - eps): the quadratic form is
      // e^T N e with e = eps_hat - eps, one product over the state.
      const at::Tensor e =
          NoiseFromOutput(output, draw->hybrid, options.parameterization) - eps;
      mismatch = sde::QuadraticForm(e, N, e);
    } else {
      // The score is parameterized by the hybrid kernel, the target by the
      // full one: s + L^{-T} eps.
      const at::Tensor delta =
          ScoreFromOutput(output, draw->hybrid, options.parameterization) +
          sde::ApplyMatrix(kernel.chol_inv_t, eps);
      mismatch = sde::QuadraticForm(delta, GGt, delta);
    }
    return -0.5 * mismatch.to(at::kDouble) + 0.5 * d * sde::Trace(N) +
           diffusion.DriftDivergence(t, d);
  };
  return Elbo(diffusion, network, x_0, options, gen, integrand);
}

absl::StatusOr<ElboTerms> IsmElbo(const DiffusionImpl& diffusion,
                                  const ScoreNetwork& network,
                                  const at::Tensor& x_0,
                                  const ElboOptions& options,
                                  c10::optional<at::Generator> gen) {
  auto integrand =
      [&](const at::Tensor& t, const at::Tensor& u_0,
          c10::optional<at::Generator> g) -> absl::StatusOr<at::Tensor> {
    absl::StatusOr<Draw> draw = DrawState(diffusion, t, u_0, options.kernel, g);
    if (!draw.ok()) return draw.status();
    // The divergence needs d/du_t; keep u_t's history (the reparameterized
    // path to learned Q and D) when it has one.
    at::Tensor u_t = draw->u_t;
    if (!u_t.requires_grad()) u_t = u_t.detach().requires_grad_();
    const at::Tensor score =
        ScoreFromOutput(network(u_t, t.to(u_t.dtype())), draw->hybrid,
                        options.parameterization);
    const at::Tensor GGt_score =
        sde::ApplyMatrix(diffusion.DiffusionMatrix(t), score);
    return -0.5 * SumPerExample(score * GGt_score) -
           Divergence(GGt_score, u_t, options.divergence,
                      DivergenceProbes(options.divergence, u_t,
                                       options.hutchinson_probes, g),
                      options.create_graph) +
           diffusion.DriftDivergence(t, sde::DataDim(u_0));
  };
  return Elbo(diffusion, network, x_0, options, gen, integrand);
}

}  // namespace mdm::objectives
