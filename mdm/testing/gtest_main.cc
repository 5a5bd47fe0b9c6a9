// main() for every test: GoogleTest, then gflags, glog and LibTorch's
// threads like a binary: util::SetComputeThreads(1), as --num_threads=1
// sets them, so that LibTorch's kernels compute serially whichever LibTorch
// is linked (Debian's starts one intra-op thread by default, PyTorch's
// wheels one per core, which oversubscribes the cores when Bazel runs tests
// side by side).
#include <gflags/gflags.h>
#include <gtest/gtest.h>

#include "mdm/util/logging.h"
#include "mdm/util/runtime_info.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  mdm::util::SetComputeThreads(1);
  return RUN_ALL_TESTS();
}
