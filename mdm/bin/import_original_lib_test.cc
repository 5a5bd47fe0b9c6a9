#include "mdm/bin/import_original_lib.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mdm/bin/eval_lib.h"
#include "mdm/bin/sample_lib.h"
#include "mdm/bin/train_lib.h"
#include "mdm/model/checkpoint.h"
#include "mdm/model/saved_run.h"
#include "mdm/util/state_dict.h"
#include "nlohmann/json.hpp"

namespace mdm::bin {
namespace {

constexpr char kFixture[] = "testdata/original/tiny_unet_k3_28x28x1.pt";
constexpr char kYaml[] = "testdata/original/yaml/mnist/learned_3.yaml";

std::string Fresh(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

class ImportOriginalTest : public ::testing::Test {
 protected:
  // A checkpoint shaped like the original's Lightning ones, made with
  // Debian's python3-torch: the TinyUNet fixture's weights as deep_model,
  // learned Q and D, Adam state, and hyper_parameters holding the YAML as
  // an argparse.Namespace inside a class Python cannot import here.
  static void SetUpTestSuite() {
    if (std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
      return;
    }
    checkpoint_ = new std::string(::testing::TempDir() + "/original.ckpt");
    const std::string command =
        std::string("/usr/bin/python3 testdata/make_lightning_checkpoint.py ") +
        kFixture + " " + kYaml + " " + *checkpoint_;
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  void SetUp() override {
    if (checkpoint_ == nullptr) {
      GTEST_SKIP() << "Debian's python3-torch is not installed";
    }
    at::set_num_threads(1);
  }
  static std::string* checkpoint_;
};

std::string* ImportOriginalTest::checkpoint_ = nullptr;

// The imported run holds the original's weights under our names: its
// network reproduces the fixture's outputs, Q and D are the learned
// parameters' matrices, and the Adam state and step came along.
TEST_F(ImportOriginalTest, CheckpointImportsWithItsWeightsAndState) {
  const std::string out = Fresh("imported");
  absl::StatusOr<std::string> summary =
      RunImport({.checkpoint = *checkpoint_,
                 .output_dir = out,
                 .overrides = {"data.data_dir=testdata/data/mnist"}});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_NE(summary->find("step 1407"), std::string::npos) << *summary;
  absl::StatusOr<model::SavedRun> run = model::OpenRun(out);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->step, 1407);
  // The config came from the checkpoint's hyper_parameters.
  EXPECT_EQ(run->experiment.diffusion().n_vars(), 3);
  EXPECT_EQ(run->experiment.training().eval_every_n_epoch(), 10);

  absl::StatusOr<util::TensorDict> fixture = util::ReadTensorDict(kFixture);
  ASSERT_TRUE(fixture.ok());
  const at::Tensor output = [&] {
    at::NoGradGuard no_grad;
    return run->model.network()
        .forward(fixture->at("u").view({-1, 3, 1, 28, 28}), fixture->at("t"))
        .flatten(1);
  }();
  const at::Tensor expected = fixture->at("out");
  EXPECT_LT(
      ((output - expected).abs().max() / expected.abs().max()).item<double>(),
      2e-6);
  const util::TensorDict weights = run->model.StateDict();
  const at::Tensor W = weights.at("diffusion.qd.W");
  EXPECT_TRUE(at::allclose(run->model.diffusion().Q(), W - W.t()));

  absl::StatusOr<model::Checkpoint> checkpoint =
      model::ReadCheckpoint(out + "/checkpoints/last.pt");
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(
      checkpoint->optimizer.at("network.conv1.weight.step").item<double>(),
      1407);
  EXPECT_EQ(checkpoint->optimizer.at("diffusion.qd.W.exp_avg").sizes(),
            at::IntArrayRef({3, 3}));
  EXPECT_EQ(checkpoint->optimizer.count("network.embed.0.W.step"), 0u);

  // eval, sample and train --resume take it.
  absl::StatusOr<std::string> elbo = RunEvaluation({.checkpoint = out,
                                                    .metric = "elbo",
                                                    .limit_examples = 4,
                                                    .batch_size = 4});
  ASSERT_TRUE(elbo.ok()) << elbo.status();
  EXPECT_TRUE(std::isfinite(nlohmann::json::parse(*elbo)["bpd"].get<double>()));
  ASSERT_TRUE(
      RunSampling(
          {.checkpoint = out, .n = 2, .steps = 3, .out = out + "/samples.png"})
          .ok());
  absl::StatusOr<TrainOutcome> resumed = RunTraining(
      {.config_path = out + "/config.textproto",
       .overrides = {"training.max_steps=1408", "training.batch_size=2",
                     "eval.test_batch_size=2"},
       .output_dir = out,
       .resume = true});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->step, 1408);
}

// With the YAML the same weights import; an existing run directory, a file
// that is no checkpoint and a wrong process are refused with one line.
TEST_F(ImportOriginalTest, YamlAndClearErrors) {
  const std::string out = Fresh("with_yaml");
  ASSERT_TRUE(
      RunImport({.yaml = kYaml, .checkpoint = *checkpoint_, .output_dir = out})
          .ok());
  absl::StatusOr<std::string> again =
      RunImport({.yaml = kYaml, .output_dir = out});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already holds a run"),
            std::string::npos);
  const std::string text = ::testing::TempDir() + "/not_a_checkpoint.ckpt";
  std::ofstream(text) << "hello";
  absl::StatusOr<std::string> bad = RunImport(
      {.yaml = kYaml, .checkpoint = text, .output_dir = Fresh("bad")});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("is neither a dict of tensors nor"),
            std::string::npos)
      << bad.status();
  // The checkpoint's learned K = 3 process is not CLD's fixed one.
  absl::StatusOr<std::string> wrong =
      RunImport({.yaml = "testdata/original/yaml/mnist/cld.yaml",
                 .checkpoint = *checkpoint_,
                 .output_dir = Fresh("wrong")});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("is not the configured process's"),
            std::string::npos)
      << wrong.status();
  // The config alone.
  const std::string config_only = Fresh("config_only");
  ASSERT_TRUE(RunImport({.yaml = "testdata/original/yaml/cifar/cld.yaml",
                         .output_dir = config_only})
                  .ok());
  EXPECT_TRUE(std::filesystem::exists(config_only + "/config.textproto"));
  EXPECT_FALSE(std::filesystem::exists(config_only + "/checkpoints"));
}

