#include "mdm/util/device.h"

#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <string>

namespace mdm::util {
namespace {

TEST(DeviceTest, CpuAndNamesThatAreNoDevice) {
  absl::StatusOr<c10::Device> cpu = ParseDevice("cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_TRUE(cpu->is_cpu());
  for (const char* name : {"gpu", "cuda:x", ""}) {
    absl::StatusOr<c10::Device> bad = ParseDevice(name);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(bad.status().message(),
              "--device: '" + std::string(name) +
                  "' is not a device (cpu, cuda or cuda:N)");
  }
}

// Without a GPU (CI, and every CPU LibTorch) a CUDA device fails at once,
// naming what is missing; with GPUs an index past them is refused.
TEST(DeviceTest, CudaNamesWhatIsMissing) {
  const int64_t visible = static_cast<int64_t>(at::getNumGPUs());
  absl::StatusOr<c10::Device> cuda = ParseDevice("cuda", "--dev");
  if (!LibTorchHasCuda()) {
    EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(cuda.status().message().find(
                  "--dev=cuda: this build's LibTorch is for the CPU only"),
              std::string::npos)
        << cuda.status();
  } else if (visible == 0) {
    EXPECT_NE(cuda.status().message().find(
                  "--dev=cuda: no CUDA device is visible to this process"),
              std::string::npos)
        << cuda.status();
  } else {
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    absl::StatusOr<c10::Device> past =
        ParseDevice("cuda:" + std::to_string(visible));
    EXPECT_NE(past.status().message().find("CUDA device(s) are visible"),
              std::string::npos)
        << past.status();
  }
}

}  // namespace
}  // namespace mdm::util
