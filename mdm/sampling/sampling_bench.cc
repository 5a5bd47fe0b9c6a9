// Sampler throughput and the non-network share of a sampling step, for a
// LEARNED K = 3 diffusion and a TinyUNet on 28x28x1 data, 64 samples:
//
//   BM_Sampler/<kind>            a whole run of each sampler with the network
//                                (100 score evaluations; ode: Dormand-Prince
//                                at rtol = atol = 1e-3, its evaluation count
//                                in `score_evaluations`); `samples_per_second`.
//   BM_NetworkEvaluation         one TinyUNet forward at batch 64: the
//                                network's time per step (`ms_per_step`).
//   BM_ScoreConversion           NetworkScore's own work around the network
//                                (hybrid kernel at t, the time vector, the
//                                -L^{-T} eps conversion) with a network that
//                                returns zeros: `ms_per_step`.
//   BM_SamplerOverhead/<kind>    the same sampler with a score function that
//                                returns zeros of u's shape at once, 100
//                                evaluations: the sampler's own work per step
//                                (kernels, matrix products, noise) in
//                                `ms_per_step`. <kind>_cold: the same with
//                                the caches flushed before every step as
//                                the network's activations flush them in a
//                                real run (64 MiB streamed, not counted).
//   BM_StepPiece/<piece>         single pieces of that work (kernels, drift,
//                                noise, one K x K product on the state), to
//                                see which dominates the overhead.
//
// The non-network share of a step, (overhead + conversion) / (overhead +
// conversion + network), is reported as `overhead_share_pct` (isolated)
// and `in_run_overhead_pct` (in a real run); docs/benchmarks.md, "Sampling
// overhead", says how to read them and why they differ.
//
// Run: bazel-bin/mdm/sampling/sampling_bench --num_threads=2
// (about two to three minutes on two idle cores; BM_Sampler runs each
// sampler once, about 15-25 s apiece). --device=cuda runs the diffusion,
// the network and the state on a GPU (a CUDA LibTorch, see MDM_LIBTORCH);
// the generators stay on the CPU as in the trainer's sample grids.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>
#include <gflags/gflags.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <vector>

#include "mdm/diffusions/diffusion.h"
#include "mdm/diffusions/factory.h"
#include "mdm/nets/factory.h"
#include "mdm/nets/score_model.h"
#include "mdm/objectives/score_parameterization.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sampling/sample.h"
#include "mdm/sampling/score_function.h"
#include "mdm/sde/block_ops.h"
#include "mdm/sde/linear_sde.h"
#include "mdm/testing/textproto.h"
#include "mdm/util/logging.h"
#include "mdm/util/runtime_info.h"
#include "mdm/util/sharded_call.h"
#include "mdm/util/device.h"

DEFINE_string(device, "cpu", "cpu, cuda or cuda:N.");

