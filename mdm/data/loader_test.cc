#include "mdm/data/loader.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <set>
#include <vector>

namespace mdm::data {
namespace {

// N images whose label is their index and whose pixels are distinct per
// image and asymmetric left-right (so flips are visible).
std::shared_ptr<const Dataset> Indexed(int64_t n) {
  const at::Tensor base =
      at::arange(n * 4, at::kLong).remainder(251).view({n, 1, 2, 2});
  return std::make_shared<InMemoryImages>("indexed", base.to(at::kByte),
                                          at::arange(n, at::kLong));
}

std::vector<Examples> Epoch(DataLoader& loader) {
  std::vector<Examples> batches;
  while (true) {
    absl::StatusOr<std::optional<Examples>> batch = loader.Next();
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok() || !batch->has_value()) break;
    batches.push_back(**batch);
  }
  return batches;
}

std::vector<int64_t> Labels(const std::vector<Examples>& batches) {
  std::vector<int64_t> labels;
  for (const Examples& b : batches) {
    for (int64_t i = 0; i < b.labels.size(0); ++i)
      labels.push_back(b.labels[i].item<int64_t>());
  }
  return labels;
}

TEST(DataLoaderTest, ShufflingIsAReproduciblePermutationPerEpoch) {
  const auto data = Indexed(50);
  LoaderOptions options;
  options.seed = 3;
  options.num_workers = 0;
  DataLoader a(data, options), b(data, options);
  const std::vector<int64_t> e0 = a.EpochIndices(0);
  EXPECT_EQ(e0, b.EpochIndices(0));
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);
  EXPECT_NE(e0, a.EpochIndices(1));
  options.seed = 4;
  EXPECT_NE(e0, DataLoader(data, options).EpochIndices(0));
  options.shuffle = false;
  EXPECT_EQ(DataLoader(data, options).EpochIndices(0), all);
}

TEST(DataLoaderTest, RankShardsAreDisjointAndComplete) {
  const auto data = Indexed(99);
  std::set<int64_t> seen;
  for (int64_t rank = 0; rank < 3; ++rank) {
    LoaderOptions options;
    options.seed = 1;
    options.rank = rank;
    options.world_size = 3;
    options.num_workers = 0;
    const std::vector<int64_t> shard =
        DataLoader(data, options).EpochIndices(2);
    EXPECT_EQ(shard.size(), 33u);
    for (int64_t i : shard)
      EXPECT_TRUE(seen.insert(i).second) << "index " << i << " twice";
  }
  EXPECT_EQ(seen.size(), 99u);
}

TEST(DataLoaderTest, RanksSliceOneProcesssGlobalBatch) {
  // Two ranks with batch 4 read, step by step, the halves of one process's
  // batch of 8, including the shorter last batch (23 / 2 = 11 per rank).
  const auto data = Indexed(23);
  LoaderOptions single;
  single.seed = 3;
  single.batch_size = 8;
  single.drop_last = false;
  single.num_workers = 0;
  DataLoader one_process(data, single);
  const std::vector<Examples> global = Epoch(one_process);
  std::vector<std::vector<Examples>> ranks;
  for (int64_t rank = 0; rank < 2; ++rank) {
    LoaderOptions options = single;
    options.batch_size = 4;
    options.rank = rank;
    options.world_size = 2;
    DataLoader loader(data, options);
    ranks.push_back(Epoch(loader));
  }
  ASSERT_EQ(ranks[0].size(), 3u);
  ASSERT_EQ(ranks[1].size(), 3u);
  for (size_t step = 0; step < 3; ++step) {
    std::vector<int64_t> joined = Labels({ranks[0][step]});
    const std::vector<int64_t> second = Labels({ranks[1][step]});
    joined.insert(joined.end(), second.begin(), second.end());
    std::vector<int64_t> expected = Labels({global[step]});
    expected.resize(joined.size());  // 23 = 22 used + 1 skipped.
    EXPECT_EQ(joined, expected) << "step " << step;
  }
  EXPECT_EQ(ranks[0][2].x.size(0), 3);
}

