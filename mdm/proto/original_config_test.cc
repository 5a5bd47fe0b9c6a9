#include "mdm/proto/original_config.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "mdm/proto/experiment_config.h"
#include "nlohmann/json.hpp"

namespace mdm::proto {
namespace {

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// The original's MNIST Learned-3 YAML with `changes` ("key: value" lines)
// replacing its lines of those keys or added; a change "key:" with no
// value removes the key.
std::string OriginalYaml(const std::string& changes) {
  std::ifstream in("testdata/original/yaml/mnist/learned_3.yaml");
  std::map<std::string, std::string> changed;
  std::istringstream lines(changes);
  for (std::string line; std::getline(lines, line);) {
    changed[line.substr(0, line.find(':'))] = line;
  }
  std::string yaml;
  for (std::string line; std::getline(in, line);) {
    const auto it = changed.find(line.substr(0, line.find(':')));
    if (it == changed.end()) {
      yaml += line + "\n";
      continue;
    }
    if (it->second.back() != ':') yaml += it->second + "\n";
    changed.erase(it);
  }
  for (const auto& [key, line] : changed) yaml += line + "\n";
  return yaml;
}

absl::StatusOr<ImportedConfig> Import(const std::string& yaml) {
  absl::StatusOr<OriginalConfig> config =
      ReadOriginalYaml(Write("config.yaml", yaml));
  if (!config.ok()) return config.status();
  return ExperimentFromOriginal(*config);
}

// Paths are the user's: where their data and runs live.
void ClearPaths(Experiment& e) {
  e.mutable_data()->clear_data_dir();
  e.mutable_output()->clear_output_dir();
  e.mutable_training()->clear_checkpoint_path();
}

// The original's own YAML files import to our shipped configs, field for
// field (paths aside): configs/mnist and configs/cifar10 are the
// original's settings.
TEST(OriginalConfigTest, ShippedConfigsAreTheOriginalsYaml) {
  for (const auto& [yaml_dir, ours] :
       std::vector<std::pair<std::string, std::string>>{{"mnist", "mnist"},
                                                        {"cifar", "cifar10"}}) {
    for (const char* name : {"vpsde", "cld", "malda", "learned_2", "learned_3"}) {
      const std::string yaml =
          "testdata/original/yaml/" + yaml_dir + "/" + name + ".yaml";
      absl::StatusOr<OriginalConfig> original = ReadOriginalYaml(yaml);
      ASSERT_TRUE(original.ok()) << original.status();
      absl::StatusOr<ImportedConfig> imported = ExperimentFromOriginal(*original);
      ASSERT_TRUE(imported.ok()) << yaml << ": " << imported.status();
      const std::string shipped_path =
          "configs/" + ours + "/" + name + ".textproto";
      absl::StatusOr<Experiment> shipped = LoadExperiment(shipped_path);
      ASSERT_TRUE(shipped.ok()) << shipped.status();
      Experiment a = imported->experiment, b = *shipped;
      ClearPaths(a);
      ClearPaths(b);
      std::string differences;
      google::protobuf::util::MessageDifferencer differ;
      differ.set_message_field_comparison(
          google::protobuf::util::MessageDifferencer::EQUIVALENT);
      differ.ReportDifferencesToString(&differences);
      EXPECT_TRUE(differ.Compare(a, b))
          << yaml << " vs " << shipped_path << ":\n" << differences;
    }
  }
}

// What the original does rather than what a key says.
TEST(OriginalConfigTest, FollowsWhatTheOriginalDoes) {
  absl::StatusOr<ImportedConfig> imported = Import(OriginalYaml(
      "score_model_type: HoUNet\ndropout: 0.1\nuse_ema: True\n"
      "lr: 2.\n"));
  ASSERT_TRUE(imported.ok()) << imported.status();
  const Experiment& e = imported->experiment;
  // The original's MNIST HoUNet, without dropout, EMA or a training offset.
  EXPECT_EQ(e.score_model().ch(), 32);
  EXPECT_EQ(e.score_model().ch_mult_size(), 3);
  EXPECT_EQ(e.score_model().dropout(), 0.0);
  EXPECT_FALSE(e.optimizer().use_ema());
  EXPECT_FALSE(e.objective().elbo_offset_train());
  EXPECT_TRUE(e.eval().elbo_offset_eval());
  EXPECT_EQ(e.sampling().log_image_step(), 0);
  EXPECT_FALSE(e.training().has_checkpoint_path());
  EXPECT_EQ(e.optimizer().lr(), 2.0);
  EXPECT_EQ(e.diffusion().sde_type(), DiffusionConfig::LEARNED);
  EXPECT_EQ(imported->notes.size(), 4u);
}

TEST(OriginalConfigTest, ShufflesImagenetAloneAndFlipsCifarAlone) {
  // The original's data modules: ImageNet's training loader shuffles,
  // CIFAR-10's and CelebA's flip, MNIST's does neither.
  for (const auto& [dataset, shuffle, flip] :
       std::vector<std::tuple<std::string, bool, bool>>{
           {"mnist", false, false},
           {"cifar", false, true},
           {"celeba", false, true},
           {"imagenet", true, false}}) {
    const std::string color =
        "\nin_channels: 3\nout_channels: 3\nheight: 32\nwidth: 32";
    absl::StatusOr<ImportedConfig> imported = Import(
        OriginalYaml("dataset: " + dataset + (dataset == "mnist" ? "" : color)));
    ASSERT_TRUE(imported.ok()) << dataset << ": " << imported.status();
    EXPECT_EQ(imported->experiment.data().shuffle(), shuffle) << dataset;
    EXPECT_EQ(imported->experiment.data().random_flip(), flip) << dataset;
  }
}

TEST(OriginalConfigTest, UnknownKeysAndValuesAreNamed) {
  absl::StatusOr<ImportedConfig> imported = Import("seed: 0\nlearning_rate: 1\n");
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find(
                "config.yaml:2: learning_rate: unknown key"),
            std::string::npos)
      << imported.status();
  imported = Import("sde_type: vp\n");
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find(
                "sde_type = 'vp' is not a value the original knows"),
            std::string::npos)
      << imported.status();
  // PyYAML reads 1e-3 (no dot) as a string.
  imported = Import("lr: 1e-3\n");
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find("YAML 1.1 floats need a dot"),
            std::string::npos)
      << imported.status();
  imported = Import("lr: [1, 2]\n");
  EXPECT_FALSE(imported.ok());
  EXPECT_EQ(ReadOriginalYaml("/nonexistent.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(OriginalConfigTest, JsonFromACheckpointImportsLikeYaml) {
  absl::StatusOr<OriginalConfig> yaml = ReadOriginalYaml(
      Write("cld.yaml", OriginalYaml("sde_type: cld\nn_vars: 2\nlr: 0.0002")));
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  nlohmann::json keys = nlohmann::json::object();
  for (const auto& [key, value] : yaml->values) {
    std::visit(
        [&, key = key](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::monostate>) keys[key] = nullptr;
          else keys[key] = x;
        },
        value);
  }
  absl::StatusOr<OriginalConfig> json =
      OriginalConfigFromJson(keys.dump(), "hyper_parameters");
  ASSERT_TRUE(json.ok()) << json.status();
  absl::StatusOr<ImportedConfig> imported = ExperimentFromOriginal(*json);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->experiment.diffusion().sde_type(), DiffusionConfig::CLD);
  EXPECT_EQ(imported->experiment.optimizer().lr(), 0.0002);
  EXPECT_FALSE(OriginalConfigFromJson("[1]", "x").ok());
}

