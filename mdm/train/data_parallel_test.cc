// Two ranks on 127.0.0.1 train a toy model data-parallel; they must end
// with identical parameters, equal to one process that sees the same
// global batches (as two accumulated micro-batches).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mdm/proto/experiment.pb.h"
#include "mdm/testing/free_port.h"
#include "mdm/testing/textproto.h"
#include "mdm/train/distributed.h"
#include "mdm/train/trainer.h"

namespace mdm::train {
namespace {

constexpr int kWorldSize = 2;
constexpr int kGlobalBatch = 16;

proto::Experiment ToyExperiment() {
  return testing::ParseTextProtoOrDie<proto::Experiment>(R"pb(
    seed: 5
    data {
      dataset: CHECKERBOARD
      is_image: false
      vector_dim: 2
      transform: NONE
      dequantize: false
      num_workers: 0
      limit_examples: 512
    }
    diffusion { sde_type: LEARNED n_vars: 2 }
    score_model { score_model_type: MLP hidden_dim: 32 }
    objective { train_loss_type: DSM_ELBO imp_weight_train: true }
    # Weight decay without clipping makes Adam see the gradient's scale,
    # so a wrong average across ranks shows.
    optimizer {
      optim_type: ADAM
      lr: 0.01
      weight_decay: 1
      grad_clip_val: 0
      warmup_iters: 0
      use_ema: true
      ema_decay: 0.9
    }
    training { n_epochs: 1 max_steps: 6 batch_size: 16 }
    eval { test_batch_size: 256 }
  )pb");
}

std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(root != nullptr ? root : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// All trained parameters, flattened, in double.
at::Tensor Flat(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> pieces;
  for (const at::Tensor& p : params)
    pieces.push_back(p.detach().reshape({-1}).to(at::kDouble));
  return at::cat(pieces);
}

void WriteFlat(const at::Tensor& flat, const std::string& path) {
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(flat.data_ptr()),
             flat.numel() * sizeof(double));
}

at::Tensor ReadFlat(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const int64_t n = static_cast<int64_t>(in.tellg()) / sizeof(double);
  at::Tensor flat = at::empty({n}, at::kDouble);
  in.seekg(0);
  in.read(static_cast<char*>(flat.data_ptr()), n * sizeof(double));
  return flat;
}

// Runs one rank to the end and writes its parameters; the exit code says
// which stage failed.
int RunRank(int rank, int port, const std::string& out) {
  at::set_num_threads(1);
  DistributedEnvironment env;
  env.rank = rank;
  env.world_size = kWorldSize;
  env.master_port = port;
  absl::StatusOr<std::unique_ptr<Communicator>> communicator =
      Connect(env, absl::Seconds(60));
  if (!communicator.ok()) return 10;
  TrainerOptions options;
  options.output_dir = out;
  options.communicator = *std::move(communicator);
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(ToyExperiment(), options);
  if (!trainer.ok()) return 11;
  if (!(*trainer)->Run().ok()) return 12;
  if ((*trainer)->step() != 6) return 13;
  WriteFlat(Flat((*trainer)->Parameters()),
            out + "/params_rank" + std::to_string(rank) + ".bin");
  return 0;
}

TEST(DataParallelTest, TwoRanksEqualOneProcessOnTheSameGlobalBatch) {
  // Fork before this process runs any LibTorch work.
  const std::string ddp = TempDir("ddp");
  const int port = testing::FreePort();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < kWorldSize; ++rank) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(RunRank(rank, port, ddp));
    ranks.push_back(pid);
  }
  for (int rank = 0; rank < kWorldSize; ++rank) {
    int status = 0;
    ASSERT_EQ(waitpid(ranks[rank], &status, 0), ranks[rank]);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "rank " << rank;
  }
  const at::Tensor rank0 = ReadFlat(ddp + "/params_rank0.bin");
  const at::Tensor rank1 = ReadFlat(ddp + "/params_rank1.bin");
  ASSERT_GT(rank0.numel(), 1000);
  EXPECT_TRUE(at::equal(rank0, rank1)) << "ranks diverged";
  // Rank 0 alone wrote the run's files.
  EXPECT_TRUE(std::filesystem::exists(ddp + "/metrics.csv"));
  EXPECT_TRUE(std::filesystem::exists(ddp + "/checkpoints/last.pt"));

  // One process, each global batch of 16 as two accumulated halves.
  at::set_num_threads(1);
  proto::Experiment single = ToyExperiment();
  single.mutable_training()->set_batch_size(kGlobalBatch / kWorldSize);
  single.mutable_training()->set_accumulate_grad_batches(kWorldSize);
  TrainerOptions options;
  options.output_dir = TempDir("single");
  absl::StatusOr<std::unique_ptr<Trainer>> reference =
      Trainer::Create(single, options);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const at::Tensor initial = Flat((*reference)->Parameters()).clone();
  ASSERT_TRUE((*reference)->Run().ok());
  const at::Tensor expected = Flat((*reference)->Parameters());
  // Training moved the parameters far beyond the tolerance below...
  EXPECT_GT((expected - initial).abs().max().item<double>(), 1e-2);
  // ...and the data-parallel run moved them the same way.
  EXPECT_LT((rank0 - expected).abs().max().item<double>(), 1e-5);

  // One process on batches of 16 at once draws other noise: not equal.
  proto::Experiment whole = ToyExperiment();
  options.output_dir = TempDir("whole");
  absl::StatusOr<std::unique_ptr<Trainer>> other =
      Trainer::Create(whole, options);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->Run().ok());
  EXPECT_GT(
      (Flat((*other)->Parameters()) - expected).abs().max().item<double>(),
      1e-4);
}

}  // namespace
}  // namespace mdm::train
