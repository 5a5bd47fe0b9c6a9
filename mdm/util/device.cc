#include "mdm/util/device.h"

#include <ATen/Context.h>
#include <c10/util/Exception.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mdm::util {

bool LibTorchHasCuda() {
#ifdef MDM_LIBTORCH_HAS_CUDA
  return true;
#else
  return false;
#endif
}

absl::StatusOr<c10::Device> ParseDevice(const std::string& name,
                                        const std::string& flag) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const c10::Error&) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": '", name, "' is not a device (cpu, cuda or cuda:N)"));
  }
  if (device.is_cpu()) return device;
  if (!device.is_cuda()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "=", name, ": MDM runs on cpu or cuda devices"));
  }
  if (!LibTorchHasCuda()) {
    return absl::FailedPreconditionError(absl::StrCat(
        flag, "=", name,
        ": this build's LibTorch is for the CPU only (build against a CUDA "
        "one: MDM_LIBTORCH=$(tools/install_libtorch.sh cuda | tail -n 1))"));
  }
  const int64_t visible = static_cast<int64_t>(at::getNumGPUs());
  if (visible == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        flag, "=", name,
        ": no CUDA device is visible to this process (no GPU, no NVIDIA "
        "driver, or CUDA_VISIBLE_DEVICES hides them)"));
  }
  if (device.has_index() && device.index() >= visible) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, "=", name, ": only ", visible,
                     " CUDA device(s) are visible, cuda:0 to cuda:",
                     visible - 1));
  }
  return device;
}

}  // namespace mdm::util
