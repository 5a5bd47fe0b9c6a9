// Batches per second of the input pipeline at batch 128: Fashion-MNIST
// from Debian's package (IDX, 60000 train images) and a CIFAR-10-sized set
// (50000 32x32x3 images, random flips), synchronous and with 2 prefetching
// workers. The trainer consumes one TinyUNet step (~1 s on 2 cores) per
// batch, so the pipeline has to sustain far more than 1 batch/s.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <memory>

#include "mdm/data/idx.h"
#include "mdm/data/loader.h"

namespace mdm::data {
namespace {

void RunEpochs(benchmark::State& state, std::shared_ptr<const Dataset> data,
               bool flip) {
  LoaderOptions options;
  options.batch_size = 128;
  options.num_workers = static_cast<int>(state.range(0));
  options.random_flip = flip;
  DataLoader loader(std::move(data), options);
  int64_t batches = 0;
  for (auto _ : state) {
    absl::StatusOr<std::optional<Examples>> batch = loader.Next();
    if (!batch.ok()) {
      state.SkipWithError(std::string(batch.status().message()).c_str());
      return;
    }
    if (batch->has_value()) ++batches;
  }
  state.counters["batches_per_s"] = benchmark::Counter(
      static_cast<double>(batches), benchmark::Counter::kIsRate);
}

void BM_FashionMnistPipeline(benchmark::State& state) {
  absl::StatusOr<InMemoryImages> train = LoadIdxImages(
      "/usr/share/datasets/fashion-mnist", "train", "fashion_mnist");
  if (!train.ok()) {
    state.SkipWithError(std::string(train.status().message()).c_str());
    return;
  }
  RunEpochs(state, std::make_shared<InMemoryImages>(*train), /*flip=*/false);
}
BENCHMARK(BM_FashionMnistPipeline)
    ->Arg(0)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_CifarSizedPipeline(benchmark::State& state) {
  const at::Tensor images = at::randint(0, 256, {50000, 3, 32, 32}, at::kByte);
  RunEpochs(state,
            std::make_shared<InMemoryImages>("cifar-sized", images,
                                             at::zeros({50000}, at::kLong)),
            /*flip=*/true);
}
BENCHMARK(BM_CifarSizedPipeline)
    ->Arg(0)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mdm::data
