#include "mdm/proto/experiment_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "mdm/testing/textproto.h"

namespace mdm::proto {
namespace {

using ::mdm::testing::ParseTextProtoOrDie;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

Experiment Valid(absl::string_view text = "") {
  Experiment experiment = ParseTextProtoOrDie<Experiment>(text);
  ResolveDefaults(experiment);
  return experiment;
}

std::string ValidationError(absl::string_view text) {
  absl::Status status = ValidateExperiment(Valid(text));
  EXPECT_FALSE(status.ok()) << text;
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ExperimentConfigTest, DefaultsFollowTheOriginalConfig) {
  const Experiment experiment = Valid();
  EXPECT_TRUE(ValidateExperiment(experiment).ok())
      << ValidateExperiment(experiment);
  EXPECT_EQ(experiment.diffusion().beta_0(), 0.1);
  EXPECT_EQ(experiment.diffusion().beta_1(), 10.0);
  EXPECT_EQ(experiment.diffusion().init_aux_var(), 0.01);
  EXPECT_TRUE(experiment.diffusion().hybrid_transition_kernel());
  EXPECT_EQ(experiment.optimizer().lr(), 0.0002);
  EXPECT_EQ(experiment.optimizer().grad_clip_val(), 2.0);
  EXPECT_EQ(experiment.training().batch_size(), 128);
  EXPECT_EQ(experiment.objective().t_min_train(), 0.001);
  EXPECT_EQ(experiment.sampling().n_fes(), 500);
  EXPECT_EQ(experiment.sampling().sampling_t_arr_fn(),
            SamplingConfig::QUADRATIC);
  EXPECT_THAT(experiment.score_model().ch_mult(),
              ::testing::ElementsAre(1, 2, 2, 2));
}

TEST(ExperimentConfigTest, ResolvesEachProcesssNumberOfVariables) {
  EXPECT_EQ(Valid("diffusion { sde_type: VPSDE }").diffusion().n_vars(), 1);
  EXPECT_EQ(Valid("diffusion { sde_type: CLD }").diffusion().n_vars(), 2);
  EXPECT_EQ(Valid("diffusion { sde_type: ALDA }").diffusion().n_vars(), 3);
  EXPECT_EQ(Valid("diffusion { sde_type: MALDA }").diffusion().n_vars(), 3);
  EXPECT_EQ(Valid("diffusion { sde_type: LEARNED }").diffusion().n_vars(), 2);
  EXPECT_EQ(
      Valid("diffusion { sde_type: MALDA n_vars: 5 }").diffusion().n_vars(), 5);
  EXPECT_EQ(
      Valid("diffusion { sde_type: CUSTOM q: [0, 1, -1, 0] d: [0, 0, 0, 1] }")
          .diffusion()
          .n_vars(),
      2);
}

TEST(ExperimentConfigTest, ParseErrorsNameFileLineAndColumn) {
  const std::string path = WriteTempFile(
      "bad.textproto", "seed: 1\ndiffusion {\n  n_vars: abc\n}\n");
  absl::StatusOr<Experiment> experiment = ReadExperimentFile(path);
  ASSERT_FALSE(experiment.ok());
  EXPECT_THAT(Message(experiment.status()), StartsWith(path + ":3:11: "));
  EXPECT_THAT(Message(experiment.status()), HasSubstr("abc"));
}

// protobuf locates an unknown enum value just after it; the message names it.
TEST(ExperimentConfigTest, UnknownEnumValueIsNamed) {
  absl::StatusOr<Experiment> experiment =
      ParseExperiment("diffusion {\n  sde_type: NOPE\n}\n", "x.textproto");
  ASSERT_FALSE(experiment.ok());
  EXPECT_THAT(Message(experiment.status()), StartsWith("x.textproto:"));
  EXPECT_THAT(Message(experiment.status()),
              HasSubstr("Unknown enumeration value of \"NOPE\" for field "
                        "\"sde_type\""));
}

TEST(ExperimentConfigTest, UnknownFieldIsAParseError) {
  absl::StatusOr<Experiment> experiment =
      ParseExperiment("diffusion {\n sde_typo: CLD\n}", "x.textproto");
  ASSERT_FALSE(experiment.ok());
  EXPECT_THAT(Message(experiment.status()), StartsWith("x.textproto:2:"));
  EXPECT_THAT(Message(experiment.status()), HasSubstr("sde_typo"));
}

TEST(ExperimentConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<Experiment> experiment =
      ReadExperimentFile("/nonexistent/dir/config.textproto");
  ASSERT_FALSE(experiment.ok());
  EXPECT_EQ(experiment.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(experiment.status()),
              HasSubstr("/nonexistent/dir/config.textproto"));
}

TEST(ExperimentConfigTest, OverridesSetScalarsEnumsStringsAndLists) {
  Experiment experiment;
  ASSERT_TRUE(
      ApplyOverrides({"diffusion.n_vars=3", "diffusion.sde_type=MALDA",
                      "output.output_dir=runs/my run", "optimizer.lr=1e-3",
                      "score_model.ch_mult=[1,2]", "seed=7"},
                     experiment)
          .ok());
  EXPECT_EQ(experiment.diffusion().n_vars(), 3);
  EXPECT_EQ(experiment.diffusion().sde_type(), DiffusionConfig::MALDA);
  EXPECT_EQ(experiment.output().output_dir(), "runs/my run");
  EXPECT_EQ(experiment.optimizer().lr(), 1e-3);
  EXPECT_THAT(experiment.score_model().ch_mult(), ::testing::ElementsAre(1, 2));
  EXPECT_EQ(experiment.seed(), 7u);
  // A repeated field is replaced, not appended to; a bare value is a list.
  ASSERT_TRUE(ApplyOverride("score_model.ch_mult=4", experiment).ok());
  EXPECT_THAT(experiment.score_model().ch_mult(), ::testing::ElementsAre(4));
  // A message is replaced whole.
  ASSERT_TRUE(ApplyOverride("diffusion={sde_type: CLD}", experiment).ok());
  EXPECT_EQ(experiment.diffusion().n_vars(), 0);
  EXPECT_EQ(experiment.diffusion().sde_type(), DiffusionConfig::CLD);
}

TEST(ExperimentConfigTest, BadOverridesNameTheProblem) {
  Experiment experiment;
  EXPECT_THAT(Message(ApplyOverride("diffusion.n_vars", experiment)),
              HasSubstr("expected FIELD.PATH=VALUE"));
  EXPECT_THAT(Message(ApplyOverride("diffusion.nvars=3", experiment)),
              HasSubstr("DiffusionConfig has no field 'nvars'"));
  EXPECT_THAT(Message(ApplyOverride("difusion.n_vars=3", experiment)),
              HasSubstr("Experiment has no message field 'difusion'"));
  EXPECT_THAT(Message(ApplyOverride("diffusion.n_vars=three", experiment)),
              HasSubstr("--set=diffusion.n_vars=three"));
  EXPECT_THAT(Message(ApplyOverride("seed.x=1", experiment)),
              HasSubstr("no message field 'seed'"));
}

TEST(ExperimentConfigTest, ValidationNamesTheViolatedConstraint) {
  EXPECT_EQ(ValidationError("diffusion { sde_type: VPSDE n_vars: 2 }"),
            "diffusion.n_vars must be 1 for VPSDE, got 2");
  EXPECT_EQ(ValidationError("diffusion { sde_type: CLD n_vars: 3 }"),
            "diffusion.n_vars must be 2 for CLD, got 3");
  EXPECT_EQ(ValidationError("diffusion { sde_type: ALDA n_vars: 2 }"),
            "diffusion.n_vars must be 3 for ALDA, got 2");
  EXPECT_EQ(ValidationError("diffusion { sde_type: MALDA n_vars: 1 }"),
            "diffusion.n_vars must be at least 2 for MALDA, got 1");
  EXPECT_EQ(ValidationError("diffusion { sde_type: CLD time_bins: 2 }"),
            "diffusion.time_bins > 1 is for LEARNED processes, not CLD");
  EXPECT_EQ(ValidationError("diffusion { sde_type: LEARNED time_bins: 0 }"),
            "diffusion.time_bins must be 1 to 64, got 0");
  EXPECT_EQ(ValidationError("diffusion { sde_type: LEARNED time_bins: 65 }"),
            "diffusion.time_bins must be 1 to 64, got 65");
  EXPECT_EQ(ValidationError("diffusion { beta_0: 0 }"),
            "diffusion.beta_0 must be positive, got 0");
  EXPECT_EQ(ValidationError("diffusion { beta_0: 2 beta_1: 1 }"),
            "diffusion.beta_1 must be at least diffusion.beta_0 = 2, got 1");
  EXPECT_EQ(ValidationError("diffusion { stationary_aux_var: -1 }"),
            "diffusion.stationary_aux_var must be positive, got -1");
  EXPECT_EQ(ValidationError("diffusion { init_aux_var: 0 }"),
            "diffusion.init_aux_var must be positive, got 0");
  EXPECT_EQ(ValidationError("objective { t_min_train: 0 }"),
            "objective.t_min_train must be in (0, diffusion.t_max = 1), got 0");
  EXPECT_EQ(
      ValidationError("diffusion { t_max: 0.5 } eval { t_min_eval: 0.7 }"),
      "eval.t_min_eval must be in (0, diffusion.t_max = 0.5), got 0.7");
  EXPECT_EQ(ValidationError("diffusion { sde_type: SDE_TYPE_UNSPECIFIED }"),
            "diffusion.sde_type must be set to one of VPSDE, CLD, ALDA, MALDA, "
            "LEARNED, CUSTOM");
  EXPECT_EQ(ValidationError("training { batch_size: 0 }"),
            "training.batch_size must be positive, got 0");
  EXPECT_EQ(ValidationError("optimizer { ema_decay: 1 }"),
            "optimizer.ema_decay must be in [0, 1), got 1");
  EXPECT_EQ(ValidationError("diffusion { sde_type: CLD q: [0] }"),
            "diffusion.q and diffusion.d are only for CUSTOM, not CLD");
  EXPECT_EQ(ValidationError("output { offline: false }"),
            "output.offline must be true: MDM writes TensorBoard files and "
            "has no W&B client (`wandb sync` imports them)");
  EXPECT_EQ(ValidationError("eval { fid_n_samples: 1 }"),
            "eval.fid_n_samples must be at least 2, got 1");
  EXPECT_EQ(ValidationError("eval { val_fid_epoch: 0 }"),
            "eval.val_fid_epoch must be positive, got 0");
  EXPECT_EQ(ValidationError("data { is_image: false transform: NONE "
                            "vector_dim: 2 } eval { fid_model: \"f.pt\" }"),
            "eval.fid_model: FID needs image data (data.is_image: true)");
  // Every kind of bound of the range table.
  EXPECT_EQ(ValidationError("data { num_workers: 65 }"),
            "data.num_workers must be at most 64, got 65");
  EXPECT_EQ(ValidationError("data { num_workers: -1 }"),
            "data.num_workers must be at least 0, got -1");
  EXPECT_EQ(ValidationError("score_model { dropout: 1 }"),
            "score_model.dropout must be below 1, got 1");
  EXPECT_EQ(ValidationError("objective { switch_epoch: -2 }"),
            "objective.switch_epoch must be at least -1, got -2");
  EXPECT_EQ(ValidationError("eval { elbo_mc_samples_eval: 1025 }"),
            "eval.elbo_mc_samples_eval must be at most 1024, got 1025");
  EXPECT_EQ(ValidationError("sampling { log_image_step: -1 }"),
            "sampling.log_image_step must be at least 0, got -1");
}

TEST(ExperimentConfigTest, CustomMatricesMustBeValid) {
  EXPECT_TRUE(ValidateExperiment(Valid(R"pb(diffusion {
                                              sde_type: CUSTOM
                                              q: [ 0, -1, 1, 0 ]
                                              d: [ 0, 0, 0, 2 ]
                                            })pb"))
                  .ok());
  EXPECT_EQ(ValidationError("diffusion { sde_type: CUSTOM q: [0, 1, 1, 0] "
                            "d: [0, 0, 0, 2] }"),
            "diffusion.q must be antisymmetric (Q^T = -Q), but Q[1][0] + "
            "Q[0][1] = 2");
  EXPECT_EQ(ValidationError("diffusion { sde_type: CUSTOM q: [0, 1, -1, 0] "
                            "d: [0, 1, 0, 2] }"),
            "diffusion.d must be symmetric, but D[1][0] - D[0][1] = -1");
  EXPECT_EQ(ValidationError("diffusion { sde_type: CUSTOM q: [0, 1, -1, 0] "
                            "d: [1, 2, 2, 1] }"),
            "diffusion.d must be positive semi-definite; it has a negative "
            "eigenvalue");
  EXPECT_EQ(ValidationError("diffusion { sde_type: CUSTOM n_vars: 2 "
                            "q: [0, 1, -1, 0] d: [1] }"),
            "diffusion.q and diffusion.d must each hold n_vars^2 = 4 numbers "
            "(row-major) for CUSTOM, got 4 and 1");
  EXPECT_EQ(ValidationError("diffusion { sde_type: CUSTOM q: [0, 1, -1] }"),
            "diffusion.q must hold K*K numbers for CUSTOM, got 3");
}

TEST(ExperimentConfigTest, LoadAppliesOverridesBeforeValidation) {
  const std::string path =
      WriteTempFile("cld.textproto", "diffusion { sde_type: CLD n_vars: 3 }\n");
  absl::StatusOr<Experiment> bad = LoadExperiment(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(Message(bad.status()),
            path + ": diffusion.n_vars must be 2 for CLD, got 3");
  absl::StatusOr<Experiment> fixed =
      LoadExperiment(path, {"diffusion.n_vars=2"});
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->diffusion().n_vars(), 2);
}

TEST(ExperimentConfigTest, TextRoundTrips) {
  const Experiment experiment =
      Valid("seed: 3 diffusion { sde_type: ALDA alda_gamma: 0.5 }");
  absl::StatusOr<Experiment> parsed =
      ParseExperiment(ExperimentToText(experiment));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->SerializeAsString(), experiment.SerializeAsString());
}

// Every shipped config parses and validates.
TEST(ExperimentConfigTest, ShippedConfigsLoad) {
  int count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator("configs")) {
    if (entry.path().extension() != ".textproto") continue;
    // Grid files hold an mdm.proto.Grid; grid_lib_test reads them.
    if (entry.path().parent_path().filename() == "grids") continue;
    absl::StatusOr<Experiment> experiment = LoadExperiment(entry.path().string());
    EXPECT_TRUE(experiment.ok()) << experiment.status();
    ++count;
  }
  EXPECT_GE(count, 27);
}

}  // namespace
}  // namespace mdm::proto
