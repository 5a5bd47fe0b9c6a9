#include "mdm/util/seed_streams.h"

#include <gtest/gtest.h>

#include <set>

namespace mdm::util {
namespace {

// No two (stream, a, b) of a run share a seed over a realistic range, and
// the same arguments give the same seed.
TEST(SeedStreamsTest, StreamsAreDistinctAndDeterministic) {
  std::set<uint64_t> seeds;
  int64_t n = 0;
  for (Stream stream : {Stream::kTraining, Stream::kEvaluation,
                        Stream::kSampling, Stream::kDataOrder,
                        Stream::kDataFlips}) {
    for (uint64_t a = 0; a < 200; ++a) {
      for (uint64_t b = 0; b < 8; ++b, ++n) seeds.insert(StreamSeed(7, stream, a, b));
    }
  }
  EXPECT_EQ(static_cast<int64_t>(seeds.size()), n);
  EXPECT_EQ(StreamSeed(7, Stream::kTraining, 17, 0),
            StreamSeed(7, Stream::kTraining, 17, 0));
  EXPECT_NE(StreamSeed(7, Stream::kTraining), StreamSeed(8, Stream::kTraining));
}

}  // namespace
}  // namespace mdm::util
