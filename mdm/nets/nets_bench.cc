// Forward and forward+backward time of each score network at batch 128:
// TinyUNet on 28x28x1, HoUNet and NCSN++ at reduced width on 32x32x3, the
// MLP on 2-D data; K = 3 variables throughout. Networks run as
// Model::Network runs them: on --num_threads shards of the batch
// (util::ShardedCall); times are wall-clock. The context line names the
// BLAS in use.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "mdm/nets/ho_unet.h"
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