// A checkpoint is data, never code: objects whose unpickling would call
// os.system, builtins.eval or subprocess.Popen leave no trace, and the
// weights around them still import. A legacy-format file whose very first
// pickle is hostile, and a TorchScript archive, are refused.
TEST_F(ImportOriginalTest, CheckpointsAreReadAsDataNeverAsCode) {
  const std::string marker = ::testing::TempDir() + "/pwned";
  const std::string hostile = ::testing::TempDir() + "/hostile.ckpt";
  ASSERT_EQ(std::system((std::string("/usr/bin/python3 "
                                     "testdata/make_lightning_checkpoint.py ") +
                         kFixture + " " + kYaml + " " + hostile + " " + marker)
                            .c_str()),
            0);
  auto no_trace = [&] {
    for (const char* n : {".1", ".2", ".3"}) {
      EXPECT_FALSE(std::filesystem::exists(marker + n)) << marker << n;
    }
  };
  absl::StatusOr<std::string> imported =
      RunImport({.checkpoint = hostile, .output_dir = Fresh("hostile")});
  ASSERT_TRUE(imported.ok()) << imported.status();
  no_trace();
  absl::StatusOr<model::Checkpoint> checkpoint = model::ReadCheckpoint(
      ::testing::TempDir() + "/hostile/checkpoints/last.pt");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const util::TensorDict& weights = checkpoint->model;
  absl::StatusOr<util::TensorDict> fixture = util::ReadTensorDict(kFixture);
  ASSERT_TRUE(fixture.ok());
  EXPECT_TRUE(at::equal(weights.at("network.conv1.weight"),
                        fixture->at("state_dict.conv1.weight")));

  const std::string legacy = ::testing::TempDir() + "/legacy_hostile.ckpt";
  const std::string script =
      "import os, pickle, sys\n"
      "class H:\n"
      "  def __reduce__(self):\n"
      "    return (os.system, ('touch ' + sys.argv[2] + '.1',))\n"
      "with open(sys.argv[1], 'wb') as f:\n"
      "  pickle.dump(H(), f); f.write(b'\\x00' * 64)\n";
  std::ofstream(::testing::TempDir() + "/legacy.py") << script;
  ASSERT_EQ(std::system(("/usr/bin/python3 " + ::testing::TempDir() +
                         "/legacy.py " + legacy + " " + marker)
                            .c_str()),
            0);
  absl::StatusOr<std::string> refused =
      RunImport({.yaml = kYaml,
                 .checkpoint = legacy,
                 .output_dir = Fresh("legacy")});
  ASSERT_FALSE(refused.ok());
  no_trace();

  const std::string scripted = ::testing::TempDir() + "/scripted.ckpt";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c 'import sys, torch; "
                         "net = torch.jit.script(torch.nn.Linear(2, 2)); "
                         "torch.jit.save(net, sys.argv[1])' " +
                         scripted)
                            .c_str()),
            0);
  refused = RunImport(
      {.yaml = kYaml, .checkpoint = scripted, .output_dir = Fresh("scripted")});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("TorchScript archive"),
            std::string::npos)
      << refused.status();
}

