// Reads of tensor values back to the host, and a counter of them. On an
// accelerator each read waits for the device: a host-device
// synchronization. A read is an `item()` (LibTorch's
// aten::_local_scalar_dense) or a ReadToHost call, which reads several
// scalars at once. Tests hold the training step's reads to a budget with
// the counter; on a GPU, c10::cuda's sync debug mode counts every kind of
// synchronization.
//
//   util::HostReadCounter reads;
//   ... one training step ...
//   EXPECT_EQ(reads.count(), 1);
#ifndef MDM_UTIL_HOST_READS_H_
#define MDM_UTIL_HOST_READS_H_

#include <ATen/record_function.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace mdm::util {

// The values of one-element tensors (on one device, any real dtype), as
// doubles, read with one synchronization.
std::vector<double> ReadToHost(const std::vector<at::Tensor>& scalars);

// Counts the reads made on this thread while it lives.
class HostReadCounter {
 public:
  HostReadCounter();  // Starts counting on this thread.
  ~HostReadCounter();
  HostReadCounter(const HostReadCounter&) = delete;
  HostReadCounter& operator=(const HostReadCounter&) = delete;

  // Reads since construction or the last Reset.
  int64_t count() const;
  void Reset();

 private:
  at::CallbackHandle handle_;
  int64_t start_;
};

}  // namespace mdm::util

#endif  // MDM_UTIL_HOST_READS_H_