namespace mdm::sampling {
namespace {

constexpr int64_t kSamples = 64;
constexpr int64_t kVars = 3;
constexpr int64_t kSide = 28;
constexpr int64_t kSteps = 100;

// Per-step times measured earlier in this process (0: not measured), for
// the share that BM_SamplerOverhead reports.
double network_ms_per_step = 0;
double conversion_ms_per_step = 0;

std::vector<int64_t> StateShape() { return {kSamples, kVars, 1, kSide, kSide}; }

at::Device BenchDevice() {
  static const at::Device device = [] {
    absl::StatusOr<at::Device> d = util::ParseDevice(FLAGS_device);
    if (!d.ok()) {
      std::cerr << "sampling_bench: " << d.status().message() << "\n";
      std::exit(1);
    }
    return *d;
  }();
  return device;
}

// Waits for the device's queued work, so that wall time covers it (a
// no-op on the CPU, which computes synchronously).
void WaitFor(const at::Tensor& t) {
  if (!t.is_cpu()) t.sum().item<double>();
}

const diffusions::DiffusionImpl& LearnedDiffusion() {
  static const diffusions::Diffusion* diffusion = [] {
    absl::StatusOr<diffusions::Diffusion> d = diffusions::CreateDiffusion(
        testing::ParseTextProtoOrDie<proto::DiffusionConfig>(
            R"pb(sde_type: LEARNED n_vars: 3)pb"),
        /*seed=*/1);
    CHECK(d.ok()) << d.status();
    (*d)->to(BenchDevice());
    return new diffusions::Diffusion(*d);
  }();
  return **diffusion;
}

std::shared_ptr<nets::ScoreModel> TinyUNet28() {
  static const std::shared_ptr<nets::ScoreModel>* net = [] {
    absl::StatusOr<std::shared_ptr<nets::ScoreModel>> n =
        nets::CreateScoreModel(
            testing::ParseTextProtoOrDie<proto::ScoreModelConfig>(
                R"pb(score_model_type: TINY_UNET)pb"),
            testing::ParseTextProtoOrDie<proto::DataConfig>(
                R"pb(is_image: true
                     in_channels: 1
                     out_channels: 1
                     height: 28
                     width: 28)pb"),
            kVars, /*seed=*/0);
    CHECK(n.ok()) << n.status();
    (*n)->to(BenchDevice());
    (*n)->eval();
    return new std::shared_ptr<nets::ScoreModel>(*n);
  }();
  return *net;
}

// The network as Model::Network runs it: on --num_threads batch shards.
at::Tensor ShardedNetwork(nets::ScoreModel& net, const at::Tensor& u,
                          const at::Tensor& t) {
  return util::ShardedCall(
      [&net](const std::vector<at::Tensor>& in) {
        return net.forward(in[0], in[1]);
      },
      {u, t}, {}, util::ComputeThreads());
}

SampleOptions Options(SamplerKind kind) {
  SampleOptions options;
  options.kind = kind;
  options.steps = kSteps;  // rk4: 25 intervals of 4 evaluations.
  options.adaptive.rtol = options.adaptive.atol = 1e-3;
  return options;
}

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

// Runs the sampler once per iteration; counts evaluations and wall time.
void RunSampler(benchmark::State& state, SamplerKind kind,
                const ScoreFunction& score, double* total_ms,
                int64_t* evaluations) {
  const diffusions::DiffusionImpl& diffusion = LearnedDiffusion();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(17);
  *total_ms = 0;
  *evaluations = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<SamplerResult> result =
        Sample(diffusion, score, StateShape(),
               at::TensorOptions(at::kFloat).device(BenchDevice()),
               Options(kind), gen);
    if (result.ok()) WaitFor(result->u);
    *total_ms += MillisecondsSince(start);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(result->u.data_ptr());
    *evaluations += result->score_evaluations;
  }
}

// The whole sampler with the TinyUNet: samples per second, and the time
// spent inside the network's forward measured in the same run, so that the
// in-run non-network share needs no other benchmark.
void BM_Sampler(benchmark::State& state, SamplerKind kind) {
  at::NoGradGuard no_grad;
  const std::shared_ptr<nets::ScoreModel> net = TinyUNet28();
  double network_ms = 0;
  const ScoreFunction score = NetworkScore(
      LearnedDiffusion(),
      [net, &network_ms](const at::Tensor& u, const at::Tensor& t) {
        const auto start = std::chrono::steady_clock::now();
        at::Tensor out = ShardedNetwork(*net, u, t);
        WaitFor(out);
        network_ms += MillisecondsSince(start);
        return out;
      },
      objectives::Parameterization::kNoisePred);
  double total_ms = 0;
  int64_t evaluations = 0;
  RunSampler(state, kind, score, &total_ms, &evaluations);
  if (evaluations == 0) return;
  const double iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["samples_per_second"] =
      benchmark::Counter(iterations * kSamples, benchmark::Counter::kIsRate);
  state.counters["score_evaluations"] = evaluations / iterations;
  state.counters["ms_per_step"] = total_ms / evaluations;
  state.counters["network_ms_per_step"] = network_ms / evaluations;
  state.counters["in_run_overhead_pct"] =
      100 * (total_ms - network_ms) / total_ms;
}

// One TinyUNet forward at batch 64.
void BM_NetworkEvaluation(benchmark::State& state) {
  at::NoGradGuard no_grad;
  const std::shared_ptr<nets::ScoreModel> net = TinyUNet28();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor u = at::randn(StateShape(), gen).to(BenchDevice());
  const at::Tensor t = at::rand({kSamples}, gen).to(BenchDevice());
  double total_ms = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor out = ShardedNetwork(*net, u, t);
    WaitFor(out);
    benchmark::DoNotOptimize(out.data_ptr());
    total_ms += MillisecondsSince(start);
  }
  network_ms_per_step = total_ms / state.iterations();
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["ms_per_step"] = network_ms_per_step;
}

