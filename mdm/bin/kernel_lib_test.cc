#include "mdm/bin/kernel_lib.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

namespace mdm::bin {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;

json RunJson(const std::string& process, const std::string& times,
             std::vector<std::string> overrides = {}) {
  absl::StatusOr<std::string> out = RunKernelTool({
      .config_path = "configs/fashion_mnist/" + process + ".textproto",
      .overrides = std::move(overrides),
      .times = times,
      .format = KernelFormat::kJson,
  });
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? json::parse(*out) : json();
}

std::string RunError(const KernelToolOptions& options) {
  absl::StatusOr<std::string> out = RunKernelTool(options);
  EXPECT_FALSE(out.ok());
  return std::string(out.status().message());
}

TEST(KernelToolTest, VpsdeMatchesClosedForms) {
  const json report = RunJson("vpsde", "0.5,1");
  EXPECT_EQ(report["sde_type"], "VPSDE");
  EXPECT_EQ(report["n_vars"], 1);
  EXPECT_EQ(report["A"][0][0].get<double>(), -0.5);
  ASSERT_EQ(report["times"].size(), 2u);
  const json& at_half = report["times"][0];
  const double B = 0.1 * 0.5 + 0.5 * 9.9 * 0.25;
  EXPECT_EQ(at_half["t"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(at_half["int_beta"].get<double>(), B);
  EXPECT_NEAR(at_half["mean_coef"][0][0].get<double>(), std::exp(-B / 2),
              1e-14);
  EXPECT_NEAR(at_half["cov_full"][0][0].get<double>(), -std::expm1(-B), 1e-13);
  // K = 1: the hybrid kernel is the full one.
  EXPECT_EQ(at_half["cov_hybrid"], at_half["cov_full"]);
  EXPECT_NEAR(at_half["chol_full"][0][0].get<double>(),
              std::sqrt(-std::expm1(-B)), 1e-13);
}

TEST(KernelToolTest, CldLayoutAndTimeZero) {
  const json report = RunJson("cld", "0,1");
  for (const char* key :
       {"Q", "D", "A", "A_eigenvalues", "stationary_cov", "times"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["Q"], json::parse("[[0.0, -1.0], [1.0, 0.0]]"));
  EXPECT_EQ(report["D"], json::parse("[[0.0, 0.0], [0.0, 2.0]]"));
  // A = -(Q + D) = [[0, 1], [-1, -2]]: critically damped, eigenvalue -1 twice.
  EXPECT_EQ(report["A"], json::parse("[[-0.0, 1.0], [-1.0, -2.0]]"));
  for (const json& e : report["A_eigenvalues"]) {
    EXPECT_NEAR(e[0].get<double>(), -1.0, 1e-6);
  }
  const json& at_zero = report["times"][0];
  EXPECT_EQ(at_zero["mean_coef"], json::parse("[[1.0, 0.0], [0.0, 1.0]]"));
  EXPECT_EQ(at_zero["cov_full"], json::parse("[[0.0, 0.0], [0.0, 0.0]]"));
  EXPECT_EQ(at_zero["cov_hybrid"], json::parse("[[0.0, 0.0], [0.0, 0.01]]"));
  EXPECT_EQ(at_zero["chol_hybrid"], json::parse("[[0.0, 0.0], [0.0, 0.1]]"));
  // At t = 1 every factor reconstructs its covariance.
  const json& at_one = report["times"][1];
  for (const char* kind : {"full", "hybrid"}) {
    const json& L = at_one[std::string("chol_") + kind];
    const json& cov = at_one[std::string("cov_") + kind];
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        double sum = 0;
        for (int k = 0; k < 2; ++k) {
          sum += L[i][k].get<double>() * L[j][k].get<double>();
        }
        EXPECT_NEAR(sum, cov[i][j].get<double>(), 1e-13) << kind;
      }
    }
  }
}

TEST(KernelToolTest, OverridesAndFullPrecision) {
  const json report =
      RunJson("alda", "0.000001", {"diffusion.alda_gamma=0.1", "seed=3"});
  // Q[2][1] = gamma, printed so that it parses back to the same double.
  EXPECT_EQ(report["Q"][2][1].get<double>(), 0.1);
  // At t = 1e-6 ALDA's full covariance (its x variance ~ t^5) factors as
  // it is, while the hybrid one needs jitter; the report says how much.
  EXPECT_EQ(report["times"][0]["jitter_full"].get<double>(), 0.0);
  EXPECT_GT(report["times"][0]["jitter_hybrid"].get<double>(), 0.0);
}

TEST(KernelToolTest, LearnedProcessIsMarkedAndSeeded) {
  const json a = RunJson("learned_3", "0.5");
  const json b = RunJson("learned_3", "0.5", {"seed=1"});
  EXPECT_TRUE(a["learned"].get<bool>());
  EXPECT_EQ(a["n_vars"], 3);
  EXPECT_NE(a["Q"], b["Q"]);
}

// A time-binned process reports every bin's matrices and the times it
// covers; the kernel composes them (here three equal bins at the start, so
// their kernel is the one-bin process's).
TEST(KernelToolTest, TimeBinnedProcessShowsEveryBin) {
  const json one = RunJson("learned_3", "0.9");
  const json three = RunJson("learned_3", "0.9", {"diffusion.time_bins=3"});
  EXPECT_EQ(one["time_bins"], 1);
  ASSERT_EQ(three["time_bins"], 3);
  ASSERT_EQ(three["bins"].size(), 3u);
  EXPECT_FALSE(three.contains("Q"));
  EXPECT_EQ(three["bins"][0]["t_from"].get<double>(), 0.0);
  EXPECT_EQ(three["bins"][2]["t_to"].get<double>(), 1.0);
  // B(t) = 0.1 t + 4.95 t^2 = 5.05 / 3 at t = 0.573139.
  EXPECT_NEAR(three["bins"][1]["t_from"].get<double>(), 0.573139, 1e-6);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(three["bins"][k]["Q"], one["Q"]);
  const json& a = one["times"][0]["cov_hybrid"];
  const json& b = three["times"][0]["cov_hybrid"];
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(a[i][j].get<double>(), b[i][j].get<double>(), 1e-13);
    }
  }
  absl::StatusOr<std::string> text = RunKernelTool({
      .config_path = "configs/fashion_mnist/learned_3.textproto",
      .overrides = {"diffusion.time_bins=3"},
      .times = "0.9",
  });
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("time bin 2: t in (0.814664, 1]"));
}

