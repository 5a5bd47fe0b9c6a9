#include "mdm/util/op_profile.h"

#include <ATen/ATen.h>
#include <ATen/ThreadLocalState.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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

double Flop(const OpProfile& profile, std::string_view containing) {
  double flop = 0;
  for (const OpProfile::Row& row : profile.Rows()) {
    if (row.name.find(containing) != std::string::npos) flop += row.flop;
  }
  return flop;
}

// A product's arithmetic is counted once, in the operator that did it (mm,
// not the matmul that called it): 2 m k n.
TEST(OpProfileTest, CountsProductArithmeticOnce) {
  OpProfile profile;
  (void)at::matmul(at::randn({5, 7}), at::randn({7, 3}));
  (void)at::bmm(at::randn({2, 5, 7}), at::randn({2, 7, 3}));
  double mm = 0, bmm = 0, matmul = 0;
  for (const OpProfile::Row& row : profile.Rows()) {
    if (row.name == "aten::mm") mm += row.flop;
    if (row.name == "aten::bmm") bmm += row.flop;
    if (row.name == "aten::matmul") matmul += row.flop;
  }
  EXPECT_EQ(mm, 2 * 5 * 7 * 3);
  EXPECT_EQ(bmm, 2 * 2 * 5 * 7 * 3);
  EXPECT_EQ(matmul, 0);
}

// A convolution's forward is 2 flops per multiply-add of its output
// elements over C_in x 3 x 3; each gradient asked for in its backward one
// pass more, counted once however LibTorch dispatches it (oneDNN or the
// im2col path, behind convolution wrappers).
TEST(OpProfileTest, CountsConvolutionArithmeticOnce) {
  constexpr double kForward = 2.0 * (2 * 4 * 8 * 8) * (3 * 3 * 3);
  for (const bool input_grad : {false, true}) {
    const at::Tensor x = at::randn({2, 3, 8, 8}).requires_grad_(input_grad);
    const at::Tensor w = at::randn({4, 3, 3, 3}).requires_grad_();
    OpProfile profile;
    const at::Tensor y = at::conv2d(x, w, {}, 1, 1);
    EXPECT_EQ(Flop(profile, "conv"), kForward);
    y.sum().backward();
    EXPECT_EQ(Flop(profile, "conv"), kForward * (input_grad ? 3 : 2))
        << profile.Table(30);
  }
}

// A transposed convolution's arithmetic scales with its input: 2 C_out
// k^2 per input element, whatever its stride.
TEST(OpProfileTest, CountsTransposedConvolutionByItsInput) {
  constexpr double kForward = 2.0 * (2 * 4 * 5 * 5) * (3 * 3 * 3);
  const at::Tensor x = at::randn({2, 4, 5, 5}).requires_grad_();
  const at::Tensor w = at::randn({4, 3, 3, 3}).requires_grad_();
  OpProfile profile;
  const at::Tensor y = at::conv_transpose2d(x, w, {}, 2);
  ASSERT_EQ(y.size(2), 11);
  EXPECT_EQ(Flop(profile, "conv"), kForward) << profile.Table(30);
  y.sum().backward();
  EXPECT_EQ(Flop(profile, "conv"), 3 * kForward) << profile.Table(30);
}

// A thread that carries the profiling thread's state (as ShardedCall's
// compute threads do) is profiled too, into the same table.
TEST(OpProfileTest, CountsThreadsThatCarryItsState) {
  const at::Tensor a = at::randn({4, 4});
  OpProfile profile;
  const at::ThreadLocalState state;
  std::thread worker([&] {
    const at::ThreadLocalStateGuard guard(state);
    (void)at::mm(a, a);
  });
  worker.join();
  (void)at::mm(a, a);
  int64_t calls = 0;
  for (const OpProfile::Row& row : profile.Rows()) {
    if (row.name == "aten::mm") calls += row.calls;
  }
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Flop(profile, "aten::mm"), 2 * (2 * 4 * 4 * 4));
}

// by_shape gives an operator a row per shapes of its inputs and output:
// convolutions of one input and weight but two strides are two rows.
TEST(OpProfileTest, ByShapeSplitsRowsByShapes) {
  OpProfile profile({.by_shape = true});
  const at::Tensor a = at::randn({4, 4}), b = at::randn({5, 7});
  (void)at::mm(a, a);
  (void)at::mm(a, a);
  (void)at::mm(b, b.t());
  const at::Tensor x = at::randn({1, 2, 8, 8}), w = at::randn({3, 2, 3, 3});
  (void)at::conv2d(x, w, {}, 1, 1);
  (void)at::conv2d(x, w, {}, 2, 1);
  std::map<std::string, int64_t> mm, conv;
  for (const OpProfile::Row& row : profile.Rows()) {
    if (row.name == "aten::mm") mm[row.shapes] = row.calls;
    if (row.name == "aten::conv2d") conv[row.shapes] = row.calls;
  }
  EXPECT_EQ(mm, (std::map<std::string, int64_t>{{"[4,4] [4,4] -> [4,4]", 2},
                                                {"[5,7] [7,5] -> [5,5]", 1}}));
  EXPECT_EQ(conv, (std::map<std::string, int64_t>{
                      {"[1,2,8,8] [3,2,3,3] -> [1,3,8,8]", 1},
                      {"[1,2,8,8] [3,2,3,3] -> [1,3,4,4]", 1}}));
  EXPECT_NE(profile.Table(50).find("[5,7] [7,5] -> [5,5]"), std::string::npos);
}

// An operator that started under one profile ends in it, even after a
// second has begun: the second counts only its own.
TEST(OpProfileTest, PairsEachEndWithItsStart) {
  const at::Tensor a = at::randn({8, 8});
  auto first = std::make_unique<OpProfile>();
  at::RecordFunction outer(at::RecordScope::FUNCTION);
  outer.before("outer", c10::ArrayRef<const c10::IValue>());
  first.reset();
  OpProfile second;
  (void)at::mm(a, a);
  outer.end();
  std::map<std::string, int64_t> calls;
  for (const OpProfile::Row& row : second.Rows()) calls[row.name] = row.calls;
  EXPECT_EQ(calls["aten::mm"], 1);
  EXPECT_EQ(calls.count("outer"), 0);
}

}  // namespace
}  // namespace mdm::util
