#include "mdm/sde/schedule.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace mdm::sde {

absl::StatusOr<BetaSchedule> BetaSchedule::Create(ScheduleKind kind,
                                                  double beta_0,
                                                  double beta_1) {
  if (!(std::isfinite(beta_0) && beta_0 > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("beta_0 must be positive and finite, got ", beta_0));
  }
  if (kind == ScheduleKind::kConstant) {
    return BetaSchedule(kind, beta_0, beta_0);
  }
  if (!(std::isfinite(beta_1) && beta_1 >= beta_0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "beta_1 must be finite and at least beta_0 = ", beta_0, ", got ",
        beta_1));
  }
  return BetaSchedule(kind, beta_0, beta_1);
}

BetaSchedule BetaSchedule::Linear(double beta_0, double beta_1) {
  absl::StatusOr<BetaSchedule> schedule =
      Create(ScheduleKind::kLinear, beta_0, beta_1);
  TORCH_CHECK(schedule.ok(), std::string(schedule.status().message()));
  return *schedule;
}

BetaSchedule BetaSchedule::Constant(double beta_0) {
  absl::StatusOr<BetaSchedule> schedule =
      Create(ScheduleKind::kConstant, beta_0, beta_0);
  TORCH_CHECK(schedule.ok(), std::string(schedule.status().message()));
  return *schedule;
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
