#include "mdm/sde/schedule.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

namespace mdm::sde {

BetaSchedule BetaSchedule::Linear(double beta_0, double beta_1) {
  CHECK_GT(beta_0, 0.0) << "beta_0 must be positive";
  CHECK_GE(beta_1, beta_0) << "beta_1 must be at least beta_0";
  return BetaSchedule(ScheduleKind::kLinear, beta_0, beta_1);
}

BetaSchedule BetaSchedule::Constant(double beta_0) {
  CHECK_GT(beta_0, 0.0) << "beta_0 must be positive";
  return BetaSchedule(ScheduleKind::kConstant, beta_0, beta_0);
}

double BetaSchedule::Beta(double t) const {
  return beta_0_ + t * (beta_1_ - beta_0_);
}

at::Tensor BetaSchedule::Beta(const at::Tensor& t) const {
  return beta_0_ + t * (beta_1_ - beta_0_);
}

double BetaSchedule::IntegratedBeta(double t) const {
  return beta_0_ * t + 0.5 * (beta_1_ - beta_0_) * t * t;
}

at::Tensor BetaSchedule::IntegratedBeta(const at::Tensor& t) const {
  return beta_0_ * t + (0.5 * (beta_1_ - beta_0_)) * t * t;
}

at::Tensor BetaSchedule::InverseIntegratedBeta(
    const at::Tensor& int_beta) const {
  const double slope = beta_1_ - beta_0_;
  if (slope == 0) return int_beta / beta_0_;
  // beta_0 t + slope t^2 / 2 = B  =>  t = 2 B / (beta_0 + sqrt(beta_0^2 + 2
  // slope B)).
  return 2.0 * int_beta /
         (beta_0_ + at::sqrt(beta_0_ * beta_0_ + 2.0 * slope * int_beta));
}

}  // namespace mdm::sde
