// The one parser of a --device flag for every binary and library: "cpu",
// "cuda" or "cuda:N", checked against this LibTorch and the GPUs this
// process sees, with one error line naming what is missing.
#ifndef MDM_UTIL_DEVICE_H_
#define MDM_UTIL_DEVICE_H_

#include <c10/core/Device.h>

#include <string>

#include "absl/status/statusor.h"

namespace mdm::util {

// Whether this build links a CUDA LibTorch (@mdm_libtorch's
// LIBTORCH_HAS_CUDA).
bool LibTorchHasCuda();

// `name` as a device this process can compute on. InvalidArgument for a
// name that is no device; FailedPrecondition for a CUDA device when the
// LibTorch is built for the CPU, no GPU is visible, or the index is past
// the visible ones. `flag` names the flag in the message ("--device").
absl::StatusOr<c10::Device> ParseDevice(const std::string& name,
                                        const std::string& flag = "--device");

}  // namespace mdm::util

#endif  // MDM_UTIL_DEVICE_H_
