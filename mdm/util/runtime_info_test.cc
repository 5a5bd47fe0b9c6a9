#include "mdm/util/runtime_info.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mdm::util
