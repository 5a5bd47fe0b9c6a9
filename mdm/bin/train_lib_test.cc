#include "mdm/bin/train_lib.h"

#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mdm/eval/elbo_evaluation.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/train/run_logger.h"
#include "mdm/train/trainer.h"
#include "mdm/util/event_writer.h"
#include "mdm/util/state_dict.h"
#include "mdm/util/tensorboard.pb.h"

namespace mdm::bin {
namespace {

using ::testing::HasSubstr;

const char kToy[] = "configs/toy/checkerboard.textproto";

std::string Fresh(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

std::vector<double> LossColumn(const std::string& metrics) {
  std::ifstream file(metrics);
  std::string line;
  std::getline(file, line);  // Header.
  std::vector<double> losses;
  while (std::getline(file, line)) {
    std::stringstream row(line);
    std::string cell;
    for (int i = 0; i < 3; ++i) std::getline(row, cell, ',');
    losses.push_back(std::stod(cell));
  }
  return losses;
}

TEST(TrainTest, ToyRunLowersTheLossAndWritesItsOutputs) {
  at::set_num_threads(1);
  const std::string out = Fresh("toy");
  ASSERT_TRUE(RunTraining({.config_path = kToy,
                           .overrides = {"training.max_steps=120"},
                           .output_dir = out})
                  .ok());
  // The 2-D run draws its samples as a histogram at the evaluation.
  for (const char* file :
       {"config.textproto", "metrics.csv", "eval.csv", "checkpoints/last.pt",
        "checkpoints/best.pt", "samples/step_120.png"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
  }
  const std::vector<double> losses = LossColumn(out + "/metrics.csv");
  ASSERT_GE(losses.size(), 10u);
  EXPECT_LT(losses.back(), losses.front() - 0.5)
      << losses.front() << " -> " << losses.back();
  // TensorBoard events: every record's CRCs check, and the scalars are there.
  std::string events;
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) ==
        0) {
      events = entry.path().string();
    }
  }
  ASSERT_FALSE(events.empty());
  absl::StatusOr<std::vector<std::string>> records = util::ReadRecords(events);
  ASSERT_TRUE(records.ok()) << records.status();
  int losses_logged = 0, bpd_logged = 0, histograms = 0;
  for (const std::string& record : *records) {
    tensorboard::Event event;
    ASSERT_TRUE(event.ParseFromString(record));
    for (const auto& value : event.summary().value()) {
      losses_logged += value.tag() == "train/loss";
      bpd_logged += value.tag() == "eval/test/bpd";
      histograms += value.has_histo();
    }
  }
  EXPECT_EQ(losses_logged, static_cast<int>(losses.size()));
  EXPECT_GE(bpd_logged, 1);
  EXPECT_EQ(histograms, 2 * losses_logged);
  // The written config is the resolved one and loads again.
  EXPECT_TRUE(proto::LoadExperiment(out + "/config.textproto").ok());
}

// The checkpoint is a dict of tensors that Python's torch.load opens:
// the network, the diffusion, Q and D, and the run's state.
TEST(TrainTest, CheckpointsOpenAsAPickledDict) {
  at::set_num_threads(1);
  const std::string out = Fresh("export");
  ASSERT_TRUE(RunTraining({.config_path = kToy,
                           .overrides = {"training.max_steps=5"},
                           .output_dir = out})
                  .ok());
  std::ifstream file(out + "/checkpoints/last.pt", std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  ASSERT_FALSE(bytes.empty());
  const c10::IValue value = torch::jit::pickle_load(bytes);
  ASSERT_TRUE(value.isGenericDict());
  const c10::impl::GenericDict dict = value.toGenericDict();
  EXPECT_TRUE(dict.contains("Q"));
  EXPECT_TRUE(dict.contains("diffusion.qd.W"));
  EXPECT_TRUE(dict.contains("network.net.0.weight"));
  EXPECT_TRUE(dict.contains("optimizer.network.net.0.weight.exp_avg"));
  EXPECT_EQ(dict.at("run.step").toTensor().item<double>(), 5.0);
  const at::Tensor Q = dict.at("Q").toTensor();
  EXPECT_EQ(Q.sizes(), at::IntArrayRef({2, 2}));
  EXPECT_TRUE(at::allclose(Q, -Q.t()));
  // Where Debian's python3-torch is installed, Python opens it too.
  if (std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") == 0) {
    const std::string check =
        "/usr/bin/python3 -c \"import torch; d = torch.load('" + out +
        "/checkpoints/last.pt'); assert d['Q'].shape == (2, 2)\"";
    EXPECT_EQ(std::system(check.c_str()), 0);
  }
}

// Trains `experiment` into `out`, stopping at each of `stops` (max_steps)
// and resuming from there; calls `inspect` with the trainer after the last
// stop. Checks that every resumed trainer starts where the last stopped.
void TrainWithStops(const proto::Experiment& experiment, const std::string& out,
                    const std::vector<int>& stops,
                    const std::function<void(train::Trainer&)>& inspect) {
  for (size_t i = 0; i < stops.size(); ++i) {
    proto::Experiment e = experiment;
    e.mutable_training()->set_max_steps(stops[i]);
    auto trainer =
        train::Trainer::Create(e, {.output_dir = out, .resume = i > 0});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_EQ((*trainer)->step(), i == 0 ? 0 : stops[i - 1]);
    ASSERT_TRUE((*trainer)->Run().ok());
    ASSERT_EQ((*trainer)->step(), stops[i]);
    if (i + 1 == stops.size()) inspect(**trainer);
  }
}

// The model's state (parameters, buffers, proposal) and the test bits/dim
// of the evaluation weights (EMA when kept) after training with `stops`.
std::pair<util::TensorDict, double> StateAfter(
    const proto::Experiment& experiment, const std::string& out,
    const std::vector<int>& stops) {
  util::TensorDict state;
  double bpd = 0;
  TrainWithStops(experiment, out, stops, [&](train::Trainer& trainer) {
    for (const auto& [name, tensor] : trainer.model().StateDict())
      state.emplace(name, tensor.detach().clone());
    absl::StatusOr<eval::ElboEvaluation> evaluation =
        trainer.Evaluate("test", 2);
    EXPECT_TRUE(evaluation.ok());
    if (evaluation.ok()) bpd = evaluation->bpd.mean;
  });
  return {state, bpd};
}

void ExpectSameState(const util::TensorDict& a, const util::TensorDict& b) {
  ASSERT_FALSE(a.empty());
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    ASSERT_EQ(b.count(name), 1u) << name;
    EXPECT_TRUE(at::equal(tensor, b.at(name))) << name;
  }
}

// Stopping at step 10 and resuming gives the same parameters at step 20 as
// an uninterrupted run (bit-identical on CPU at a fixed thread count).
TEST(TrainTest, ResumeIsBitIdentical) {
  absl::StatusOr<proto::Experiment> experiment = proto::LoadExperiment(
      kToy, {"data.limit_examples=4096", "training.batch_size=64",
             "optimizer.use_ema=true", "optimizer.ema_decay=0.9"});
  ASSERT_TRUE(experiment.ok());
  const auto [straight, straight_bpd] =
      StateAfter(*experiment, Fresh("straight"), {20});
  const auto [resumed, resumed_bpd] =
      StateAfter(*experiment, Fresh("resumed"), {10, 20});
  ExpectSameState(straight, resumed);
  // The EMA (used for evaluation) was restored too.
  EXPECT_EQ(straight_bpd, resumed_bpd);
}

// The adaptive proposal learns during training, is saved with the weights
// and restored on resume: a resumed run matches an uninterrupted one, the
// proposal's statistics included.
TEST(TrainTest, AdaptiveProposalLearnsAndResumesExactly) {
  absl::StatusOr<proto::Experiment> experiment = proto::LoadExperiment(
      kToy, {"data.limit_examples=2048", "training.batch_size=64",
             "objective.time_proposal=ADAPTIVE", "objective.adaptive_bins=8"});
  ASSERT_TRUE(experiment.ok()) << experiment.status();
  const auto [straight, straight_bpd] =
      StateAfter(*experiment, Fresh("adaptive_straight"), {16});
  const auto [resumed, resumed_bpd] =
      StateAfter(*experiment, Fresh("adaptive_resumed"), {8, 16});
  ASSERT_EQ(straight.count("proposal.second_moment"), 1u);
  ExpectSameState(straight, resumed);
  EXPECT_EQ(straight_bpd, resumed_bpd);
  // It learned: every bin was seen and the second moments differ.
  const at::Tensor m = straight.at("proposal.second_moment");
  EXPECT_EQ(straight.at("proposal.observed").sum().item<double>(), 8.0);
  EXPECT_GT((m.max() / m.min()).item<double>(), 2.0) << m;
}

// A few batches of real Fashion-MNIST through the quick-start config: the
// loss falls, every output exists, and a resumed run picks up where the
// first stopped.
TEST(TrainTest, FashionMnistEndToEnd) {
  if (!std::filesystem::exists(
          "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  at::set_num_threads(2);
  const std::string out = Fresh("fashion_mnist");
  const std::vector<std::string> overrides = {
      "data.limit_examples=1024", "training.batch_size=32",
      "optimizer.warmup_iters=5", "eval.test_batch_size=256",
      "sampling.n_fes=5",         "sampling.log_image_size=2"};
  std::vector<std::string> first = overrides;
  first.push_back("training.max_steps=30");
  ASSERT_TRUE(
      RunTraining({.config_path = "configs/fashion_mnist/quickstart.textproto",
                   .overrides = first,
                   .output_dir = out})
          .ok());
  const std::vector<double> losses = LossColumn(out + "/metrics.csv");
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_LT(losses.back(), 0.7 * losses.front())
      << losses.front() << " -> " << losses.back();
  for (const char* file : {"config.textproto", "checkpoints/last.pt",
                           "checkpoints/best.pt", "samples/step_30.png"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
  }
  std::vector<std::string> second = overrides;
  second.push_back("training.max_steps=40");
  ASSERT_TRUE(
      RunTraining({.config_path = "configs/fashion_mnist/quickstart.textproto",
                   .overrides = second,
                   .output_dir = out,
                   .resume = true})
          .ok());
  // Resumed at step 30: the rows of steps 10-30 kept, one more for step 40
  // (a fresh run would have written rows 10-40, a fresh file 10 only).
  const std::vector<double> resumed = LossColumn(out + "/metrics.csv");
  ASSERT_EQ(resumed.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(resumed[i], losses[i]) << i;
  EXPECT_TRUE(std::filesystem::exists(out + "/samples/step_40.png"));
}

// --debug_mode runs a couple of batches of everything on image data:
// two steps, one evaluation at the end, and a 2 x 2 sample grid of 28 x 3
// = 84-pixel cells.
TEST(TrainTest, DebugModeRunsEverythingOnImages) {
  at::set_num_threads(1);
  const std::string out = Fresh("debug_images");
  ASSERT_TRUE(
      RunTraining(
          {.config_path = "configs/fashion_mnist/quickstart.textproto",
           .overrides = {"data.dataset=MNIST",
                         "data.data_dir=testdata/data/mnist",
                         "training.batch_size=2", "eval.test_batch_size=2"},
           .output_dir = out,
           .debug_mode = true})
          .ok());
  int width = 0, height = 0, channels = 0;
  ASSERT_TRUE(stbi_info((out + "/samples/step_2.png").c_str(), &width,
                        &height, &channels));
  EXPECT_EQ(width, 2 * 86 + 2);
  EXPECT_EQ(height, 2 * 86 + 2);
  absl::StatusOr<std::vector<train::EvaluationRow>> rows =
      train::ReadEvaluations(out);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].step, 2);
  EXPECT_EQ((*rows)[0].split, "test");
  EXPECT_TRUE(std::isfinite((*rows)[0].bpd) && (*rows)[0].bpd > 0);
  EXPECT_TRUE(std::filesystem::exists(out + "/checkpoints/last.pt"));
}

TEST(TrainTest, BadInputGivesOneClearError) {
  auto error = [](const TrainFlags& flags) {
    const absl::Status status = RunTraining(flags).status();
    EXPECT_FALSE(status.ok());
    return std::string(status.message());
  };
  EXPECT_THAT(
      error({.config_path = kToy, .overrides = {"training.no_such_field=1"}}),
      HasSubstr("TrainingConfig has no field 'no_such_field'"));
  EXPECT_THAT(
      error({.config_path = "configs/fashion_mnist/cld.textproto",
             .overrides = {"data.data_dir=/nonexistent/fmnist"}}),
      HasSubstr("data.data_dir /nonexistent/fmnist is not a directory"));
  EXPECT_THAT(
      error({.config_path = kToy, .output_dir = "/proc/forbidden/run"}),
      HasSubstr("cannot create output directory /proc/forbidden/run"));
  const std::string out = Fresh("corrupt");
  std::filesystem::create_directories(out + "/checkpoints");
  std::ofstream(out + "/checkpoints/last.pt") << "not a checkpoint";
  EXPECT_THAT(
      error({.config_path = kToy, .output_dir = out, .resume = true}),
      HasSubstr("checkpoint " + out + "/checkpoints/last.pt is corrupt"));
  EXPECT_THAT(error({.config_path = kToy, .device = "tpu"}),
              HasSubstr("--device"));
}

}  // namespace
}  // namespace mdm::bin