TEST(KernelToolTest, TextFormatShowsEveryBlock) {
  absl::StatusOr<std::string> out = RunKernelTool({
      .config_path = "configs/fashion_mnist/malda.textproto",
      .times = "0.5",
  });
  ASSERT_TRUE(out.ok()) << out.status();
  for (const char* part :
       {"diffusion MALDA, K = 3", "Q =", "D =", "A =", "stationary_cov =",
        "eigenvalues of A:", "t = 0.5, B(t) = 1.2875", "chol_hybrid ="}) {
    EXPECT_THAT(*out, HasSubstr(part));
  }
}

TEST(KernelToolTest, BadInputGivesOneClearError) {
  EXPECT_EQ(RunError({.config_path = ""}),
            "pass exactly one of --config and --checkpoint");
  EXPECT_THAT(RunError({.config_path = "configs/nope.textproto"}),
              HasSubstr("cannot open config file configs/nope.textproto"));
  EXPECT_EQ(RunError({.config_path = "configs/fashion_mnist/cld.textproto",
                      .times = "0.5,2"}),
            "--t: 2 is outside [0, T_max = 1]");
  EXPECT_EQ(RunError({.config_path = "configs/fashion_mnist/cld.textproto",
                      .times = "0.5,x"}),
            "--t: 'x' is not a number");
  EXPECT_EQ(RunError({.config_path = "configs/fashion_mnist/cld.textproto",
                      .times = "-0.1"}),
            "--t: -0.1 is outside [0, T_max = 1]");
  EXPECT_THAT(RunError({.config_path = "configs/fashion_mnist/cld.textproto",
                        .overrides = {"diffusion.sde_type=CUSTOM",
                                      "diffusion.q=[0, 1, 1, 0]",
                                      "diffusion.d=[1, 0, 0, 1]"}}),
              HasSubstr("diffusion.q must be antisymmetric"));
  EXPECT_FALSE(ParseKernelFormat("yaml").ok());
}

}  // namespace
}  // namespace mdm::bin
