// The sample and eval binaries end to end on small trained runs: a toy
// 2-D model (where the ODE likelihood must not fall below the ELBO) and a
// debug-mode image model (PNG grids, raw samples, FID with a random
// TorchScript feature network), plus their errors.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <torch/csrc/jit/api/module.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mdm/bin/eval_lib.h"
#include "mdm/bin/kernel_lib.h"
#include "mdm/bin/sample_lib.h"
#include "mdm/bin/train_lib.h"
#include "nlohmann/json.hpp"

namespace mdm::bin {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::string Fresh(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A PNG's (width, height); (0, 0) if it is not one.
std::pair<int, int> PngSize(const std::string& path) {
  int width = 0, height = 0, channels = 0;
  if (!stbi_info(path.c_str(), &width, &height, &channels)) return {0, 0};
  return {width, height};
}

class EvalSampleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    at::set_num_threads(2);
    toy_ = new std::string(Fresh("toy"));
    ASSERT_TRUE(
        RunTraining(
            {.config_path = "configs/toy/checkerboard.textproto",
             .overrides = {"data.limit_examples=8192", "training.n_epochs=8",
                           "training.eval_every_n_epoch=8"},
             .output_dir = *toy_})
            .ok());
    images_ = new std::string(Fresh("images"));
    ASSERT_TRUE(
        RunTraining(
            {.config_path = "configs/fashion_mnist/quickstart.textproto",
             .overrides = {"data.dataset=MNIST",
                           "data.data_dir=testdata/data/mnist",
                           "training.batch_size=2", "eval.test_batch_size=2"},
             .output_dir = *images_,
             .debug_mode = true})
            .ok());
  }
  static void TearDownTestSuite() {
    delete toy_;
    delete images_;
  }
  static std::string* toy_;
  static std::string* images_;
};

std::string* EvalSampleTest::toy_ = nullptr;
std::string* EvalSampleTest::images_ = nullptr;

TEST_F(EvalSampleTest, OdeLikelihoodIsAtLeastTheElboOnToyData) {
  absl::StatusOr<std::string> elbo = RunEvaluation(
      {.checkpoint = *toy_, .metric = "elbo", .limit_examples = 1000});
  ASSERT_TRUE(elbo.ok()) << elbo.status();
  absl::StatusOr<std::string> ode = RunEvaluation({.checkpoint = *toy_,
                                                   .metric = "ode",
                                                   .limit_examples = 1000,
                                                   .v0_draws = 8,
                                                   .divergence = "exact"});
  ASSERT_TRUE(ode.ok()) << ode.status();
  const json e = json::parse(*elbo), o = json::parse(*ode);
  std::cout << "ELBO " << e["bpd"] << " +- " << e["bpd_ci95"] << ", ODE "
            << o["bpd"] << " +- " << o["bpd_ci95"] << " bits/dim\n";
  EXPECT_EQ(e["examples"], 1000);
  EXPECT_EQ(o["examples"], 1000);
  // A likelihood is fewer bits than its lower bound (up to both errors).
  EXPECT_LT(o["bpd"].get<double>(), e["bpd"].get<double>() +
                                        e["bpd_ci95"].get<double>() +
                                        o["bpd_ci95"].get<double>());
  // The checkerboard is uniform on 8 squares of area 4: its entropy is
  // log2(32) / 2 = 2.5 bits/dim, and no model's cross-entropy is lower (up
  // to the estimate's error); this briefly trained one is still above it.
  EXPECT_GT(o["bpd"].get<double>(), 2.5 - o["bpd_ci95"].get<double>());
  EXPECT_LT(o["bpd"].get<double>(), 5.0);
  EXPECT_EQ(e["Q"].size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(*toy_ + "/eval/ode_test.json"));
  EXPECT_EQ(json::parse(Read(*toy_ + "/eval/elbo_test.json"))["bpd"], e["bpd"]);
}

// One evaluation: `eval --metric=elbo` on the run's last checkpoint prints
// exactly the bits/dim of the last row of its eval.csv (same weights, data
// order and evaluation stream).
TEST_F(EvalSampleTest, EvalReproducesTheTrainersLastEvaluation) {
  std::ifstream csv(*toy_ + "/eval.csv");
  std::string line, last;
  while (std::getline(csv, line)) last = line;
  // step,epoch,split,bpd,...
  const std::vector<std::string> cells = absl::StrSplit(last, ',');
  ASSERT_GE(cells.size(), 4u) << last;
  EXPECT_EQ(cells[2], "test");
  absl::StatusOr<std::string> elbo = RunEvaluation(
      {.checkpoint = *toy_ + "/checkpoints/last.pt", .metric = "elbo"});
  ASSERT_TRUE(elbo.ok()) << elbo.status();
  EXPECT_EQ(absl::StrCat(json::parse(*elbo)["bpd"].get<double>()), cells[3]);
  EXPECT_EQ(json::parse(*elbo)["proposal"], "vp");  // The run has no other.
  // Another seed draws other times and noise.
  absl::StatusOr<std::string> other =
      RunEvaluation({.checkpoint = *toy_ + "/checkpoints/last.pt",
                     .metric = "elbo",
                     .seed = 12345});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(absl::StrCat(json::parse(*other)["bpd"].get<double>()), cells[3]);
}

