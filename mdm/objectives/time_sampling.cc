#include "mdm/objectives/time_sampling.h"

#include <ATen/ATen.h>

namespace mdm::objectives {
namespace {

// log(e^B - 1) = B + log(1 - e^{-B}), stable for B -> 0 and B -> infinity.
at::Tensor LogExpm1(const at::Tensor& B) { return B + at::log(-at::expm1(-B)); }

double ScalarCdf(const sde::BetaSchedule& schedule, double t) {
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
  const at::Tensor R = R_min_ + u * (R_max_ - R_min_);
  // e^B - 1 = e^R  =>  B = log(1 + e^R) = softplus(R).
  const at::Tensor t =
      schedule_.InverseIntegratedBeta(at::softplus(R)).clamp(t_min_, t_max_);
  return {.t = t, .density = Density(t)};
}

at::Tensor ImportanceTimeSampler::Density(const at::Tensor& t) const {
  const at::Tensor t64 = t.to(at::kDouble);
  const at::Tensor B = schedule_.IntegratedBeta(t64);
  const at::Tensor r = schedule_.Beta(t64) / (-at::expm1(-B));
  return r / (R_max_ - R_min_);
}

}  // namespace mdm::objectives
