#include "mdm/util/host_reads.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace mdm::util {
namespace {

// item() is counted, each call once; arithmetic, copies and reads before
// the counter or after Reset are not.
TEST(HostReadCounterTest, CountsItemCallsOnly) {
  const at::Tensor x = at::arange(6, at::kFloat);
  (void)x.sum().item<float>();  // Before the counter.
  HostReadCounter reads;
  EXPECT_EQ(reads.count(), 0);
  const at::Tensor y = (x * 2 + 1).clone();
  EXPECT_EQ(reads.count(), 0);
  EXPECT_EQ(y.sum().item<float>(), 36.0f);
  EXPECT_EQ(reads.count(), 1);
  for (int i = 0; i < 3; ++i) (void)y[i].item<double>();
  EXPECT_EQ(reads.count(), 4);
  reads.Reset();
  EXPECT_EQ(reads.count(), 0);
  (void)y.max().item<float>();
  EXPECT_EQ(reads.count(), 1);
}

// ReadToHost reads any dtype as doubles, exactly, and counts as one read.
TEST(HostReadCounterTest, ReadToHostIsOneRead) {
  HostReadCounter reads;
  const std::vector<double> values =
      ReadToHost({at::full({}, 0.1f), at::full({1}, 3, at::kLong),
                  at::full({1, 1}, 0.25, at::kDouble)});
  EXPECT_EQ(reads.count(), 1);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0], static_cast<double>(0.1f));
  EXPECT_EQ(values[1], 3.0);
  EXPECT_EQ(values[2], 0.25);
}

}  // namespace
}  // namespace mdm::util