// A key the original reads without a default is required, as the original
// requires it; the condition that makes a key read is followed.
TEST(OriginalConfigTest, KeysTheOriginalRequiresAreRequired) {
  ASSERT_TRUE(Import(OriginalYaml("")).ok());
  for (const char* key : {"lr", "dataset", "n_epochs", "n_FEs", "height"}) {
    absl::StatusOr<ImportedConfig> imported =
        Import(OriginalYaml(absl::StrCat(key, ":")));
    ASSERT_FALSE(imported.ok()) << key;
    EXPECT_NE(imported.status().message().find(absl::StrCat(
                  "config.yaml: lacks ", key,
                  ", which the original reads on every such run")),
              std::string::npos)
        << imported.status();
  }
  // Read only with lr_scheduling, or with more than one variable.
  EXPECT_TRUE(Import(OriginalYaml("warmup_iters:")).ok());
  EXPECT_FALSE(Import(OriginalYaml("warmup_iters:\nlr_scheduling: True")).ok());
  EXPECT_FALSE(Import(OriginalYaml("init_aux_var:")).ok());
  EXPECT_TRUE(Import(OriginalYaml(
                  "init_aux_var:\nsde_type: vpsde\nn_vars: 1\n"
                  "stationary_aux_var:\nstationary_x_var:\nd_full:"))
                  .ok());
}

// YAML 1.1's special floats are floats, as PyYAML reads them: a NaN
// learning rate is refused as one, not as a string.
TEST(OriginalConfigTest, SpecialFloatsAreNumbers) {
  absl::StatusOr<ImportedConfig> imported = Import(OriginalYaml("lr: .nan"));
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find("optimizer.lr must be"),
            std::string::npos)
      << imported.status();
  EXPECT_EQ(imported.status().message().find("string"), std::string::npos)
      << imported.status();
  imported = Import(OriginalYaml("beta_1: .inf"));
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find("diffusion.beta_1 must be finite"),
            std::string::npos)
      << imported.status();
}

}  // namespace
}  // namespace mdm::proto