// testdata/lightning/MANIFEST.txt's facts about one file (key=value
// fields: adam_step, epochs_completed, ...).
std::map<std::string, std::string> Manifest(const std::string& file) {
  std::ifstream in("testdata/lightning/MANIFEST.txt");
  std::map<std::string, std::string> fields;
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> parts = absl::StrSplit(line, '\t');
    if (parts.empty() || parts[0] != file) continue;
    for (const std::string& part : parts) {
      const size_t eq = part.find('=');
      if (eq != std::string::npos) fields[part.substr(0, eq)] = part.substr(eq + 1);
    }
  }
  EXPECT_FALSE(fields.empty()) << file << " is not in MANIFEST.txt";
  return fields;
}

// Real checkpoints of four Lightning versions (1.5 to 2.6, after fit and
// from ModelCheckpoint) import, each with the weights it holds: reading
// checkpoints as data keeps what Lightning really writes readable.
TEST_F(ImportOriginalTest, RealLightningCheckpointsImport) {
  for (const char* version : {"1.5.10", "1.9.5", "2.0.9.post0", "2.6.6"}) {
    for (const char* saved : {"", "_callback"}) {
      const std::string ckpt =
          absl::StrCat("testdata/lightning/pl_", version, saved, ".ckpt");
      const std::string out = Fresh(absl::StrCat("pl_", version, saved));
      // Their config is the original's MNIST one made an MLP run on 2-D
      // points (small files): the toy data and no image transform.
      absl::StatusOr<std::string> summary = RunImport(
          {.checkpoint = ckpt,
           .output_dir = out,
           .overrides = {"data.dataset=CHECKERBOARD", "data.transform=NONE"}});
      ASSERT_TRUE(summary.ok()) << ckpt << ": " << summary.status();
      // What torch.load reads from it, for comparison.
      const std::string expected = out + "_expected.pt";
      ASSERT_EQ(std::system(absl::StrCat(
                                "/usr/bin/python3 -c 'import sys, torch; "
                                "c = torch.load(sys.argv[1]); torch.save("
                                "dict(c[\"state_dict\"]), sys.argv[2])' ",
                                ckpt, " ", expected)
                                .c_str()),
                0);
      absl::StatusOr<util::TensorDict> state_dict =
          util::ReadTensorDict(expected);
      ASSERT_TRUE(state_dict.ok()) << state_dict.status();
      absl::StatusOr<model::Checkpoint> imported =
          model::ReadCheckpoint(out + "/checkpoints/last.pt");
      ASSERT_TRUE(imported.ok()) << imported.status();
      for (const char* name : {"net.0.weight", "net.8.bias"}) {
        EXPECT_TRUE(at::equal(
            imported->model.at(absl::StrCat("network.", name)),
            state_dict->at(absl::StrCat("deep_model.", name))))
            << ckpt << " " << name;
      }
      EXPECT_TRUE(at::equal(imported->model.at("diffusion.qd.W"),
                            state_dict->at("qmodule.q")))
          << ckpt;
      // It resumes after the steps taken and the epochs finished, at the
      // start of the next epoch, whatever Lightning's version counted.
      const std::map<std::string, std::string> truth =
          Manifest(absl::StrCat("pl_", version, saved, ".ckpt"));
      EXPECT_EQ(imported->state.step, std::stoll(truth.at("adam_step")))
          << ckpt;
      EXPECT_EQ(imported->state.epoch,
                std::stoll(truth.at("epochs_completed")))
          << ckpt;
      EXPECT_EQ(imported->state.loader_epoch, imported->state.epoch) << ckpt;
      EXPECT_EQ(imported->state.loader_step, 0) << ckpt;
    }
  }
}

// Four flipped bytes in a tensor are refused by the archive's CRC-32s
// before anything is imported (they used to import as other weights).
TEST_F(ImportOriginalTest, FlippedBytesAreRefused) {
  std::ifstream in(*checkpoint_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  // In the middle of the largest tensors' data, far from any header.
  for (size_t i = 0; i < 4; ++i) bytes[bytes.size() / 2 + i] ^= 0x21;
  const std::string flipped = ::testing::TempDir() + "/flipped.ckpt";
  std::ofstream(flipped, std::ios::binary) << bytes;
  const std::string out = Fresh("flipped");
  absl::StatusOr<std::string> refused =
      RunImport({.checkpoint = flipped, .output_dir = out});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--checkpoint: " + flipped +
                                            " is corrupt"),
            std::string::npos)
      << refused.status();
  EXPECT_FALSE(std::filesystem::exists(out + "/checkpoints/last.pt"));
}

}  // namespace
}  // namespace mdm::bin
