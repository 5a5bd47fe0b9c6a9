// A whole training step (the trainer's own: data preparation, the learned
// kernel, the DSM-ELBO loss, backward, clipping, Adam) and, in the same
// run, the bare network forward+backward+Adam on a state of the same shape,
// for TinyUNet on Fashion-MNIST (Learned-3, batch 128), the DDPM U-Net on
// CIFAR-10 shapes (batch 8) and the MLP on the 2-D checkerboard
// (Learned-3, batch 512). The counters give the step's time not spent in
// the network: overhead = 1 - network / step. For TinyUNet the step's
// GFLOP/s (the network's analytic arithmetic, nets::TinyUNetMultiplyAdds)
// are set beside an SGEMM measured in the same run.
//
//   bazel run -c opt //mdm/train:train_step_bench -- --num_threads=1
//   ... -- --benchmark_filter=HoUNet --profile_top=25   (where time goes)
//   ... -- --benchmark_filter=HoUNet --profile_top=60 --profile_by_shape
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <gflags/gflags.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "mdm/data/factory.h"
#include "mdm/nets/tiny_unet.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/train/trainer.h"
#include "mdm/util/op_profile.h"
#include "mdm/util/runtime_info.h"

namespace mdm::train {
namespace {

DEFINE_int32(profile_top, 0,
             "After timing, profile one more training step and print its "
             "N largest operators by self time (util/op_profile.h).");
DEFINE_bool(profile_by_shape, false,
            "With --profile_top: a row per operator and shapes (inputs, "
            "output), so that each convolution row is a layer (or the "
            "layers of one shape), with its GFLOP/s.");

struct Setup {
  std::unique_ptr<Trainer> trainer;
  at::Tensor x;  // One batch of raw data.
};

Setup Make(const std::string& config, std::vector<std::string> overrides,
           const std::string& name) {
  const std::string out = std::filesystem::temp_directory_path().string() +
                          "/mdm_train_step_bench_" + name;
  std::filesystem::remove_all(out);
  overrides.push_back("data.num_workers=0");
  absl::StatusOr<proto::Experiment> experiment =
      proto::LoadExperiment(config, overrides);
  TORCH_CHECK(experiment.ok(), std::string(experiment.status().message()));
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*experiment, {.output_dir = out});
  TORCH_CHECK(trainer.ok(), std::string(trainer.status().message()));
  absl::StatusOr<std::shared_ptr<const data::Dataset>> dataset =
      data::CreateDataset(experiment->data(), "train", experiment->seed());
  TORCH_CHECK(dataset.ok());
  const int64_t batch = experiment->training().batch_size();
  std::vector<int64_t> indices(batch);
  for (int64_t i = 0; i < batch; ++i) indices[i] = i;
  absl::StatusOr<data::Examples> examples = (*dataset)->Get(indices);
  TORCH_CHECK(examples.ok());
  return {*std::move(trainer), examples->x};
}

// Seconds per call of `a` and of `b`, medians of `reps` calls each after a
// warm-up, alternating so that both see the same machine.
template <typename A, typename B>
std::pair<double, double> AlternatingMedians(A a, B b, int reps) {
  a();
  b();
  std::vector<double> ta, tb;
  auto time = [](auto f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  for (int i = 0; i < reps; ++i) {
    ta.push_back(time(a));
    tb.push_back(time(b));
  }
  auto median = [reps](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + reps / 2, v.end());
    return v[reps / 2];
  };
  return {median(ta), median(tb)};
}

// The machine's float32 GEMM rate with this LibTorch's BLAS and thread
// count: the best GFLOP/s of square products of side 1,024, 2,048 or
// 4,096 (best of three each), one running on each of MDM's compute threads
// at once (MDM computes in batch shards, one per thread, each with a
// one-thread BLAS), the yardstick for a network's rate.
double SgemmPeakGflops() {
  const int threads = util::ComputeThreads();
  double best = 0;
  for (int64_t n : {1024, 2048, 4096}) {
    std::vector<at::Tensor> a, b, c;
    for (int i = 0; i < threads; ++i) {
      a.push_back(at::randn({n, n}));
      b.push_back(at::randn({n, n}));
      c.push_back(at::mm(a[i], b[i]));  // Warm-up.
    }
    for (int rep = 0; rep < 3; ++rep) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<std::thread> workers;
      for (int i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
          util::InitComputeThread();
          at::mm_out(c[i], a[i], b[i]);
        });
      }
      for (std::thread& worker : workers) worker.join();
      const double seconds = std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
      best = std::max(best, threads * 2.0 * n * n * n / seconds / 1e9);
    }
  }
  return best;
}

// What the profiled step would take if every convolution and matrix
// product in it ran at the SGEMM rate measured now, the rest unchanged: how
// far a faster kernel for them could take the step.
void PrintDistanceToPeak(const std::vector<util::OpProfile::Row>& rows,
                         double profiled_s, double timed_s) {
  double flop = 0, counted_s = 0;
  for (const util::OpProfile::Row& row : rows) {
    if (row.flop <= 0) continue;
    flop += row.flop;
    counted_s += row.self_s;
  }
  if (counted_s <= 0) return;
  if (const int threads = util::ComputeThreads(); threads != 1) {
    // The rows sum the threads' time, the step is wall time.
    std::cerr << "(the table sums " << threads
              << " compute threads' time; what the step would take at the "
                 "SGEMM peak is printed at --num_threads=1)\n";
    return;
  }
  const double peak = SgemmPeakGflops();
  const double at_peak_s = flop / peak / 1e9;
  std::cerr << absl::StrFormat(
      "convolutions and products: %.1f GFLOP in %.0f ms (%.1f GFLOP/s); at "
      "the SGEMM peak of %.1f GFLOP/s, %.0f ms: the profiled step would "
      "take %.0f ms instead of %.0f (%.2fx; the timed step: %.0f ms)\n",
      flop / 1e9, 1e3 * counted_s, flop / counted_s / 1e9, peak,
      1e3 * at_peak_s, 1e3 * (profiled_s - counted_s + at_peak_s),
      1e3 * profiled_s, (profiled_s - counted_s + at_peak_s) / profiled_s,
      1e3 * timed_s);
}