TEST_F(EvalSampleTest, KernelToolReportsTheLearnedProcess) {
  absl::StatusOr<std::string> report = RunKernelTool(
      {.checkpoint = *toy_, .times = "0.5", .format = KernelFormat::kJson});
  ASSERT_TRUE(report.ok()) << report.status();
  absl::StatusOr<std::string> elbo = RunEvaluation(
      {.checkpoint = *toy_, .metric = "elbo", .limit_examples = 10});
  ASSERT_TRUE(elbo.ok());
  const json kernel = json::parse(*report);
  EXPECT_TRUE(kernel["learned"].get<bool>());
  EXPECT_EQ(kernel["Q"], json::parse(*elbo)["Q"]);
  // Training moved Q from its seeded initialization.
  absl::StatusOr<std::string> initial =
      RunKernelTool({.config_path = *toy_ + "/config.textproto",
                     .times = "0.5",
                     .format = KernelFormat::kJson});
  ASSERT_TRUE(initial.ok());
  EXPECT_NE(json::parse(*initial)["Q"], kernel["Q"]);
}

TEST_F(EvalSampleTest, EverySamplerDrawsToyAndImageSamples) {
  for (const char* sampler : {"em", "expint", "expint_ode", "expint_ms",
                              "expint_ms_sde", "ode", "rk4"}) {
    const std::string out = ::testing::TempDir() + "/toy_" + sampler + ".png";
    absl::Status s = RunSampling({.checkpoint = *toy_,
                                  .n = 500,
                                  .sampler = sampler,
                                  .steps = 20,
                                  .rtol = 1e-3,
                                  .atol = 1e-3,
                                  .out = out});
    ASSERT_TRUE(s.ok()) << sampler << ": " << s;
    // A 512 x 512 histogram in a 2-pixel frame.
    EXPECT_EQ(PngSize(out), std::make_pair(516, 516)) << sampler;
  }
  const std::string png = ::testing::TempDir() + "/images.png";
  const std::string raw = ::testing::TempDir() + "/images.pkl";
  ASSERT_TRUE(RunSampling({.checkpoint = *images_,
                           .n = 5,
                           .sampler = "expint",
                           .steps = 4,
                           .batch_size = 2,
                           .out = png,
                           .raw = raw})
                  .ok());
  // 5 images in 3 columns and 2 rows of 28 x 3 = 84-pixel cells with
  // 2-pixel borders.
  EXPECT_EQ(PngSize(png), std::make_pair(3 * 86 + 2, 2 * 86 + 2));
  EXPECT_GT(std::filesystem::file_size(raw), 5u * 28 * 28);
}

TEST_F(EvalSampleTest, FidWithARandomTorchScriptFeatureNetwork) {
  torch::jit::Module module("Features");
  module.register_parameter("weight", at::randn({4, 1, 3, 3}), false);
  module.define(R"JIT(
    def forward(self, x):
        return torch.relu(torch.conv2d(x, self.weight)).mean([2, 3])
  )JIT");
  const std::string model = ::testing::TempDir() + "/features.pt";
  module.save(model);
  const std::string stats = Fresh("fid") + ".stats";
  for (int run = 0; run < 2; ++run) {  // The second reuses the cache.
    absl::StatusOr<std::string> fid = RunEvaluation({.checkpoint = *images_,
                                                     .metric = "fid",
                                                     .limit_examples = 16,
                                                     .fid_model = model,
                                                     .fid_stats = stats,
                                                     .fid_samples = 8,
                                                     .steps = 4});
    ASSERT_TRUE(fid.ok()) << fid.status();
    const json j = json::parse(*fid);
    EXPECT_GT(j["fid"].get<double>(), 0);
    EXPECT_EQ(j["fid_generated_samples"], 8);
    // testdata's MNIST test split holds 4 images.
    EXPECT_EQ(j["fid_reference_samples"], 4);
    // The 8 samples (fewer than log_image_size^2) as a 3 x 3 grid.
    EXPECT_EQ(PngSize(j["samples_png"].get<std::string>()),
              std::make_pair(3 * 86 + 2, 3 * 86 + 2));
  }
  EXPECT_TRUE(std::filesystem::exists(stats));
}

