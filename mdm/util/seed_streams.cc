#include "mdm/util/seed_streams.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <mutex>

namespace mdm::util {

uint64_t StreamSeed(uint64_t seed, Stream stream, uint64_t a, uint64_t b) {
  uint64_t h = seed;
  for (uint64_t v : {static_cast<uint64_t>(stream), a, b}) {
    h += 0x9E3779B97F4A7C15ULL + v;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
  }
  return h;
}

at::Generator StreamGenerator(uint64_t seed, Stream stream, uint64_t a,
                              uint64_t b, const c10::Device& device) {
  const uint64_t stream_seed = StreamSeed(seed, stream, a, b);
  if (device.is_cpu()) {
    return at::make_generator<at::CPUGeneratorImpl>(stream_seed);
  }
  at::Generator generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(stream_seed);
  return generator;
}

}  // namespace mdm::util
