#include "mdm/util/op_profile.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

namespace mdm::util {
namespace {

// Every call is counted under its operator; a matmul's self time excludes
// the mm it calls, and the self times add up to no more than the wall time.
TEST(OpProfileTest, CountsCallsAndSplitsSelfTime) {
  const at::Tensor a = at::randn({256, 256});
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, OpProfile::Row> by_name;
  double self_sum = 0;
  {
    OpProfile profile;
    for (int i = 0; i < 3; ++i) (void)at::matmul(a, a);
    (void)at::relu(a);
    for (const OpProfile::Row& row : profile.Rows()) {
      by_name[row.name] = row;
      self_sum += row.self_s;
    }
    EXPECT_NE(profile.Table(5).find("aten::matmul"), std::string::npos);
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(by_name.count("aten::matmul"));
  ASSERT_TRUE(by_name.count("aten::mm"));
  EXPECT_EQ(by_name["aten::matmul"].calls, 3);
  EXPECT_EQ(by_name["aten::mm"].calls, 3);
  EXPECT_EQ(by_name["aten::relu"].calls, 1);
  // The multiplications are mm's own time, not matmul's.
  EXPECT_GT(by_name["aten::mm"].self_s, by_name["aten::matmul"].self_s);
  EXPECT_GE(by_name["aten::matmul"].total_s, by_name["aten::mm"].total_s);
  EXPECT_LE(self_sum, wall);
}

}  // namespace
}  // namespace mdm::util
