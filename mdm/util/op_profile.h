// Where a piece of work spends its time, LibTorch operator by operator:
// while an OpProfile lives, every operator and autograd node run on this
// thread is timed (a RecordFunction observer), and each name's self time
// (its time less that of the operators it called) is summed. The table
// sums to the profiled wall time, less what ran outside any operator.
//
//   util::OpProfile profile;
//   ... a training step ...
//   std::cerr << profile.Table(20);
#ifndef MDM_UTIL_OP_PROFILE_H_
#define MDM_UTIL_OP_PROFILE_H_

#include <ATen/record_function.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mdm::util {

class OpProfile {
 public:
  OpProfile();  // Starts timing on this thread.
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  struct Row {
    std::string name;  // e.g. "aten::convolution_backward".
    int64_t calls = 0;
    double self_s = 0;   // Not counting the operators it called.
    double total_s = 0;  // Counting them (outermost calls only).
  };
  // Every name seen, by self time, largest first.
  std::vector<Row> Rows() const;
  // The `top` largest rows with their share of all self time.
  std::string Table(int top) const;

 private:
  at::CallbackHandle handle_;
};

}  // namespace mdm::util

#endif  // MDM_UTIL_OP_PROFILE_H_
