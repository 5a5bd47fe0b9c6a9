#include "mdm/objectives/time_sampling.h"

#include <ATen/ATen.h>

namespace mdm::objectives {
namespace {

// log(e^B - 1) = B + log(1 - e^{-B}), stable for B -> 0 and B -> infinity.
at::Tensor LogExpm1(const at::Tensor& B) { return B + at::log(-at::expm1(-B)); }

double ScalarCdf(const sde::BetaSchedule& schedule, double t) {
  // host: a scalar in, a scalar out
  return LogExpm1(at::full({1}, schedule.IntegratedBeta(t), at::kDouble))
      .item<double>();
}

}  // namespace

UniformTimeSampler::UniformTimeSampler(double t_min, double t_max)
    : t_min_(t_min), t_max_(t_max) {
  TORCH_CHECK(0 <= t_min && t_min < t_max, "need 0 <= t_min < t_max");
}

TimeSample UniformTimeSampler::Sample(int64_t n,
                                      const at::TensorOptions& options,
                                      c10::optional<at::Generator> gen) const {
  const at::TensorOptions f64 = options.dtype(at::kDouble);
  const at::Tensor t = t_min_ + (t_max_ - t_min_) * at::rand({n}, gen, f64);
  return {.t = t, .density = Density(t)};
}

at::Tensor UniformTimeSampler::Density(const at::Tensor& t) const {
  return at::full_like(t, 1.0 / (t_max_ - t_min_), at::kDouble);
}

ImportanceTimeSampler::ImportanceTimeSampler(sde::BetaSchedule schedule,
                                             double t_min, double t_max)
    : schedule_(schedule), t_min_(t_min), t_max_(t_max) {
  TORCH_CHECK(0 < t_min && t_min < t_max,
              "the importance sampler needs 0 < t_min < t_max: its density "
              "is not integrable at 0");
  R_min_ = ScalarCdf(schedule_, t_min_);
  R_max_ = ScalarCdf(schedule_, t_max_);
}

at::Tensor ImportanceTimeSampler::Cdf(const at::Tensor& t) const {
  return LogExpm1(schedule_.IntegratedBeta(t.to(at::kDouble)));
}

TimeSample ImportanceTimeSampler::Sample(
    int64_t n, const at::TensorOptions& options,
    c10::optional<at::Generator> gen) const {
  const at::Tensor u = at::rand({n}, gen, options.dtype(at::kDouble));
  const at::Tensor t = InverseCdf(R_min_ + u * (R_max_ - R_min_));
  return {.t = t, .density = Density(t)};
}

at::Tensor ImportanceTimeSampler::InverseCdf(const at::Tensor& R) const {
  // e^B - 1 = e^R  =>  B = log(1 + e^R) = softplus(R).
  return schedule_.InverseIntegratedBeta(at::softplus(R)).clamp(t_min_,
                                                                 t_max_);
}

at::Tensor ImportanceTimeSampler::Density(const at::Tensor& t) const {
  const at::Tensor t64 = t.to(at::kDouble);
  const at::Tensor B = schedule_.IntegratedBeta(t64);
  const at::Tensor r = schedule_.Beta(t64) / (-at::expm1(-B));
  return r / (R_max_ - R_min_);
}

AdaptiveTimeSamplerImpl::AdaptiveTimeSamplerImpl(
    sde::BetaSchedule schedule, double t_min, double t_max,
    const AdaptiveTimeSamplerOptions& options)
    : vp_(schedule, t_min, t_max), options_(options) {
  TORCH_CHECK(options.bins >= 2, "the adaptive proposal needs >= 2 bins");
  TORCH_CHECK(options.vp_share > 0 && options.vp_share <= 1,
              "vp_share must be in (0, 1]");
  TORCH_CHECK(options.decay >= 0 && options.decay < 1,
              "decay must be in [0, 1)");
  second_moment_ = register_buffer(
      "second_moment", at::ones({options.bins}, at::kDouble));
  observed_ =
      register_buffer("observed", at::zeros({options.bins}, at::kDouble));
  pending_ = at::zeros({2, options.bins}, at::kDouble);
}

at::Tensor AdaptiveTimeSamplerImpl::Masses() const {
  const at::Tensor m = second_moment_.to(at::kCPU);
  // Bins never observed weigh as the mean observed one (or all alike).
  const at::Tensor seen = observed_.to(at::kCPU) > 0;
  const at::Tensor filled =
      seen.any().item<bool>()
          ? at::where(seen, m, m.masked_select(seen).mean())
          : at::ones_like(m);
  const at::Tensor w = filled.sqrt() / filled.sqrt().sum();
  return (1 - options_.vp_share) * w + options_.vp_share / options_.bins;
}

at::Tensor AdaptiveTimeSamplerImpl::BinOf(const at::Tensor& t) const {
  const double width = (vp_.R_max() - vp_.R_min()) / options_.bins;
  return ((vp_.Cdf(t) - vp_.R_min()) / width)
      .floor()
      .clamp(0, options_.bins - 1)
      .to(at::kLong);
}

TimeSample AdaptiveTimeSamplerImpl::Sample(
    int64_t n, const at::TensorOptions& options,
    c10::optional<at::Generator> gen) const {
  const at::TensorOptions f64 = options.dtype(at::kDouble);
  // A bin by its mass (inverse CDF of a uniform draw), then R uniform in
  // it: two uniforms per draw, from the caller's generator and device.
  const at::Tensor cdf = Masses().cumsum(0).to(f64.device());
  const at::Tensor pick = at::rand({n}, gen, f64);
  const at::Tensor bin =
      at::searchsorted(cdf, pick, /*out_int32=*/false, /*right=*/true)
          .clamp_max(options_.bins - 1);
  const at::Tensor within = at::rand({n}, gen, f64);
  const double width = (vp_.R_max() - vp_.R_min()) / options_.bins;
  const at::Tensor t =
      vp_.InverseCdf(vp_.R_min() + (bin.to(at::kDouble) + within) * width);
  return {.t = t, .density = Density(t)};
}

at::Tensor AdaptiveTimeSamplerImpl::Density(const at::Tensor& t) const {
  const at::Tensor masses = Masses().to(t.device());
  return options_.bins * masses.index_select(0, BinOf(t).flatten())
                             .view(t.sizes()) *
         vp_.Density(t);
}

void AdaptiveTimeSamplerImpl::Observe(const at::Tensor& t,
                                      const at::Tensor& integrand) {
  const at::NoGradGuard no_grad;
  const at::Tensor bin = BinOf(t.detach()).to(at::kCPU).flatten();
  const at::Tensor value =
      (integrand.detach().to(at::kDouble) / vp_.Density(t.detach()))
          .square()
          .to(at::kCPU)
          .flatten();
  // A non-finite loss (a step the trainer will refuse) teaches nothing.
  const at::Tensor finite = value.isfinite();
  pending_[0].index_add_(0, bin, at::where(finite, value, at::zeros_like(value)));
  pending_[1].index_add_(0, bin, finite.to(at::kDouble));
}

void AdaptiveTimeSamplerImpl::Update() {
  const at::NoGradGuard no_grad;
  const at::Tensor counts = pending_[1];
  const at::Tensor seen = counts > 0;
  const at::Tensor mean = pending_[0] / counts.clamp_min(1);
  at::Tensor m = second_moment_.to(at::kCPU);
  const at::Tensor was = observed_.to(at::kCPU) > 0;
  // The first observation of a bin sets it; later ones average in.
  const at::Tensor updated =
      at::where(was, options_.decay * m + (1 - options_.decay) * mean, mean);
  m = at::where(seen, updated, m);
  second_moment_.copy_(m);
  observed_.copy_(at::where(seen, at::ones_like(m), observed_.to(at::kCPU)));
  pending_.zero_();
}

}  // namespace mdm::objectives
