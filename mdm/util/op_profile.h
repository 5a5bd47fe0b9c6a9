// Where a piece of work spends its time, LibTorch operator by operator: a
// RecordFunction observer times every operator and autograd node run on
// this thread and on threads that carry its thread-local state
// (util::ShardedCall's compute threads), and sums each one's self time (its
// time less that of the operators it called) and arithmetic (convolutions
// and matrix products, from their argument shapes). docs/benchmarks.md
// reads a training step with it, layer by layer.
//
//   util::OpProfile profile({.by_shape = true});
//   ... a training step ...
//   std::cerr << profile.Table(20);
#ifndef MDM_UTIL_OP_PROFILE_H_
#define MDM_UTIL_OP_PROFILE_H_

#include <ATen/record_function.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mdm::util {
namespace internal {
struct OpTally;
}  // namespace internal

// One at a time; created and destroyed on the same thread.
class OpProfile {
 public:
  struct Options {
    // A row per operator and shapes of its inputs and output (for a
    // network's convolutions, a layer or the layers of one shape).
    bool by_shape = false;
  };
  explicit OpProfile(Options options);  // Starts timing.
  OpProfile() : OpProfile(Options()) {}
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  struct Row {
    std::string name;  // e.g. "aten::convolution_backward".
    // With by_shape: "[8,256,16,16] [256,256,3,3] -> [8,256,16,16]".
    std::string shapes;
    int64_t calls = 0;
    // Summed over the threads: on one, the rows add up to the profiled
    // wall time less what ran outside any operator.
    double self_s = 0;   // Not counting the operators it called.
    double total_s = 0;  // Counting them (outermost calls only).
    // 2 flops a multiply-add, in the convolution or matrix product that
    // did them (not in the wrappers that dispatched to it).
    double flop = 0;
  };
  // Every row, by self time, largest first.
  std::vector<Row> Rows() const;
  // The `top` largest rows with their share of all self time and, where
  // they count arithmetic, their GFLOP/s.
  std::string Table(int top) const;

 private:
  std::shared_ptr<internal::OpTally> tally_;
  at::CallbackHandle handle_;
};

}  // namespace mdm::util

#endif  // MDM_UTIL_OP_PROFILE_H_
