// Forward and forward+backward time of each score network at batch 128:
// TinyUNet on 28x28x1, HoUNet and NCSN++ at reduced width on 32x32x3, the
// MLP on 2-D data; K = 3 variables throughout. Networks run as
// Model::Network runs them: on --num_threads shards of the batch
// (util::ShardedCall); times are wall-clock. The context line names the
// BLAS in use.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <iterator>
#include <memory>
#include <vector>

#include "mdm/nets/ho_unet.h"
#include "mdm/nets/layers.h"
#include "mdm/nets/mlp.h"
#include "mdm/nets/ncsnpp.h"
#include "mdm/nets/tiny_unet.h"
#include "mdm/util/runtime_info.h"
#include "mdm/util/sharded_call.h"

namespace mdm::nets {
namespace {

constexpr int64_t kBatch = 128;
constexpr int64_t kVars = 3;

// Converts every 4-D parameter to channels-last.
void ToChannelsLast(torch::nn::Module& net) {
  at::NoGradGuard no_grad;
  for (at::Tensor& p : net.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

void Run(benchmark::State& state, ScoreModel& net, const at::Tensor& u) {
  const bool backward = state.range(0) != 0;
  const at::Tensor t = at::rand({u.size(0)});
  net.train(backward);
  auto forward = [&] {
    return util::ShardedCall(
        [&net](const std::vector<at::Tensor>& in) {
          return net.forward(in[0], in[1]);
        },
        {u, t}, net.parameters(), util::ComputeThreads());
  };
  for (auto _ : state) {
    if (backward) {
      net.zero_grad();
      forward().pow(2).mean().backward();
    } else {
      at::NoGradGuard no_grad;
      benchmark::DoNotOptimize(forward().data_ptr());
    }
  }
  state.SetItemsProcessed(state.iterations() * u.size(0));
  state.SetLabel(backward ? "forward+backward" : "forward");
}

void BM_TinyUNet(benchmark::State& state) {
  TinyUNet net(TinyUNetOptions(kVars, 1));
  if (state.range(1) != 0) ToChannelsLast(*net);
  Run(state, *net, at::randn({kBatch, kVars, 1, 28, 28}));
  if (state.range(1) != 0)
    state.SetLabel(state.range(0) ? "fwd+bwd channels-last"
                                  : "fwd channels-last");
}
BENCHMARK(BM_TinyUNet)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

// TinyUNet's layers one at a time, as a batch-128 Learned-3 training step
// on 28x28 runs them (on the compute threads' batch shards): forward and
// backward of each convolution (its GFLOP/s counts its multiply-adds x 2,
// three times: forward, input gradient, weight gradient; twice for conv1,
// whose input needs no gradient), and of each GroupNorm + SiLU (time only).
// Where a step's time goes, layer by layer (docs/benchmarks.md).
struct LayerShape {
  const char* name;
  bool transposed;
  int64_t in, out, stride, side_in, side_out;
  int64_t groups = 0;  // A GroupNorm + SiLU of `out` channels at side_out.
};
constexpr LayerShape kTinyUNetLayers[] = {
    {"conv1", false, 3, 32, 1, 28, 26},
    {"conv2", false, 32, 64, 2, 26, 12},
    {"conv3", false, 64, 128, 2, 12, 5},
    {"conv4", false, 128, 256, 2, 5, 2},
    {"tconv4", true, 256, 128, 2, 2, 5},
    {"tconv3", true, 256, 64, 2, 5, 12},
    {"tconv2", true, 128, 32, 2, 12, 26},
    {"tconv1", true, 64, 3, 1, 26, 28},
    {"gnorm1", false, 0, 32, 0, 0, 26, 4},
    {"gnorm2", false, 0, 64, 0, 0, 12, 32},
    {"gnorm3", false, 0, 128, 0, 0, 5, 32},
    {"gnorm4", false, 0, 256, 0, 0, 2, 32},
    {"tgnorm4", false, 0, 128, 0, 0, 5, 32},
    {"tgnorm3", false, 0, 64, 0, 0, 12, 32},
    {"tgnorm2", false, 0, 32, 0, 0, 26, 32},
};

void BM_TinyUNetLayer(benchmark::State& state) {
  const LayerShape& layer = kTinyUNetLayers[state.range(0)];
  torch::nn::Conv2d conv{nullptr};
  torch::nn::ConvTranspose2d tconv{nullptr};
  torch::nn::GroupNorm norm{nullptr};
  std::vector<at::Tensor> params;
  at::Tensor x;
  double macs = 0;
  if (layer.groups > 0) {
    norm = torch::nn::GroupNorm(
        torch::nn::GroupNormOptions(layer.groups, layer.out));
    params = norm->parameters();
    x = at::randn({kBatch, layer.out, layer.side_out, layer.side_out});
  } else if (layer.transposed) {
    tconv = torch::nn::ConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(layer.in, layer.out, 3)
            .stride(layer.stride)
            .bias(false));
    params = tconv->parameters();
    x = at::randn({kBatch, layer.in, layer.side_in, layer.side_in});
    macs = static_cast<double>(kBatch) * layer.side_in * layer.side_in *
           layer.in * layer.out * 9;
  } else {
    conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(layer.in, layer.out, 3)
                                 .stride(layer.stride)
                                 .bias(false));
    params = conv->parameters();
    x = at::randn({kBatch, layer.in, layer.side_in, layer.side_in});
    macs = static_cast<double>(kBatch) * layer.side_out * layer.side_out *
           layer.in * layer.out * 9;
  }
  x.requires_grad_(layer.in != 3);  // The first layer's input needs none.
  auto apply = [&](const std::vector<at::Tensor>& in) {
    if (layer.groups > 0) return GroupNormSiLU(in[0], norm);
    if (layer.transposed) {
      return ConvTranspose2dTo(tconv, in[0],
                               {layer.side_out, layer.side_out});
    }
    return conv->forward(in[0]);
  };
  for (auto _ : state) {
    for (at::Tensor& p : params) p.mutable_grad() = at::Tensor();
    util::ShardedCall(apply, {x}, params, util::ComputeThreads())
        .sum()
        .backward();
  }
  state.SetLabel(layer.name);
  if (macs > 0) {
    const double passes = x.requires_grad() ? 3 : 2;
    state.counters["GFLOP/s"] =
        benchmark::Counter(passes * 2 * macs * state.iterations() / 1e9,
                           benchmark::Counter::kIsRate);
  }
}
BENCHMARK(BM_TinyUNetLayer)
    ->DenseRange(0, std::size(kTinyUNetLayers) - 1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_HoUNetReduced(benchmark::State& state) {
  HoUNet net(HoUNetOptions(kVars, 3, 32).ch(32).dropout(0.0));
  Run(state, *net, at::randn({kBatch, kVars, 3, 32, 32}));
}
BENCHMARK(BM_HoUNetReduced)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_NcsnppReduced(benchmark::State& state) {
  Ncsnpp net(NcsnppOptions(kVars, 3, 32).nf(32).num_res_blocks(2).dropout(0.0));
  Run(state, *net, at::randn({kBatch, kVars, 3, 32, 32}));
}
BENCHMARK(BM_NcsnppReduced)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Mlp(benchmark::State& state) {
  Mlp net(MlpOptions(kVars, 2));
  Run(state, *net, at::randn({kBatch, kVars, 2}));
}
BENCHMARK(BM_Mlp)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace mdm::nets
