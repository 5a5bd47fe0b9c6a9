// The input pipeline: deterministic per-epoch shuffling from the seed,
// sharding by rank for data-parallel training, batching, optional random
// horizontal flips, and background prefetching on worker threads so the
// trainer never waits on decoding. Its position (epoch, step) is what a
// checkpoint saves and restores.
#ifndef MDM_DATA_LOADER_H_
#define MDM_DATA_LOADER_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/data/dataset.h"

namespace mdm::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  // Drop each epoch's last, incomplete batch.
  bool drop_last = true;
  bool shuffle = true;
  uint64_t seed = 0;
  // This process's rank and the number of ranks: each rank reads a
  // disjoint 1/world_size of every epoch (the N % world_size remainder of
  // the permutation is skipped so all ranks take the same number of steps):
  // the r-th contiguous slice of every global batch of world_size *
  // batch_size, so a step of world_size ranks sees the same examples as one
  // process with world_size times the batch.
  int64_t rank = 0;
  int64_t world_size = 1;
  // Background threads; 0 loads synchronously in Next().
  int num_workers = 2;
  // Batches loaded ahead of the consumer.
  int prefetch = 4;
  // Flip each image left-right with probability 1/2 (training only).
  bool random_flip = false;
};

struct LoaderPosition {
  int64_t epoch = 0;
  int64_t step = 0;  // Batches of `epoch` already returned.
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset,
             const LoaderOptions& options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  const Dataset& dataset() const { return *dataset_; }

  // The next batch of the current epoch, or nullopt once the epoch is done
  // (the following call starts the next epoch). Batches and flips depend
  // only on (seed, epoch, step, rank), never on thread timing.
  absl::StatusOr<std::optional<Examples>> Next();

  LoaderPosition position() const;
  // Continues from a saved position: the next batch is `position.step` of
  // `position.epoch`.
  void Seek(const LoaderPosition& position);

  // This rank's example order for `epoch`.
  std::vector<int64_t> EpochIndices(int64_t epoch) const;

 private:
  absl::StatusOr<Examples> LoadBatch(int64_t epoch, int64_t step,
                                     const std::vector<int64_t>& indices) const;
  void WorkerLoop();
  void ResetLocked(const LoaderPosition& position);

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  int64_t examples_per_rank_;
  int64_t batches_per_epoch_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int64_t generation_ = 0;  // Bumped by every reset; stale results are dropped.
  int64_t epoch_ = 0;
  int64_t next_step_ = 0;         // The consumer's next batch.
  int64_t next_scheduled_ = 0;    // The next batch a worker will load.
  std::vector<int64_t> indices_;  // This rank's order for epoch_.
  std::map<int64_t, absl::StatusOr<Examples>> ready_;
  std::vector<std::thread> workers_;
};

}  // namespace mdm::data

#endif  // MDM_DATA_LOADER_H_
