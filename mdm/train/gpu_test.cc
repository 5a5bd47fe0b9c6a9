// What only a GPU can test: the model, its process and a training run on
// cuda:0 against the same model on the CPU. Every test skips, saying why,
// where this build's LibTorch has no CUDA or the machine shows no GPU; the
// GPU bundle (tools/gpu_bundle.sh) carries this binary to a machine that
// has one.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#ifdef MDM_LIBTORCH_HAS_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <c10/util/Exception.h>
#endif

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/train/trainer.h"
#include "mdm/util/device.h"

namespace mdm::train {
namespace {

// The quick start's model (TinyUNet, Learned-3) on a few Fashion-MNIST
// shaped images of the test data.
std::unique_ptr<Trainer> MakeTrainer(const std::string& device,
                                     const std::string& name) {
  const std::string out = ::testing::TempDir() + "/gpu_test_" + name;
  std::filesystem::remove_all(out);
  absl::StatusOr<proto::Experiment> experiment = proto::LoadExperiment(
      "configs/fashion_mnist/learned_3.textproto",
      {"data.dataset=MNIST", "data.data_dir=testdata/data/mnist",
       "data.num_workers=0", "training.batch_size=4"});
  EXPECT_TRUE(experiment.ok()) << experiment.status();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*experiment, {.output_dir = out, .device = device});
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return trainer.ok() ? *std::move(trainer) : nullptr;
}

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!util::LibTorchHasCuda()) {
      GTEST_SKIP() << "this build's LibTorch is for the CPU only";
    }
    if (at::getNumGPUs() == 0) {
      GTEST_SKIP() << "no CUDA device is visible to this process";
    }
  }
};

TEST_F(GpuTest, ProcessMomentsMatchTheCpus) {
  std::unique_ptr<Trainer> cpu = MakeTrainer("cpu", "moments_cpu");
  std::unique_ptr<Trainer> gpu = MakeTrainer("cuda", "moments_gpu");
  ASSERT_TRUE(cpu && gpu);
  const at::Tensor t = at::linspace(1e-3, 1.0, 7, at::kDouble);
  for (auto type : {diffusions::KernelType::kFull,
                    diffusions::KernelType::kHybrid}) {
    const sde::KernelMoments a = cpu->model().diffusion().Moments(t, type);
    const sde::KernelMoments b =
        gpu->model().diffusion().Moments(t.cuda(), type);
    ASSERT_TRUE(b.cov.is_cuda());
    // float64 on both: only the order of operations differs.
    EXPECT_LT((a.cov - b.cov.cpu()).abs().max().item<double>(), 1e-10);
    EXPECT_LT((a.mean_coef - b.mean_coef.cpu()).abs().max().item<double>(),
              1e-10);
  }
}

TEST_F(GpuTest, NetworkMatchesTheCpus) {
  std::unique_ptr<Trainer> cpu = MakeTrainer("cpu", "net_cpu");
  std::unique_ptr<Trainer> gpu = MakeTrainer("cuda", "net_gpu");
  ASSERT_TRUE(cpu && gpu);
  at::manual_seed(3);
  const at::Tensor u = at::randn({4, 3, 1, 28, 28});
  const at::Tensor t = at::rand({4}) * 0.99 + 0.01;
  const at::Tensor a = cpu->model().Network()(u, t);
  const at::Tensor b = gpu->model().Network()(u.cuda(), t.cuda());
  ASSERT_TRUE(b.is_cuda());
  // cuDNN convolutions may run in TF32 (10-bit mantissas): 1e-3 relative
  // would be far too loose for float32 alone and is right for TF32.
  const double relative =
      ((a - b.cpu()).norm() / a.norm()).item<double>();
  EXPECT_LT(relative, 3e-3);
}

TEST_F(GpuTest, TrainsEvaluatesAndSamplesOnTheGpu) {
  std::unique_ptr<Trainer> gpu = MakeTrainer("cuda", "run");
  ASSERT_TRUE(gpu);
  for (const at::Tensor& p : gpu->model().Parameters()) {
    ASSERT_TRUE(p.is_cuda());
  }
  const at::Tensor x = at::randint(0, 256, {4, 1, 28, 28}, at::kByte);
  for (int step = 0; step < 3; ++step) {
    absl::StatusOr<StepStats> stats = gpu->TrainStep(x);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_FALSE(stats->nonfinite);
    EXPECT_GT(stats->loss, 0);
  }
  absl::StatusOr<eval::ElboEvaluation> elbo = gpu->Evaluate("test", /*max_batches=*/1);
  ASSERT_TRUE(elbo.ok()) << elbo.status();
  absl::StatusOr<std::string> picture = gpu->WriteSamples();
  ASSERT_TRUE(picture.ok()) << picture.status();
  EXPECT_TRUE(std::filesystem::exists(*picture));
}

#ifdef MDM_LIBTORCH_HAS_CUDA
// Counts LibTorch's "synchronizing CUDA operation" warnings, which its sync
// debug mode raises at every host-device synchronization.
class SyncCounter : public c10::WarningHandler {
 public:
  void process(const c10::Warning& warning) override {
    if (absl::StrContains(warning.msg(), "synchroniz")) ++count;
  }
  int count = 0;
};

// A training step's synchronizations, as gradient_step_test counts its
// host reads on the CPU: per micro-batch the batch's copy to the device,
// the process's matrix norm twice and the Cholesky verdict; per step the
// one read of loss, log-det and gradient norm. 5 for one micro-batch.
TEST_F(GpuTest, TrainingStepSynchronizesWithinItsBudget) {
  std::unique_ptr<Trainer> gpu = MakeTrainer("cuda", "syncs");
  ASSERT_TRUE(gpu);
  const at::Tensor x = at::randint(0, 256, {4, 1, 28, 28}, at::kByte);
  ASSERT_TRUE(gpu->TrainStep(x).ok());  // Warm-up: caches, lazy init.
  SyncCounter counter;
  {
    c10::WarningUtils::WarningHandlerGuard guard(&counter);
    c10::cuda::warning_state().set_sync_debug_mode(
        c10::cuda::SyncDebugMode::L_WARN);
    absl::StatusOr<StepStats> stats = gpu->TrainStep(x);
    c10::cuda::warning_state().set_sync_debug_mode(
        c10::cuda::SyncDebugMode::L_DISABLED);
    ASSERT_TRUE(stats.ok()) << stats.status();
  }
  std::cout << "synchronizations per training step: " << counter.count
            << "\n";
  RecordProperty("synchronizations_per_step", counter.count);
  EXPECT_LE(counter.count, 5);
}
#endif  // MDM_LIBTORCH_HAS_CUDA

}  // namespace
}  // namespace mdm::train
