#include "mdm/eval/likelihood.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "mdm/sampling/probability_flow.h"
#include "mdm/sde/block_ops.h"

namespace mdm::eval {

absl::StatusOr<OdeLikelihood> OdeLogLikelihood(
    const diffusions::DiffusionImpl& diffusion,
    const sampling::ScoreFunction& score, const at::Tensor& u_0,
    const OdeLikelihoodOptions& options, c10::optional<at::Generator> gen) {
  const int64_t batch = u_0.size(0);
  const int64_t n = u_0[0].numel();  // K d.
  const int64_t d = n / diffusion.num_vars();
  const at::IntArrayRef shape = u_0.sizes();
  const at::ScalarType model_dtype = u_0.scalar_type();
  // One probe, fixed along the trajectory so the ODE stays deterministic.
  const std::vector<at::Tensor> probes =
      objectives::DivergenceProbes(options.divergence, u_0, 1, gen);
  // The state: u flattened, then the accumulated divergence; float64. In
  // one time bin, or each time's own (nullopt).
  const sampling::BinnedOdeFunction field = [&](c10::optional<int64_t> bin)
      -> sampling::OdeFunction {
    return [&, bin](double t,
                    const at::Tensor& state) -> absl::StatusOr<at::Tensor> {
    const at::TensorOptions f64 = state.options().dtype(at::kDouble);
    const at::Tensor t_one = at::full({1}, t, f64);
    const at::Tensor half_GGt =
        0.5 * diffusion.DiffusionMatrix(t_one, bin)[0];
    at::Tensor u = state.slice(1, 0, n).reshape(shape).to(model_dtype);
    at::Tensor score_term, divergence;
    {
      at::AutoGradMode grad(true);
      u = u.detach().requires_grad_(true);
      absl::StatusOr<at::Tensor> s = score(u, t);
      if (!s.ok()) return s.status();
      score_term = sde::ApplyMatrix(half_GGt, *s);
      divergence = objectives::Divergence(score_term, u, options.divergence,
                                          probes, /*create_graph=*/false);
    }
    const at::Tensor t_batch = at::full({batch}, t, f64);
    const at::Tensor velocity =
        diffusion.Drift(u.detach(), t_batch, bin) - score_term.detach();
    const at::Tensor div_f = diffusion.DriftDivergence(t_one, d, bin);
    const at::Tensor div_F = div_f.to(u.device()).expand({batch}) -
                             divergence.detach().to(at::kDouble);
    return at::cat(
        {velocity.reshape({batch, n}).to(at::kDouble), div_F.unsqueeze(1)}, 1);
    };
  };
  const at::Tensor start =
      at::cat({u_0.reshape({batch, n}).to(at::kDouble),
               at::zeros({batch, 1}, u_0.options().dtype(at::kDouble))},
              1);
  absl::StatusOr<sampling::OdeResult> ode = sampling::DormandPrinceAcrossBins(
      diffusion, field, start, options.t_min, options.t_max, options.adaptive);
  if (!ode.ok()) return ode.status();
  const at::Tensor u_T = ode->y.slice(1, 0, n).reshape(shape);
  OdeLikelihood result;
  result.log_p =
      (diffusion.PriorLogProb(u_T).to(at::kDouble) + ode->y.select(1, n)).cpu();
  result.function_evaluations = ode->function_evaluations;
  return result;
}

absl::StatusOr<OdeLikelihood> OdeDataLogLikelihood(
    const diffusions::DiffusionImpl& diffusion,
    const sampling::ScoreFunction& score, const at::Tensor& y,
    const OdeLikelihoodOptions& options, c10::optional<at::Generator> gen) {
  const int64_t batch = y.size(0);
  const int64_t draws = diffusion.num_vars() == 1 ? 1 : options.v0_draws;
  if (draws < 1) {
    return absl::InvalidArgumentError("need at least one v_0 draw");
  }
  // All draws in one ODE solve: [draws * batch, ...], draw-major.
  const at::Tensor x = y.repeat_interleave(draws, 0).contiguous();
  // Drawn where the generator lives (the evaluation's device generator, or
  // the CPU's).
  const at::Device draw_device = gen.has_value() ? gen->device() : x.device();
  at::Tensor v_0 = diffusion.SampleV0(x.to(draw_device), gen).to(x.device());
  absl::StatusOr<OdeLikelihood> joint = OdeLogLikelihood(
      diffusion, score, diffusions::DiffusionImpl::JoinState(x, v_0), options,
      gen);
  if (!joint.ok()) return joint.status();
  const at::Tensor log_w =
      (joint->log_p - diffusion.LogQV0(v_0).to(at::kDouble).cpu())
          .view({batch, draws});
  OdeLikelihood result;
  result.log_p = at::logsumexp(log_w, 1) - std::log(draws);
  result.function_evaluations = joint->function_evaluations;
  return result;
}

}  // namespace mdm::eval
