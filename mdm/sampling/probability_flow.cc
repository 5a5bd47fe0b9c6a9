#include "mdm/sampling/probability_flow.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

#include "mdm/sde/block_ops.h"

namespace mdm::sampling {

OdeFunction ProbabilityFlowField(const diffusions::DiffusionImpl& diffusion,
                                 const ScoreFunction& score,
                                 c10::optional<int64_t> bin) {
  return [&diffusion, score, bin](
             double t, const at::Tensor& u) -> absl::StatusOr<at::Tensor> {
    absl::StatusOr<at::Tensor> s = score(u, t);
    if (!s.ok()) return s.status();
    const at::Tensor t_tensor =
        at::full({1}, t, u.options().dtype(at::kDouble));
    // 1/2 G G^T = beta D, [K, K] for the whole batch.
    const at::Tensor half_GGt =
        0.5 * diffusion.DiffusionMatrix(t_tensor, bin)[0];
    return diffusion.Drift(
               u, at::full({u.size(0)}, t, u.options().dtype(at::kDouble)),
               bin) -
           sde::ApplyMatrix(half_GGt, *s);
  };
}

namespace {

// The times from t0 to t1 (either direction) with every bin boundary
// strictly between them, in the order of travel.
std::vector<double> Stops(const diffusions::DiffusionImpl& diffusion, double t0,
                          double t1) {
  std::vector<double> stops = {t0};
  std::vector<double> inner;
  for (double b : diffusion.BinBoundaries()) {
    if (b > std::min(t0, t1) && b < std::max(t0, t1)) inner.push_back(b);
  }
  if (t1 < t0) std::reverse(inner.begin(), inner.end());
  stops.insert(stops.end(), inner.begin(), inner.end());
  stops.push_back(t1);
  return stops;
}

void Accumulate(const OdeResult& part, OdeResult& total) {
  total.y = part.y;
  total.function_evaluations += part.function_evaluations;
  total.accepted_steps += part.accepted_steps;
  total.rejected_steps += part.rejected_steps;
}

}  // namespace

absl::StatusOr<OdeResult> DormandPrinceAcrossBins(
    const diffusions::DiffusionImpl& diffusion, const BinnedOdeFunction& field,
    const at::Tensor& y0, double t0, double t1,
    const AdaptiveOptions& options) {
  if (diffusion.time_bins() == 1) {
    return DormandPrince(field(c10::nullopt), y0, t0, t1, options);
  }
  const std::vector<double> stops = Stops(diffusion, t0, t1);
  OdeResult total;
  total.y = y0;
  for (size_t i = 0; i + 1 < stops.size(); ++i) {
    const int64_t bin = diffusion.BinOf(0.5 * (stops[i] + stops[i + 1]));
    absl::StatusOr<OdeResult> part =
        DormandPrince(field(bin), total.y, stops[i], stops[i + 1], options);
    if (!part.ok()) return part.status();
    Accumulate(*part, total);
  }
  return total;
}

absl::StatusOr<OdeResult> Rk4AcrossBins(
    const diffusions::DiffusionImpl& diffusion, const BinnedOdeFunction& field,
    const at::Tensor& y0, const at::Tensor& time_grid) {
  if (diffusion.time_bins() == 1) {
    return Rk4(field(c10::nullopt), y0, time_grid);
  }
  const at::Tensor grid = time_grid.to(at::kCPU, at::kDouble).contiguous();
  const std::vector<double> times(grid.data_ptr<double>(),
                                  grid.data_ptr<double>() + grid.numel());
  const std::vector<double> stops =
      Stops(diffusion, times.front(), times.back());
  const bool down = times.back() < times.front();
  OdeResult total;
  total.y = y0;
  for (size_t i = 0; i + 1 < stops.size(); ++i) {
    const double from = stops[i], to = stops[i + 1];
    // The grid's times strictly inside this stretch, between its ends.
    std::vector<double> part = {from};
    for (double t : times) {
      if (down ? (t < from && t > to) : (t > from && t < to)) part.push_back(t);
    }
    part.push_back(to);
    const int64_t bin = diffusion.BinOf(0.5 * (from + to));
    absl::StatusOr<OdeResult> result =
        // host: the integrator reads its grid as doubles
        Rk4(field(bin), total.y, at::tensor(part, at::kDouble));
    if (!result.ok()) return result.status();
    Accumulate(*result, total);
  }
  return total;
}

absl::StatusOr<SamplerResult> ProbabilityFlowSample(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, double t_max, double t_min,
    const ProbabilityFlowOptions& options) {
  at::NoGradGuard no_grad;
  const BinnedOdeFunction field = [&](c10::optional<int64_t> bin) {
    return ProbabilityFlowField(diffusion, score, bin);
  };
  absl::StatusOr<OdeResult> ode =
      options.solver == ProbabilityFlowOptions::Solver::kRk4
          ? Rk4AcrossBins(diffusion, field, u_T, options.time_grid)
          : DormandPrinceAcrossBins(diffusion, field, u_T, t_max, t_min,
                                    options.adaptive);
  if (!ode.ok()) return ode.status();
  SamplerResult result;
  result.u = ode->y;
  result.score_evaluations = ode->function_evaluations;
  return result;
}

}  // namespace mdm::sampling