TEST(DataLoaderTest, BatchesFollowTheOrderAndDropLast) {
  const auto data = Indexed(10);
  LoaderOptions options;
  options.batch_size = 4;
  options.num_workers = 0;
  DataLoader dropping(data, options);
  EXPECT_EQ(dropping.batches_per_epoch(), 2);
  std::vector<int64_t> order = dropping.EpochIndices(0);
  order.resize(8);
  EXPECT_EQ(Labels(Epoch(dropping)), order);
  options.drop_last = false;
  DataLoader keeping(data, options);
  const std::vector<Examples> batches = Epoch(keeping);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2].x.size(0), 2);
  EXPECT_EQ(Labels(batches), keeping.EpochIndices(0));
  // The epoch after next starts over with a new order.
  EXPECT_EQ(keeping.position().epoch, 1);
  EXPECT_EQ(Labels(Epoch(keeping)), keeping.EpochIndices(1));
}

// Background workers return exactly the batches (and flips) of the
// synchronous path, in order, across epochs.
TEST(DataLoaderTest, PrefetchingMatchesTheSynchronousPath) {
  const auto data = Indexed(200);
  LoaderOptions options;
  options.batch_size = 16;
  options.random_flip = true;
  options.seed = 9;
  options.num_workers = 0;
  DataLoader sync(data, options);
  options.num_workers = 3;
  options.prefetch = 5;
  DataLoader async(data, options);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const std::vector<Examples> a = Epoch(sync), b = Epoch(async);
    ASSERT_EQ(a.size(), b.size());
    int flipped = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(at::equal(a[i].x, b[i].x))
          << "epoch " << epoch << " batch " << i;
      EXPECT_TRUE(at::equal(a[i].labels, b[i].labels));
      const at::Tensor original =
          data->Get(std::vector<int64_t>(
                        a[i].labels.data_ptr<int64_t>(),
                        a[i].labels.data_ptr<int64_t>() + a[i].labels.size(0)))
              ->x;
      flipped += a[i].x.ne(original).flatten(1).any(1).sum().item<int>();
    }
    // About half the images are flipped.
    EXPECT_GT(flipped, 60);
    EXPECT_LT(flipped, 140);
  }
}

TEST(DataLoaderTest, SeekResumesFromASavedPosition) {
  const auto data = Indexed(64);
  LoaderOptions options;
  options.batch_size = 8;
  options.num_workers = 2;
  DataLoader first(data, options);
  Epoch(first);
  ASSERT_TRUE(first.Next().ok());
  ASSERT_TRUE(first.Next().ok());
  const LoaderPosition saved = first.position();
  EXPECT_EQ(saved.epoch, 1);
  EXPECT_EQ(saved.step, 2);
  const std::vector<int64_t> rest = Labels(Epoch(first));
  DataLoader resumed(data, options);
  resumed.Seek(saved);
  EXPECT_EQ(Labels(Epoch(resumed)), rest);
}

class FailingDataset : public Dataset {
 public:
  int64_t size() const override { return 10; }
  std::vector<int64_t> example_shape() const override { return {1}; }
  bool is_8bit() const override { return false; }
  absl::StatusOr<Examples> Get(absl::Span<const int64_t>) const override {
    return absl::DataLossError("disk on fire");
  }
  std::string name() const override { return "failing"; }
};

TEST(DataLoaderTest, ErrorsReachTheConsumer) {
  LoaderOptions options;
  options.batch_size = 2;
  for (int workers : {0, 2}) {
    options.num_workers = workers;
    DataLoader loader(std::make_shared<FailingDataset>(), options);
    absl::StatusOr<std::optional<Examples>> batch = loader.Next();
    ASSERT_FALSE(batch.ok());
    EXPECT_EQ(batch.status().message(), "disk on fire");
  }
}

}  // namespace
}  // namespace mdm::data
