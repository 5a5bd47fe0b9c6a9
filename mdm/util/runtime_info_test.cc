#include "mdm/util/runtime_info.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>

namespace mdm::util {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A LibTorch with MKL inside (PyTorch's wheels) calls it; one without
// (Debian's) links libblas.so.3, so some BLAS must be mapped and resolved to
// an absolute path (the alternatives symlink followed).
TEST(RuntimeInfoTest, FindsTheBlasLibTorchCalls) {
  const std::string blas = ActiveBlasLibrary();
  if (at::hasMKL()) {
    EXPECT_EQ(blas, "MKL (in libtorch_cpu)");
    EXPECT_NE(BlasThreads(), -1);
    return;
  }
  EXPECT_THAT(blas, StartsWith("/"));
  EXPECT_THAT(blas, HasSubstr("blas"));
}

TEST(RuntimeInfoTest, SummaryNamesBlasAndThreads) {
  const std::string summary = RuntimeSummary();
  EXPECT_THAT(summary, HasSubstr("blas=" + ActiveBlasLibrary() + " "));
  EXPECT_THAT(summary, HasSubstr("intra_op_threads="));
}

TEST(RuntimeInfoTest, ComputeThreadsShardNetworksAndSerializeTheLibraries) {
  EXPECT_EQ(ComputeThreads(), 1);
  EXPECT_EQ(SetComputeThreads(3), 3);
  EXPECT_EQ(ComputeThreads(), 3);
  EXPECT_EQ(at::get_num_threads(), 1);
  // OpenBLAS (when it is the BLAS) computes in its caller's thread.
  if (BlasThreads() != -1) {
    EXPECT_EQ(BlasThreads(), 1);
  }
  EXPECT_THAT(RuntimeSummary(), HasSubstr("compute_threads=3"));
  // 0: one per core.
  EXPECT_EQ(SetComputeThreads(0),
            static_cast<int>(std::thread::hardware_concurrency()));
  EXPECT_EQ(at::get_num_threads(), 1);
}

int ProcessThreads() {
  int count = 0;
  for ([[maybe_unused]] const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++count;
  }
  return count;
}

// A thread of our own that runs a matrix product and convolutions starts no
// threads of LibTorch's (OpenMP's, MKL's): it computes serially, like the
// main thread, without OMP_NUM_THREADS or MKL_NUM_THREADS.
TEST(RuntimeInfoTest, ThreadsOfOurOwnComputeSerially) {
  SetComputeThreads(2);
  int before = 0;
  int after = 0;
  int blas_threads = 0;
  std::thread worker([&] {
    InitComputeThread();
    before = ProcessThreads();
    const at::Tensor a = at::randn({512, 512});
    const at::Tensor x = at::randn({1, 8, 64, 64});
    const at::Tensor w = at::randn({8, 8, 3, 3});
    (at::mm(a, a).sum() + at::conv2d(x, w).sum() +
     at::conv_transpose2d(x, w).sum() + (a + 1).exp().sum())
        .item<float>();
    after = ProcessThreads();
    blas_threads = BlasThreads();
  });
  worker.join();
  EXPECT_EQ(after, before);
  if (blas_threads != -1) {
    EXPECT_EQ(blas_threads, 1);
  }
}

}  // namespace
}  // namespace mdm::util
