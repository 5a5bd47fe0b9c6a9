#include "mdm/eval/likelihood.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "mdm/sde/block_ops.h"

namespace mdm::eval {

objectives::TransformKind TransformKindFor(const proto::DataConfig& data) {
  if (!data.is_image()) return objectives::TransformKind::kNone;
  switch (data.transform()) {
    case proto::DataConfig::CENTER:
      return objectives::TransformKind::kCenter;
    case proto::DataConfig::NONE:
      return objectives::TransformKind::kNone;
    default:
      return objectives::TransformKind::kLogit;
  }
}

at::Tensor PrepareData(const at::Tensor& x, bool is_8bit, bool dequantize,
                       const objectives::DataTransform& transform,
                       at::Tensor* log_det, c10::optional<at::Generator> gen) {
  at::Tensor y = x;
  if (is_8bit && dequantize) y = objectives::Dequantize(y, gen);
  if (log_det != nullptr) *log_det = transform.LogDetJacobian(y);
  return transform.Forward(y);
}

at::Tensor LogLikelihoodToBitsPerDim(const at::Tensor& log_p_y,
                                     const at::Tensor& log_det, int64_t d,
                                     bool is_8bit) {
  // BitsPerDim's +8 is the 8-bit quantization.
  return objectives::BitsPerDim(log_p_y, log_det, d).cpu() -
         (is_8bit ? 0.0 : 8.0);
}

absl::StatusOr<ElboBitsPerDim> ElboBpd(
    const diffusions::DiffusionImpl& diffusion,
    const objectives::ScoreNetwork& network, const at::Tensor& y,
    const at::Tensor& log_det, bool is_8bit,
    const objectives::ElboOptions& options, c10::optional<at::Generator> gen) {
  absl::StatusOr<objectives::ElboTerms> terms =
      objectives::DsmElbo(diffusion, network, y, options, gen);
  if (!terms.ok()) return terms.status();
  const int64_t d = y[0].numel();
  return ElboBitsPerDim{
      LogLikelihoodToBitsPerDim(terms->elbo, log_det, d, is_8bit),
      LogLikelihoodToBitsPerDim(terms->elbo_with_offset, log_det, d, is_8bit)};
}

absl::StatusOr<OdeLikelihood> OdeLogLikelihood(
    const diffusions::DiffusionImpl& diffusion,
    const sampling::ScoreFunction& score, const at::Tensor& u_0,
    const OdeLikelihoodOptions& options, c10::optional<at::Generator> gen) {
  const int64_t batch = u_0.size(0);
  const int64_t n = u_0[0].numel();  // K d.
  const int64_t d = n / diffusion.num_vars();
  const at::IntArrayRef shape = u_0.sizes();
  const at::ScalarType model_dtype = u_0.scalar_type();
  // Probes, fixed along the trajectory so the ODE stays deterministic.
  at::Tensor probes;
  if (options.divergence == DivergenceMethod::kGaussian) {
    probes =
        at::randn(shape, gen, u_0.options().device(at::kCPU)).to(u_0.device());
  } else if (options.divergence == DivergenceMethod::kRademacher) {
    probes = at::randint(0, 2, shape, gen, u_0.options().device(at::kCPU))
                 .mul_(2)
                 .sub_(1)
                 .to(u_0.device());
  }
  // The state: u flattened, then the accumulated divergence; float64.
  const sampling::OdeFunction field =
      [&](double t, const at::Tensor& state) -> absl::StatusOr<at::Tensor> {
    const at::Tensor t_one = at::full({1}, t, at::kDouble);
    const at::Tensor half_GGt = 0.5 * diffusion.DiffusionMatrix(t_one)[0];
    at::Tensor u = state.slice(1, 0, n).reshape(shape).to(model_dtype);
    at::Tensor score_term, divergence;
    {
      at::AutoGradMode grad(true);
      u = u.detach().requires_grad_(true);
      absl::StatusOr<at::Tensor> s = score(u, t);
      if (!s.ok()) return s.status();
      score_term = sde::ApplyMatrix(half_GGt, *s);
      if (options.divergence == DivergenceMethod::kExact) {
        const at::Tensor flat = score_term.reshape({batch, n});
        std::vector<at::Tensor> diagonal;
        for (int64_t i = 0; i < n; ++i) {
          const at::Tensor g = torch::autograd::grad(
              {flat.select(1, i).sum()}, {u}, {}, /*retain_graph=*/true)[0];
          diagonal.push_back(g.reshape({batch, n}).select(1, i));
        }
        divergence = at::stack(diagonal, 1).sum(1);
      } else {
        const at::Tensor g =
            torch::autograd::grad({(score_term * probes).sum()}, {u})[0];
        divergence = (g * probes).reshape({batch, -1}).sum(1);
      }
    }
    const at::Tensor t_batch = at::full({batch}, t, at::kDouble);
    const at::Tensor velocity =
        diffusion.Drift(u.detach(), t_batch) - score_term.detach();
    const at::Tensor div_f = diffusion.DriftDivergence(t_one, d);
    const at::Tensor div_F = div_f.to(u.device()).expand({batch}) -
                             divergence.detach().to(at::kDouble);
    return at::cat(
        {velocity.reshape({batch, n}).to(at::kDouble), div_F.unsqueeze(1)}, 1);
  };
  const at::Tensor start =
      at::cat({u_0.reshape({batch, n}).to(at::kDouble),
               at::zeros({batch, 1}, u_0.options().dtype(at::kDouble))},
              1);
  absl::StatusOr<sampling::OdeResult> ode = sampling::DormandPrince(
      field, start, options.t_min, options.t_max, options.adaptive);
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
  at::Tensor v_0 = diffusion.SampleV0(x.cpu(), gen).to(x.device());
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
