#include "mdm/data/loader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>

#include "mdm/util/runtime_info.h"
#include "mdm/util/seed_streams.h"

namespace mdm::data {
DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset,
                       const LoaderOptions& options)
    : dataset_(std::move(dataset)), options_(options) {
  TORCH_CHECK(options.batch_size > 0, "batch_size must be positive");
  TORCH_CHECK(options.world_size >= 1 && options.rank >= 0 &&
                  options.rank < options.world_size,
              "need 0 <= rank < world_size");
  examples_per_rank_ = dataset_->size() / options.world_size;
  batches_per_epoch_ =
      options.drop_last
          ? examples_per_rank_ / options.batch_size
          : (examples_per_rank_ + options.batch_size - 1) / options.batch_size;
  std::lock_guard<std::mutex> lock(mu_);
  ResetLocked({});
  for (int i = 0; i < options.num_workers; ++i) {
    workers_.emplace_back([this] {
      util::InitComputeThread();
      WorkerLoop();
    });
  }
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

std::vector<int64_t> DataLoader::EpochIndices(int64_t epoch) const {
  const int64_t n = dataset_->size();
  std::vector<int64_t> order(n);
  if (options_.shuffle) {
    at::Generator gen =
        util::StreamGenerator(options_.seed, util::Stream::kDataOrder, epoch);
    // host: data is read and kept on the host; batches move
    const at::Tensor perm = at::randperm(n, gen, at::kLong);
    std::copy(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + n,
              order.begin());
  } else {
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  // Global batch g is the next world_size * b positions of the order (b is
  // the batch size, or what is left of this epoch for the last batch); rank
  // r reads its r-th contiguous slice of b. So the ranks' batches of a step
  // together are exactly one process's batch of world_size * b, and rank r's
  // slice is that process's r-th micro-batch under gradient accumulation.
  std::vector<int64_t> mine;
  mine.reserve(examples_per_rank_);
  const int64_t b = options_.batch_size;
  for (int64_t start = 0; start < examples_per_rank_; start += b) {
    const int64_t size = std::min(b, examples_per_rank_ - start);
    const int64_t offset = start * options_.world_size + options_.rank * size;
    for (int64_t j = 0; j < size; ++j) mine.push_back(order[offset + j]);
  }
  return mine;
}

void DataLoader::ResetLocked(const LoaderPosition& position) {
  ++generation_;
  epoch_ = position.epoch;
  next_step_ = next_scheduled_ = position.step;
  indices_ = EpochIndices(epoch_);
  ready_.clear();
}

absl::StatusOr<Examples> DataLoader::LoadBatch(
    int64_t epoch, int64_t step, const std::vector<int64_t>& indices) const {
  absl::StatusOr<Examples> batch = dataset_->Get(indices);
  if (!batch.ok() || !options_.random_flip || batch->x.dim() != 4) return batch;
  at::Generator gen =
      util::StreamGenerator(options_.seed, util::Stream::kDataFlips, epoch,
                            step * options_.world_size + options_.rank);
  const at::Tensor flip =
      // host: data is read and kept on the host; batches move
      at::rand({batch->x.size(0)}, gen).lt(0.5).view({-1, 1, 1, 1});
  batch->x = at::where(flip, batch->x.flip({3}), batch->x);
  return batch;
}

void DataLoader::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] {
      return stop_ ||
             (next_scheduled_ < batches_per_epoch_ &&
              next_scheduled_ < next_step_ + std::max(1, options_.prefetch));
    });
    if (stop_) return;
    const int64_t step = next_scheduled_++;
    const int64_t generation = generation_, epoch = epoch_;
    const int64_t begin = step * options_.batch_size;
    const int64_t end =
        std::min<int64_t>(begin + options_.batch_size, indices_.size());
    const std::vector<int64_t> chunk(indices_.begin() + begin,
                                     indices_.begin() + end);
    lock.unlock();
    absl::StatusOr<Examples> batch = LoadBatch(epoch, step, chunk);
    lock.lock();
    if (generation == generation_) ready_.emplace(step, std::move(batch));
    cv_.notify_all();
  }
}

absl::StatusOr<std::optional<Examples>> DataLoader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (next_step_ >= batches_per_epoch_) {
    ResetLocked({.epoch = epoch_ + 1, .step = 0});
    cv_.notify_all();
    return std::optional<Examples>();
  }
  const int64_t step = next_step_;
  if (workers_.empty()) {
    const int64_t begin = step * options_.batch_size;
    const int64_t end =
        std::min<int64_t>(begin + options_.batch_size, indices_.size());
    const std::vector<int64_t> chunk(indices_.begin() + begin,
                                     indices_.begin() + end);
    ++next_step_;
    next_scheduled_ = next_step_;
    absl::StatusOr<Examples> batch = LoadBatch(epoch_, step, chunk);
    if (!batch.ok()) return batch.status();
    return std::optional<Examples>(*std::move(batch));
  }
  cv_.wait(lock, [&] { return ready_.count(step) > 0; });
  absl::StatusOr<Examples> batch = std::move(ready_.at(step));
  ready_.erase(step);
  ++next_step_;
  cv_.notify_all();
  if (!batch.ok()) return batch.status();
  return std::optional<Examples>(*std::move(batch));
}

LoaderPosition DataLoader::position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {.epoch = epoch_, .step = next_step_};
}

void DataLoader::Seek(const LoaderPosition& position) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ResetLocked(position);
  }
  cv_.notify_all();
}

}  // namespace mdm::data
