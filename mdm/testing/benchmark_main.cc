// main() for every *_bench target: Google Benchmark plus gflags and glog,
// LibTorch's thread count from --num_threads, and the active BLAS in the
// printed context (it decides most timings).
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <gflags/gflags.h>

#include <string>

#include "mdm/util/logging.h"
#include "mdm/util/runtime_info.h"

DEFINE_int32(num_threads, 0,
             "Threads to compute with (util::SetComputeThreads); 0: one per "
             "core.");

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  google::InitGoogleLogging(argv[0]);
  mdm::util::SetComputeThreads(FLAGS_num_threads);
  benchmark::AddCustomContext("blas", mdm::util::ActiveBlasLibrary());
  benchmark::AddCustomContext("blas_threads",
                              std::to_string(mdm::util::BlasThreads()));
  benchmark::AddCustomContext("torch_intra_op_threads",
                              std::to_string(at::get_num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