// NetworkScore around a network that returns zeros: everything a score
// evaluation costs besides the network.
void BM_ScoreConversion(benchmark::State& state) {
  at::NoGradGuard no_grad;
  const ScoreFunction score = NetworkScore(
      LearnedDiffusion(),
      [](const at::Tensor& u, const at::Tensor&) { return at::zeros_like(u); },
      objectives::Parameterization::kNoisePred);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(4);
  const at::Tensor u = at::randn(StateShape(), gen).to(BenchDevice());
  double total_ms = 0;
  int64_t i = 0;
  for (auto _ : state) {
    const double t = 1e-3 + (i++ % kSteps) * (1.0 - 1e-3) / kSteps;
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<at::Tensor> s = score(u, t);
    if (s.ok()) WaitFor(*s);
    total_ms += MillisecondsSince(start);
    if (!s.ok()) {
      state.SkipWithError(s.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(s->data_ptr());
  }
  conversion_ms_per_step = total_ms / state.iterations();
  state.counters["ms_per_step"] = conversion_ms_per_step;
}

// The sampler with a free score function: its own work per step.
void BM_SamplerOverhead(benchmark::State& state, SamplerKind kind, bool cold) {
  at::NoGradGuard no_grad;
  // Cold: the zero score first streams 64 MiB through the caches, as the
  // network's activations do in a real run; that time is not counted.
  at::Tensor buffer =
      cold ? at::zeros({16 << 20}, at::TensorOptions(BenchDevice()))
           : at::Tensor();
  double evict_ms = 0;
  const ScoreFunction zero_score = [&](const at::Tensor& u,
                                       double) -> absl::StatusOr<at::Tensor> {
    if (cold) {
      const auto start = std::chrono::steady_clock::now();
      buffer.add_(1);
      WaitFor(buffer);
      evict_ms += MillisecondsSince(start);
    }
    return at::zeros_like(u);
  };
  double total_ms = 0;
  int64_t evaluations = 0;
  RunSampler(state, kind, zero_score, &total_ms, &evaluations);
  if (evaluations == 0) return;
  const double overhead = (total_ms - evict_ms) / evaluations;
  state.counters["score_evaluations"] =
      static_cast<double>(evaluations) / state.iterations();
  state.counters["ms_per_step"] = overhead;
  if (network_ms_per_step > 0) {
    const double non_network = overhead + conversion_ms_per_step;
    state.counters["overhead_share_pct"] =
        100 * non_network / (non_network + network_ms_per_step);
  }
}

// The pieces of a step's non-network work, one at a time on the 64-sample
// state, to see which dominates: the kernel at one time (every
// NetworkScore call, and expint once more), at the 12 quadrature nodes
// (expint), the noise-to-score conversion, the drift, G, one K x K matrix
// on the state (shared [K, K], as the samplers pass it, and expanded to
// [batch, K, K]), the Gaussian noise and one state update.
using StepPiece = at::Tensor (*)(const at::Tensor& u, at::Generator& gen);

void BM_StepPiece(benchmark::State& state, StepPiece piece) {
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor u = at::randn(StateShape(), gen).to(BenchDevice());
  for (auto _ : state) {
    const at::Tensor out = piece(u, gen);
    WaitFor(out);
    benchmark::DoNotOptimize(out.data_ptr());
  }
}

sde::TransitionKernel KernelAt(double t) {
  absl::StatusOr<sde::TransitionKernel> kernel =
      LearnedDiffusion().KernelAtTime(t, diffusions::KernelType::kHybrid);
  CHECK(kernel.ok()) << kernel.status();
  return *kernel;
}

at::Tensor KernelAtTimePiece(const at::Tensor&, at::Generator&) {
  return KernelAt(0.3).chol_inv_t;
}
at::Tensor QuadratureKernelsPiece(const at::Tensor&, at::Generator&) {
  absl::StatusOr<sde::TransitionKernel> kernel = LearnedDiffusion().Kernel(
      at::linspace(0.2, 0.3, 12, at::kDouble), diffusions::KernelType::kHybrid);
  CHECK(kernel.ok()) << kernel.status();
  return kernel->chol_inv_t;
}
at::Tensor ScoreFromNoisePiece(const at::Tensor& u, at::Generator&) {
  static const sde::TransitionKernel kernel = KernelAt(0.3);
  return objectives::ScoreFromOutput(u, kernel,
                                     objectives::Parameterization::kNoisePred);
}
at::Tensor DriftPiece(const at::Tensor& u, at::Generator&) {
  return LearnedDiffusion().Drift(u, at::full({u.size(0)}, 0.3, at::kDouble));
}
at::Tensor DiffusionSqrtPiece(const at::Tensor&, at::Generator&) {
  return LearnedDiffusion().DiffusionSqrt(at::full({1}, 0.3, at::kDouble))[0];
}
at::Tensor ApplyMatrixPiece(const at::Tensor& u, at::Generator&) {
  static const at::Tensor M =
      at::randn({kVars, kVars}, at::kDouble).to(BenchDevice());
  return sde::ApplyMatrix(M, u);
}
// The same product with the matrix expanded to [batch, K, K]: at::matmul
// then takes the batched path (bmm), where a shared [K, K] goes through a
// folded, transposed GEMM and a copy.
at::Tensor ApplyMatrixBatchedPiece(const at::Tensor& u, at::Generator&) {
  static const at::Tensor M =
      at::randn({kVars, kVars}, at::kDouble).to(BenchDevice());
  return sde::ApplyMatrix(M.expand({u.size(0), kVars, kVars}), u);
}
at::Tensor NoisePiece(const at::Tensor& u, at::Generator& gen) {
  // The CPU generator draws CPU noise only; on a device, its default one.
  return at::randn(
      u.sizes(), u.is_cpu() ? c10::optional<at::Generator>(gen) : c10::nullopt,
      u.options());
}
at::Tensor UpdatePiece(const at::Tensor& u, at::Generator&) {
  return u + 0.01 * u;
}

// Network and conversion first: BM_SamplerOverhead reads their times.
BENCHMARK(BM_NetworkEvaluation)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(BM_ScoreConversion)->Unit(benchmark::kMicrosecond)->UseRealTime();

#define MDM_OVERHEAD_BENCHMARK(name, kind)                       \
  BENCHMARK_CAPTURE(BM_SamplerOverhead, name, kind, false)       \
      ->Unit(benchmark::kMillisecond)                            \
      ->UseRealTime()                                            \
      ->MinTime(1.0);                                            \
  BENCHMARK_CAPTURE(BM_SamplerOverhead, name##_cold, kind, true) \
      ->Unit(benchmark::kMillisecond)                            \
      ->UseRealTime()                                            \
      ->MinTime(1.0)
MDM_OVERHEAD_BENCHMARK(em, SamplerKind::kEm);
MDM_OVERHEAD_BENCHMARK(expint, SamplerKind::kExpint);
MDM_OVERHEAD_BENCHMARK(expint_ode, SamplerKind::kExpintOde);
MDM_OVERHEAD_BENCHMARK(expint_ms, SamplerKind::kExpintMultistep);
MDM_OVERHEAD_BENCHMARK(expint_ms_sde, SamplerKind::kExpintMultistepSde);
MDM_OVERHEAD_BENCHMARK(ode, SamplerKind::kOde);
MDM_OVERHEAD_BENCHMARK(rk4, SamplerKind::kRk4);
#undef MDM_OVERHEAD_BENCHMARK

#define MDM_PIECE_BENCHMARK(name, piece) \
  BENCHMARK_CAPTURE(BM_StepPiece, name, piece)->Unit(benchmark::kMicrosecond)
MDM_PIECE_BENCHMARK(kernel_at_time, KernelAtTimePiece);
MDM_PIECE_BENCHMARK(quadrature_kernels, QuadratureKernelsPiece);
MDM_PIECE_BENCHMARK(score_from_noise, ScoreFromNoisePiece);
MDM_PIECE_BENCHMARK(drift, DriftPiece);
MDM_PIECE_BENCHMARK(diffusion_sqrt, DiffusionSqrtPiece);
MDM_PIECE_BENCHMARK(apply_matrix, ApplyMatrixPiece);
MDM_PIECE_BENCHMARK(apply_matrix_batched, ApplyMatrixBatchedPiece);
MDM_PIECE_BENCHMARK(noise, NoisePiece);
MDM_PIECE_BENCHMARK(update, UpdatePiece);
#undef MDM_PIECE_BENCHMARK

// One run each (seconds apiece).
#define MDM_SAMPLER_BENCHMARK(name, kind)   \
  BENCHMARK_CAPTURE(BM_Sampler, name, kind) \
      ->Unit(benchmark::kSecond)            \
      ->UseRealTime()                       \
      ->Iterations(1)
MDM_SAMPLER_BENCHMARK(em, SamplerKind::kEm);
MDM_SAMPLER_BENCHMARK(expint, SamplerKind::kExpint);
MDM_SAMPLER_BENCHMARK(expint_ode, SamplerKind::kExpintOde);
MDM_SAMPLER_BENCHMARK(expint_ms, SamplerKind::kExpintMultistep);
MDM_SAMPLER_BENCHMARK(expint_ms_sde, SamplerKind::kExpintMultistepSde);
MDM_SAMPLER_BENCHMARK(ode, SamplerKind::kOde);
MDM_SAMPLER_BENCHMARK(rk4, SamplerKind::kRk4);
#undef MDM_SAMPLER_BENCHMARK

}  // namespace
}  // namespace mdm::sampling
