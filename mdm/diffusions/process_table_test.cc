#include "mdm/proto/process_table.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "mdm/diffusions/factory.h"
#include "mdm/proto/experiment_config.h"

namespace mdm::diffusions {
namespace {

using proto::DiffusionConfig;
using proto::FindProcess;
using proto::NoiseFreeData;
using proto::ProcessTraits;
using proto::ResolvedNumVars;

// proto's process table agrees with the processes the factory builds:
// each default K is the built diffusion's K, and "noise-free data" is
// D_00 = 0.
TEST(ProcessTableTest, RowsDescribeTheBuiltProcesses) {
  for (const auto type :
       {DiffusionConfig::VPSDE, DiffusionConfig::CLD, DiffusionConfig::ALDA,
        DiffusionConfig::MALDA, DiffusionConfig::LEARNED}) {
    const ProcessTraits* traits = FindProcess(type);
    ASSERT_NE(traits, nullptr) << DiffusionConfig::SdeType_Name(type);
    DiffusionConfig config;
    config.set_sde_type(type);
    EXPECT_EQ(ResolvedNumVars(config), traits->default_vars);
    absl::StatusOr<Diffusion> diffusion = CreateDiffusion(config, 0);
    ASSERT_TRUE(diffusion.ok()) << diffusion.status();
    EXPECT_EQ((*diffusion)->num_vars(), traits->default_vars);
    const double d00 = (*diffusion)->D()[0][0].item<double>();
    EXPECT_EQ(d00 == 0.0, traits->noise_free_data)
        << DiffusionConfig::SdeType_Name(type) << " D_00 = " << d00;
    EXPECT_EQ(NoiseFreeData(config), traits->noise_free_data);
  }
}

TEST(ProcessTableTest, ValidationUsesTheAllowedRange) {
  DiffusionConfig config;
  config.set_sde_type(DiffusionConfig::MALDA);
  config.set_n_vars(1);
  EXPECT_EQ(proto::ValidateDiffusionConfig(config).message(),
            "diffusion.n_vars must be at least 2 for MALDA, got 1");
  config.set_n_vars(5);
  EXPECT_TRUE(proto::ValidateDiffusionConfig(config).ok());
  config.set_sde_type(DiffusionConfig::CLD);
  EXPECT_EQ(proto::ValidateDiffusionConfig(config).message(),
            "diffusion.n_vars must be 2 for CLD, got 5");
}

TEST(ProcessTableTest, CustomProcessesAreReadFromTheirMatrices) {
  DiffusionConfig config;
  config.set_sde_type(DiffusionConfig::CUSTOM);
  EXPECT_EQ(FindProcess(DiffusionConfig::CUSTOM), nullptr);
  for (double x : {0.0, 1.0, -1.0, 0.0}) config.add_q(x);
  for (double x : {0.0, 0.0, 0.0, 1.0}) config.add_d(x);
  EXPECT_EQ(ResolvedNumVars(config), 2);
  EXPECT_TRUE(NoiseFreeData(config));
  config.set_d(0, 0.5);
  EXPECT_FALSE(NoiseFreeData(config));
}

}  // namespace
}  // namespace mdm::diffusions
