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
  for (Stream stream :
       {Stream::kTraining, Stream::kEvaluation, Stream::kSampling,
        Stream::kDataOrder, Stream::kDataFlips, Stream::kValidationSplit,
        Stream::kFid}) {
    for (uint64_t a = 0; a < 200; ++a) {
      for (uint64_t b = 0; b < 8; ++b, ++n) seeds.insert(StreamSeed(7, stream, a, b));
    }
  }
  EXPECT_EQ(static_cast<int64_t>(seeds.size()), n);
  EXPECT_EQ(StreamSeed(7, Stream::kTraining, 17, 0),
            StreamSeed(7, Stream::kTraining, 17, 0));
  EXPECT_NE(StreamSeed(7, Stream::kTraining), StreamSeed(8, Stream::kTraining));
}

// Every stream's seed is pinned: a changed hash would silently change
// which examples a run holds out and every draw of a resumed or repeated
// run. (Values from an independent Python SplitMix64 of the same inputs.)
TEST(SeedStreamsTest, SeedsArePinned) {
  EXPECT_EQ(StreamSeed(0, Stream::kTraining), 0xb18a02f46d8d86c3ULL);
  EXPECT_EQ(StreamSeed(0, Stream::kEvaluation), 0x1956ecd1a275ec95ULL);
  EXPECT_EQ(StreamSeed(0, Stream::kSampling), 0x546f36061b6b1313ULL);
  EXPECT_EQ(StreamSeed(0, Stream::kDataOrder), 0x743d4fd0e0f20311ULL);
  EXPECT_EQ(StreamSeed(0, Stream::kDataFlips), 0xa711a1abdd4d6f75ULL);
  EXPECT_EQ(StreamSeed(0, Stream::kValidationSplit), 0xcef2df89f8f767c3ULL);
  EXPECT_EQ(StreamSeed(0, Stream::kFid), 0x9c01479161bc5d78ULL);
  EXPECT_EQ(StreamSeed(7, Stream::kDataFlips, 3, 1), 16585654786704048005ULL);
  EXPECT_EQ(StreamSeed(7, Stream::kFid, 3, 1), 6922550169954997177ULL);
}

}  // namespace
}  // namespace mdm::util
