#include "mdm/sde/schedule.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace mdm::sde {
namespace {

TEST(BetaScheduleTest, LinearMatchesClosedForm) {
  const auto schedule = BetaSchedule::Linear(0.1, 10.0);
  EXPECT_EQ(schedule.kind(), ScheduleKind::kLinear);
  EXPECT_DOUBLE_EQ(schedule.Beta(0.0), 0.1);
  EXPECT_DOUBLE_EQ(schedule.Beta(1.0), 10.0);
  EXPECT_DOUBLE_EQ(schedule.Beta(0.5), 5.05);
  // B(1) = 0.1 + 9.9 / 2.
  EXPECT_DOUBLE_EQ(schedule.IntegratedBeta(1.0), 5.05);
  EXPECT_DOUBLE_EQ(schedule.IntegratedBeta(0.0), 0.0);
  EXPECT_DOUBLE_EQ(schedule.IntegratedBeta(0.3), 0.03 + 4.95 * 0.09);
}

TEST(BetaScheduleTest, ConstantMatchesClosedForm) {
  const auto schedule = BetaSchedule::Constant(2.5);
  EXPECT_EQ(schedule.kind(), ScheduleKind::kConstant);
  EXPECT_DOUBLE_EQ(schedule.beta_1(), 2.5);
  EXPECT_DOUBLE_EQ(schedule.Beta(0.7), 2.5);
  EXPECT_DOUBLE_EQ(schedule.IntegratedBeta(0.7), 1.75);
}

// Simpson's rule is exact for the quadratic B, so B(t) must equal the
// quadrature of beta to rounding.
TEST(BetaScheduleTest, IntegratedBetaIsTheIntegralOfBeta) {
  const auto schedule = BetaSchedule::Linear(0.3, 17.0);
  for (double t : {0.01, 0.4, 1.0, 3.0}) {
    const double simpson =
        t / 6.0 *
        (schedule.Beta(0.0) + 4.0 * schedule.Beta(t / 2) + schedule.Beta(t));
    EXPECT_NEAR(schedule.IntegratedBeta(t), simpson, 1e-13 * (1 + simpson));
  }
}

TEST(BetaScheduleTest, TensorOverloadsAgreeAndDifferentiateToBeta) {
  const auto schedule = BetaSchedule::Linear(0.1, 20.0);
  const at::Tensor t =
      at::tensor({0.0, 0.001, 0.25, 0.5, 1.0}, at::kDouble).requires_grad_();
  const at::Tensor B = schedule.IntegratedBeta(t);
  const at::Tensor beta = schedule.Beta(t);
  for (int64_t i = 0; i < t.size(0); ++i) {
    const double ti = t[i].item<double>();
    EXPECT_DOUBLE_EQ(B[i].item<double>(), schedule.IntegratedBeta(ti));
    EXPECT_DOUBLE_EQ(beta[i].item<double>(), schedule.Beta(ti));
  }
  B.sum().backward();
  EXPECT_TRUE(at::allclose(t.grad(), beta.detach(), 1e-14, 1e-14));
}

TEST(BetaScheduleTest, InverseIntegratedBetaInvertsB) {
  for (const BetaSchedule& schedule :
       {BetaSchedule::Linear(0.1, 10.0), BetaSchedule::Linear(0.5, 0.5),
        BetaSchedule::Constant(3.0)}) {
    const at::Tensor t =
        at::tensor({0.0, 1e-8, 1e-4, 0.3, 1.0, 7.0}, at::kDouble);
    const at::Tensor back =
        schedule.InverseIntegratedBeta(schedule.IntegratedBeta(t));
    EXPECT_TRUE(at::allclose(back, t, 1e-14, 1e-20)) << back;
  }
}

TEST(BetaScheduleTest, KeepsDtype) {
  const auto schedule = BetaSchedule::Constant(1.0);
  EXPECT_EQ(schedule.IntegratedBeta(at::ones({3}, at::kFloat)).scalar_type(),
            at::kFloat);
}

TEST(BetaScheduleTest, RejectsInvalidParametersWithAStatus) {
  auto error = [](ScheduleKind kind, double beta_0, double beta_1) {
    absl::StatusOr<BetaSchedule> s = BetaSchedule::Create(kind, beta_0, beta_1);
    EXPECT_FALSE(s.ok());
    return std::string(s.status().message());
  };
  EXPECT_EQ(error(ScheduleKind::kLinear, 0.0, 1.0),
            "beta_0 must be positive and finite, got 0");
  EXPECT_EQ(error(ScheduleKind::kLinear, 2.0, 1.0),
            "beta_1 must be finite and at least beta_0 = 2, got 1");
  EXPECT_EQ(error(ScheduleKind::kLinear, 0.1, INFINITY),
            "beta_1 must be finite and at least beta_0 = 0.1, got inf");
  EXPECT_EQ(error(ScheduleKind::kConstant, NAN, 1.0),
            "beta_0 must be positive and finite, got nan");
  ASSERT_TRUE(BetaSchedule::Create(ScheduleKind::kConstant, 2.0, 0.0).ok());
  EXPECT_EQ(BetaSchedule::Create(ScheduleKind::kConstant, 2.0, 0.0)->beta_1(),
            2.0);
  // The constants' shorthands throw instead of aborting.
  EXPECT_THROW(BetaSchedule::Linear(2.0, 1.0), c10::Error);
  EXPECT_THROW(BetaSchedule::Constant(-1.0), c10::Error);
}

}  // namespace
}  // namespace mdm::sde
