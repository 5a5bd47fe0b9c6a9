// Where a piece of work spends its time, LibTorch operator by operator:
// while an OpProfile lives, every operator and autograd node run on this
// thread, and on the threads that carry its thread-local state
// (util::ShardedCall's compute threads), is timed (a RecordFunction
// observer), and each name's self time (its time less that of the
// operators it called) is summed over them. On one thread the table sums
// to the profiled wall time, less what ran outside any operator; on N it
// is their CPU time. One profile at a time; profile work that has ended
// when it does.
//
// Convolutions and matrix products also count their arithmetic (2 flops a
// multiply-add, from their argument shapes), so the table gives each one's
// rate; with `by_shape` a row is an operator at one set of input shapes,
// which for a network's convolutions is a layer (or the layers of one
// shape): the per-layer profile of docs/benchmarks.md.
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

class OpProfile {
 public:
  struct Options {
    // A row per operator and shapes of its tensor inputs, not per operator.
    bool by_shape = false;
  };
  explicit OpProfile(Options options);  // Starts timing on this thread.
  OpProfile() : OpProfile(Options()) {}
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  struct Row {
    std::string name;    // e.g. "aten::convolution_backward".
    std::string shapes;  // With by_shape: "[8,256,16,16] [256,256,3,3]".
    int64_t calls = 0;
    double self_s = 0;   // Not counting the operators it called.
    double total_s = 0;  // Counting them (outermost calls only).
    // The arithmetic done in this operator's own time: convolutions and
    // matrix products (forward and backward) that called no other counted
    // operator (the one that does the work, not its dispatching wrappers).
    double flop = 0;
  };
  // Every row, by self time, largest first.
  std::vector<Row> Rows() const;
  // The `top` largest rows with their share of all self time and, where
  // they count arithmetic, their GFLOP/s.
  std::string Table(int top) const;

  struct Tally;  // What the threads add to.

 private:
  std::unique_ptr<Tally> tally_;
  at::CallbackHandle handle_;
};

}  // namespace mdm::util

#endif  // MDM_UTIL_OP_PROFILE_H_
