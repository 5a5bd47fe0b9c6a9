// One place that derives every random stream of a run from its seed, so
// streams never coincide: the noise of each training micro-batch, the
// evaluation, the sample grids, the data order, the data flips, the
// held-out validation split and the FID samples. A stream's seed is a
// SplitMix64 hash of (seed, stream, a, b).
#ifndef MDM_UTIL_SEED_STREAMS_H_
#define MDM_UTIL_SEED_STREAMS_H_

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <cstdint>

namespace mdm::util {

enum class Stream : uint64_t {
  kTraining = 1,    // a = optimizer step, b = micro-batch shard.
  kEvaluation = 2,  // a = rank.
  kSampling = 3,    // Sample grids during training.
  kDataOrder = 4,   // a = epoch.
  kDataFlips = 5,   // a = epoch, b = batch * world_size + rank.
  kValidationSplit = 6,  // Which training examples are held out.
  kFid = 7,              // FID samples during training; a = step.
};

uint64_t StreamSeed(uint64_t seed, Stream stream, uint64_t a = 0,
                    uint64_t b = 0);

// A generator for `device` seeded with StreamSeed(...): a fresh one on the
// CPU; on an accelerator the device's default generator, reseeded (its
// kernels need a generator of their own device).
at::Generator StreamGenerator(uint64_t seed, Stream stream, uint64_t a = 0,
                              uint64_t b = 0,
                              const c10::Device& device = c10::kCPU);

}  // namespace mdm::util

#endif  // MDM_UTIL_SEED_STREAMS_H_
