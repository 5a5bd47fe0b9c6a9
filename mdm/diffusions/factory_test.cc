#include "mdm/diffusions/factory.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "mdm/diffusions/processes.h"
#include "mdm/testing/textproto.h"

namespace mdm::diffusions {
namespace {

using ::mdm::proto::DiffusionConfig;
using ::mdm::testing::ParseTextProtoOrDie;
using ::testing::HasSubstr;

absl::StatusOr<Diffusion> Create(const std::string& text, uint64_t seed = 0) {
  return CreateDiffusion(ParseTextProtoOrDie<DiffusionConfig>(text), seed);
}

void ExpectMatrices(const Diffusion& diffusion, const QdMatrices& expected) {
  EXPECT_TRUE(
      at::allclose(diffusion->Q().to(at::kDouble), expected.Q, 0, 1e-15));
  EXPECT_TRUE(
      at::allclose(diffusion->D().to(at::kDouble), expected.D, 0, 1e-15));
}

TEST(FactoryTest, FixedProcessesHaveTheirMatrices) {
  absl::StatusOr<Diffusion> vp = Create("sde_type: VPSDE");
  ASSERT_TRUE(vp.ok());
  ExpectMatrices(*vp, VpsdeMatrices());
  absl::StatusOr<Diffusion> cld = Create("sde_type: CLD stationary_aux_var: 4");
  ASSERT_TRUE(cld.ok());
  ExpectMatrices(*cld, CldMatrices(4.0));
  absl::StatusOr<Diffusion> malda = Create("sde_type: MALDA n_vars: 5");
  ASSERT_TRUE(malda.ok());
  ExpectMatrices(*malda, MaldaMatrices(5, 1.0));
  absl::StatusOr<Diffusion> alda = Create(
      "sde_type: ALDA alda_gamma: 2 alda_psi: 0.5 stationary_aux_var: 0.5");
  ASSERT_TRUE(alda.ok());
  ExpectMatrices(*alda, AldaMatrices(0.5, 2.0, 0.5));
  absl::StatusOr<Diffusion> custom =
      Create("sde_type: CUSTOM q: [0, 2, -2, 0] d: [1, 0, 0, 0]");
  ASSERT_TRUE(custom.ok());
  EXPECT_EQ((*custom)->Q()[0][1].item<double>(), 2.0);
  EXPECT_EQ((*custom)->D()[0][0].item<double>(), 1.0);
}

TEST(FactoryTest, OptionsComeFromTheConfig) {
  absl::StatusOr<Diffusion> d = Create(
      "sde_type: CLD stationary_x_var: 2 init_aux_var: 0.3 beta_fn_type: HOM "
      "beta_0: 1.5 t_max: 2");
  ASSERT_TRUE(d.ok());
  const DiffusionOptions& options = (*d)->options();
  EXPECT_EQ(options.stationary_x_var(), 2.0);
  EXPECT_EQ(options.init_aux_var(), 0.3);
  EXPECT_EQ(options.t_max(), 2.0);
  EXPECT_EQ(options.schedule().kind(), sde::ScheduleKind::kConstant);
  EXPECT_EQ(options.schedule().IntegratedBeta(2.0), 3.0);
  EXPECT_EQ((*d)->stationary_var()[0].item<double>(), 2.0);
}

TEST(FactoryTest, LearnedProcessIsSeededAndTrainable) {
  absl::StatusOr<Diffusion> a = Create("sde_type: LEARNED n_vars: 3", 1);
  absl::StatusOr<Diffusion> b = Create("sde_type: LEARNED n_vars: 3", 1);
  absl::StatusOr<Diffusion> c = Create("sde_type: LEARNED n_vars: 3", 2);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE((*a)->learned());
  EXPECT_EQ((*a)->num_vars(), 3);
  EXPECT_TRUE(at::equal((*a)->Q(), (*b)->Q()));
  EXPECT_FALSE(at::equal((*a)->Q(), (*c)->Q()));
  const auto named = (*a)->named_parameters();
  EXPECT_NE(named.find("qd.W"), nullptr);
  EXPECT_NE(named.find("qd.d"), nullptr);
  absl::StatusOr<Diffusion> full = Create("sde_type: LEARNED d_full: true");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ((*full)->named_parameters()["qd.d"].sizes(),
            at::IntArrayRef({2, 2}));
  absl::StatusOr<Diffusion> cholesky =
      Create("sde_type: LEARNED d_full: true d_full_cholesky: true");
  ASSERT_TRUE(cholesky.ok());
  EXPECT_NE((*cholesky)->named_parameters().find("qd.L"), nullptr);
}

TEST(FactoryTest, InvalidConfigsGiveTheValidationMessage) {
  absl::StatusOr<Diffusion> d = Create("sde_type: CLD n_vars: 3");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(std::string(d.status().message()),
            "diffusion.n_vars must be 2 for CLD, got 3");
  d = Create("sde_type: CUSTOM q: [0, 1, -1, 0] d: [1, 2, 2, 1]");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("positive semi-definite"));
}

}  // namespace
}  // namespace mdm::diffusions
