#include "mdm/model/checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "mdm/model/ema.h"
#include "mdm/model/model.h"
#include "mdm/model/saved_run.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/testing/textproto.h"

namespace mdm::model {
namespace {

using ::mdm::testing::ParseTextProtoOrDie;

proto::Experiment Config(int hidden_dim = 16) {
  proto::Experiment experiment = ParseTextProtoOrDie<proto::Experiment>(
      "seed: 3 "
      "data { dataset: CHECKERBOARD is_image: false vector_dim: 2 "
      "transform: NONE } "
      "diffusion { sde_type: LEARNED n_vars: 2 } "
      "score_model { score_model_type: MLP }");
  experiment.mutable_score_model()->set_hidden_dim(hidden_dim);
  return experiment;
}

Model Make(const proto::Experiment& experiment) {
  absl::StatusOr<Model> model = Model::Create(experiment, at::kCPU);
  TORCH_CHECK(model.ok(), std::string(model.status().message()));
  return *std::move(model);
}

void Perturb(const Model& model, double by) {
  at::NoGradGuard no_grad;
  for (at::Tensor p : model.Parameters()) p.add_(by);
}

std::string Temp(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

// Everything written comes back: weights by name, EMA shadows, optimizer
// state, the run's position and its config.
TEST(CheckpointTest, RoundTrip) {
  const proto::Experiment experiment = Config();
  const Model model = Make(experiment);
  Perturb(model, 0.25);
  Ema ema(model.NamedParameters(), 0.5);
  Perturb(model, 1.0);
  ema.Update();
  const RunState state{.step = 12, .epoch = 2, .loader_epoch = 2,
                       .loader_step = 4, .best_bpd = 3.5,
                       .owed = Owed::kEvaluation};
  const std::string path = Temp("round_trip.pt");
  ASSERT_TRUE(WriteCheckpoint(path, Snapshot(experiment, model, &ema,
                                             {{"network.net.0.weight.step",
                                               at::full({1}, 12.0)}},
                                             state))
                  .ok());
  absl::StatusOr<Checkpoint> read = ReadCheckpoint(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->state.step, 12);
  EXPECT_EQ(read->state.loader_step, 4);
  EXPECT_EQ(read->state.best_bpd, 3.5);
  EXPECT_EQ(read->state.owed, Owed::kEvaluation);
  EXPECT_EQ(proto::ExperimentToText(read->experiment),
            proto::ExperimentToText(experiment));
  EXPECT_EQ(read->optimizer.at("network.net.0.weight.step").item<double>(), 12);
  EXPECT_TRUE(at::equal(read->derived.at("Q"), model.diffusion().Q()));

  // The live weights, and the averages when asked for.
  Model fresh = Make(experiment);
  absl::StatusOr<bool> ema_loaded = LoadWeights(*read, "test", false, fresh);
  ASSERT_TRUE(ema_loaded.ok());
  EXPECT_FALSE(*ema_loaded);
  for (const auto& [name, tensor] : model.StateDict())
    EXPECT_TRUE(at::equal(fresh.StateDict().at(name), tensor)) << name;
  ema_loaded = LoadWeights(*read, "test", true, fresh);
  ASSERT_TRUE(ema_loaded.ok() && *ema_loaded);
  for (const auto& [name, shadow] : ema.shadows())
    EXPECT_TRUE(at::equal(fresh.StateDict().at(name), shadow)) << name;
}

// A few flipped bytes inside a tensor are caught by the checksum.
TEST(CheckpointTest, FlippedBytesAreReportedCorrupt) {
  const proto::Experiment experiment = Config();
  const Model model = Make(experiment);
  const std::string path = Temp("corrupt.pt");
  ASSERT_TRUE(
      WriteCheckpoint(path, Snapshot(experiment, model, nullptr, {}, {})).ok());
  // Where a weight's bytes lie depends on LibTorch's zip layout (2.x aligns
  // and indexes records differently from 1.13): found by their contents.
  const at::Tensor weight =
      model.StateDict().at("network.net.0.weight").contiguous();
  const std::string weight_bytes(static_cast<const char*>(weight.data_ptr()),
                                 weight.nbytes());
  std::ifstream in(path, std::ios::binary);
  const std::string contents((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  in.close();
  const size_t at = contents.find(weight_bytes);
  ASSERT_NE(at, std::string::npos);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(at + weight_bytes.size() / 2));
  file.write("\x7f\x7f\x7f\x7f", 4);
  file.close();
  absl::StatusOr<Checkpoint> read = ReadCheckpoint(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(read.status().message().find("is corrupt"), std::string::npos)
      << read.status();
}

TEST(CheckpointTest, ForeignFilesAreNamed) {
  const std::string dict = Temp("dict.pt");
  std::ofstream(dict, std::ios::binary)
      << util::SerializeTensorDict({{"w", at::zeros({2})}});
  absl::StatusOr<Checkpoint> read = ReadCheckpoint(dict);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("not an MDM checkpoint"),
            std::string::npos);
  const std::string text = Temp("text.pt");
  std::ofstream(text) << "hello";
  EXPECT_EQ(ReadCheckpoint(text).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadCheckpoint(Temp("absent.pt")).status().code(),
            absl::StatusCode::kNotFound);
}

// A run directory whose best.pt is corrupt opens from last.pt; a config of
// other shapes is refused naming the tensor.
TEST(SavedRunTest, FallsBackToLastAndChecksShapes) {
  const proto::Experiment experiment = Config();
  const Model model = Make(experiment);
  Perturb(model, 0.5);
  const std::string run = Temp("run");
  std::filesystem::create_directories(run + "/checkpoints");
  ASSERT_TRUE(WriteCheckpoint(run + "/checkpoints/last.pt",
                              Snapshot(experiment, model, nullptr, {},
                                       {.step = 7}))
                  .ok());
  std::ofstream(run + "/checkpoints/best.pt") << "truncated";
  absl::StatusOr<SavedRun> opened = OpenRun(run);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->checkpoint_path, run + "/checkpoints/last.pt");
  EXPECT_EQ(opened->step, 7);
  EXPECT_TRUE(at::equal(opened->model.diffusion().Q(), model.diffusion().Q()));

  const std::string other = Temp("other.textproto");
  std::ofstream(other) << proto::ExperimentToText(Config(/*hidden_dim=*/8));
  opened = OpenRun(run, {.config_path = other});
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find(
                "network.net.0.bias has shape [16] in checkpoint"),
            std::string::npos)
      << opened.status();
}

}  // namespace
}  // namespace mdm::model
