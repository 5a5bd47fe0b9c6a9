// Time schedules of the forward SDE: beta(t) and its integral B(t)
// (docs/math.md section 1). Every process multiplies its drift and diffusion
// by beta(t), so the transition kernel depends on t only through B(t).
#ifndef MDM_SDE_SCHEDULE_H_
#define MDM_SDE_SCHEDULE_H_

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"

namespace mdm::sde {

enum class ScheduleKind {
  kLinear,    // "inhom": beta(t) = beta_0 + t (beta_1 - beta_0).
  kConstant,  // "hom":   beta(t) = beta_0.
};

// An immutable beta(t). Tensor overloads work elementwise on any shape,
// dtype and device and are differentiable in t.
//
// Example:
//   auto schedule = BetaSchedule::Linear(0.1, 10.0);
//   at::Tensor B = schedule.IntegratedBeta(t);  // t: [batch]
class BetaSchedule {
 public:
  // The schedule of `kind` (kConstant ignores beta_1), or InvalidArgument
  // unless 0 < beta_0 <= beta_1, both finite: for values from users.
  static absl::StatusOr<BetaSchedule> Create(ScheduleKind kind, double beta_0,
                                             double beta_1);
  // For constants in code: the same checks, failing with c10::Error.
  static BetaSchedule Linear(double beta_0, double beta_1);
  static BetaSchedule Constant(double beta_0);

  ScheduleKind kind() const { return kind_; }
  double beta_0() const { return beta_0_; }
  // Equal to beta_0 for the constant schedule.
  double beta_1() const { return beta_1_; }

  // beta(t).
  double Beta(double t) const;
  at::Tensor Beta(const at::Tensor& t) const;

  // B(t) = int_0^t beta(s) ds = beta_0 t + (beta_1 - beta_0) t^2 / 2.
  double IntegratedBeta(double t) const;
  at::Tensor IntegratedBeta(const at::Tensor& t) const;

  // The t >= 0 with B(t) = int_beta (B is strictly increasing), in closed
  // form: the positive root of the quadratic, written without cancellation.
  at::Tensor InverseIntegratedBeta(const at::Tensor& int_beta) const;

 private:
  BetaSchedule(ScheduleKind kind, double beta_0, double beta_1)
      : kind_(kind), beta_0_(beta_0), beta_1_(beta_1) {}

  ScheduleKind kind_;
  double beta_0_;
  double beta_1_;
};

}  // namespace mdm::sde

#endif  // MDM_SDE_SCHEDULE_H_