// eval.fid_model: the trainer's evaluations add FID against the
// evaluation split (fid.csv, TensorBoard), with the same library as eval.
TEST_F(EvalSampleTest, TrainingWritesFidWithAConfiguredFeatureNetwork) {
  torch::jit::Module module("Features");
  module.register_parameter("weight", at::randn({4, 1, 3, 3}), false);
  module.define(R"JIT(
    def forward(self, x):
        return torch.relu(torch.conv2d(x, self.weight)).mean([2, 3])
  )JIT");
  const std::string model = ::testing::TempDir() + "/train_features.pt";
  module.save(model);
  const std::string run = Fresh("fid_train");
  ASSERT_TRUE(
      RunTraining(
          {.config_path = "configs/fashion_mnist/quickstart.textproto",
           .overrides = {"data.dataset=MNIST",
                         "data.data_dir=testdata/data/mnist",
                         "training.batch_size=2", "eval.test_batch_size=2",
                         "eval.fid_model=" + model, "eval.fid_n_samples=6",
                         "output.project=sweep-7"},
           .output_dir = run,
           .debug_mode = true})
          .ok());
  const std::vector<std::string> rows =
      absl::StrSplit(Read(run + "/fid.csv"), '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 2u) << Read(run + "/fid.csv");
  EXPECT_EQ(rows[0], "step,epoch,split,fid,generated_samples,reference_samples");
  const std::vector<std::string> row = absl::StrSplit(rows[1], ',');
  ASSERT_EQ(row.size(), 6u);
  EXPECT_EQ(row[2], "test");
  EXPECT_GT(std::stod(row[3]), 0);
  EXPECT_EQ(row[4], "6");
  EXPECT_EQ(row[5], "4");  // testdata's MNIST test split.
  EXPECT_TRUE(std::filesystem::exists(run + "/fid_reference.pt"));
  // The config and the project name as TensorBoard text.
  std::string events;
  for (const auto& entry : std::filesystem::directory_iterator(run)) {
    if (entry.path().filename().string().rfind("events.out", 0) == 0)
      events += Read(entry.path().string());
  }
  EXPECT_THAT(events, HasSubstr("run/config"));
  EXPECT_THAT(events, HasSubstr("sweep-7"));
  EXPECT_THAT(events, HasSubstr("eval/test/fid"));
}

TEST_F(EvalSampleTest, BadInputGivesOneClearError) {
  auto sample_error = [](const SampleFlags& flags) {
    const absl::Status s = RunSampling(flags);
    EXPECT_FALSE(s.ok());
    return std::string(s.message());
  };
  EXPECT_THAT(sample_error({.checkpoint = "/no/such/run", .out = "x.png"}),
              HasSubstr("/no/such/run does not exist"));
  EXPECT_THAT(
      sample_error({.checkpoint = *toy_, .sampler = "heun", .out = "x.png"}),
      HasSubstr("unknown sampler 'heun'"));
  // A config whose diffusion has another number of variables.
  std::string config = Read(*toy_ + "/config.textproto");
  const size_t at = config.find("n_vars: 2");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, 9, "n_vars: 3");
  const std::string other = ::testing::TempDir() + "/k3.textproto";
  std::ofstream(other) << config;
  EXPECT_THAT(
      sample_error({.checkpoint = *toy_, .config = other, .out = "x.png"}),
      HasSubstr("has shape [128, 5] in checkpoint"));
  // A corrupt checkpoint file.
  const std::string corrupt = ::testing::TempDir() + "/corrupt/checkpoints";
  std::filesystem::create_directories(corrupt);
  std::ofstream(corrupt + "/last.pt") << "not a checkpoint";
  std::filesystem::copy_file(*toy_ + "/config.textproto",
                             corrupt + "/../config.textproto",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_THAT(
      sample_error({.checkpoint = corrupt + "/last.pt", .out = "x.png"}),
      HasSubstr("corrupt/checkpoints/last.pt"));

  auto eval_error = [](const EvalFlags& flags) {
    const absl::StatusOr<std::string> s = RunEvaluation(flags);
    EXPECT_FALSE(s.ok());
    return std::string(s.status().message());
  };
  EXPECT_THAT(eval_error({.checkpoint = *toy_, .metric = "nll"}),
              HasSubstr("--metric: 'nll'"));
  EXPECT_THAT(eval_error({.checkpoint = *images_, .metric = "fid"}),
              HasSubstr("--fid_model"));
  EXPECT_THAT(eval_error({.checkpoint = *toy_, .divergence = "hutch"}),
              HasSubstr("--divergence"));
}

}  // namespace
}  // namespace mdm::bin
