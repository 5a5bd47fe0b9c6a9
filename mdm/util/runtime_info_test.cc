#include "mdm/util/runtime_info.h"

#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace mdm::util {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// LibTorch links libblas.so.3, so some BLAS must be mapped and resolved to
// an absolute path (the alternatives symlink followed).
TEST(RuntimeInfoTest, FindsTheBlasLibraryLibTorchLoaded) {
  const std::string blas = ActiveBlasLibrary();
  EXPECT_THAT(blas, StartsWith("/"));
  EXPECT_THAT(blas, HasSubstr("blas"));
}

TEST(RuntimeInfoTest, SummaryNamesBlasAndThreads) {
  const std::string summary = RuntimeSummary();
  EXPECT_THAT(summary, HasSubstr("blas=/"));
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

}  // namespace
}  // namespace mdm::util