void Run(benchmark::State& state, Setup& setup,
         int64_t step_multiply_adds = 0) {
  const model::Model& model = setup.trainer->model();
  const at::Tensor x = setup.x;
  // The bare network: forward+backward+Adam on a state of the step's shape.
  // As in the step, the gradient reaches the state too (through u_t it
  // trains the learned Q and D), and the network runs as the step runs it
  // (Model::Network: on --num_threads shards of the batch).
  std::vector<int64_t> shape = x.sizes().vec();
  shape.insert(shape.begin() + 1, model.diffusion().num_vars());
  const at::Tensor u = at::randn(shape).requires_grad_();
  const at::Tensor t = at::rand({shape[0]}) * 0.999 + 0.001;
  torch::optim::Adam adam(model.network().parameters(),
                          torch::optim::AdamOptions(1e-6));
  const objectives::ScoreNetwork network_fn = model.Network();
  auto network_step = [&] {
    adam.zero_grad();
    network_fn(u, t).pow(2).mean().backward();
    adam.step();
  };
  auto train_step = [&] {
    absl::StatusOr<StepStats> stats = setup.trainer->TrainStep(x);
    TORCH_CHECK(stats.ok(), std::string(stats.status().message()));
  };
  const int reps = static_cast<int>(state.range(0));
  double step = 0, network = 0;
  for (auto _ : state) {
    std::tie(step, network) =
        AlternatingMedians(train_step, network_step, reps);
    state.SetIterationTime(step);
  }
  if (FLAGS_profile_top > 0) {
    std::vector<util::OpProfile::Row> rows;
    double profiled_s = 0;
    {
      util::OpProfile profile({.by_shape = FLAGS_profile_by_shape});
      const auto start = std::chrono::steady_clock::now();
      train_step();
      profiled_s = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
      std::cerr << "one training step, by operator"
                << (FLAGS_profile_by_shape ? " and shapes\n" : "\n")
                << profile.Table(FLAGS_profile_top);
      rows = profile.Rows();
    }  // The SGEMM that follows is not part of the profile.
    PrintDistanceToPeak(rows, profiled_s, step);
  }
  state.counters["step_ms"] = 1e3 * step;
  state.counters["network_ms"] = 1e3 * network;
  state.counters["overhead_pct"] = 100 * (1 - network / step);
  if (step_multiply_adds > 0) {
    // The network's arithmetic (2 flops a multiply-add) over the step's
    // time, against the GEMM rate measured now.
    const double gflops = 2.0 * step_multiply_adds / step / 1e9;
    const double peak = SgemmPeakGflops();
    state.counters["step_gflops"] = gflops;
    state.counters["sgemm_peak_gflops"] = peak;
    state.counters["pct_of_sgemm_peak"] = 100 * gflops / peak;
  }
}

void BM_TrainStepTinyUNet(benchmark::State& state) {
  Setup setup = Make("configs/fashion_mnist/learned_3.textproto",
                     {"training.batch_size=128"}, "tiny_unet");
  // Forward, and the backward's gradients of inputs and of weights.
  Run(state, setup,
      3 * 128 *
          nets::TinyUNetMultiplyAdds(nets::TinyUNetOptions(3, 1), 28, 28));
}
BENCHMARK(BM_TrainStepTinyUNet)
    ->Arg(9)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_TrainStepMlp(benchmark::State& state) {
  Setup setup = Make("configs/toy/checkerboard.textproto",
                     {"diffusion.n_vars=3", "training.batch_size=512"}, "mlp");
  Run(state, setup);
}
BENCHMARK(BM_TrainStepMlp)
    ->Arg(50)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The paper's own network: the original's CIFAR-10 Learned-3 config (the
// DDPM U-Net, 35.8M parameters) at batch 8 of 3 x 32 x 32, on the small
// CIFAR-10-format files of testdata (run from the workspace root).
void BM_TrainStepHoUNet(benchmark::State& state) {
  Setup setup = Make("configs/cifar10/learned_3.textproto",
                     {"data.data_dir=testdata/data/cifar",
                      "training.batch_size=8", "eval.test_batch_size=8"},
                     "ho_unet");
  Run(state, setup);
}
BENCHMARK(BM_TrainStepHoUNet)
    ->Arg(3)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The same with Q(t), D(t) over four time bins: the kernel composes a
// matrix exponential per bin past the first.
void BM_TrainStepMlpTimeBins(benchmark::State& state) {
  Setup setup = Make("configs/toy/checkerboard.textproto",
                     {"diffusion.n_vars=3", "diffusion.time_bins=4",
                      "training.batch_size=512"},
                     "mlp");
  Run(state, setup);
}
BENCHMARK(BM_TrainStepMlpTimeBins)
    ->Arg(50)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mdm::train
