// Facts about the running process that decide speed and belong in every
// benchmark and training log: which BLAS LibTorch calls, how many threads.
#ifndef MDM_UTIL_RUNTIME_INFO_H_
#define MDM_UTIL_RUNTIME_INFO_H_

#include <string>

namespace mdm::util {

// The BLAS LibTorch calls: "MKL (in libtorch_cpu)" for a LibTorch built
// with MKL inside (PyTorch's wheels), else the resolved path of the BLAS
// library mapped into this process (Debian's LibTorch calls whatever
// libblas.so.3 the alternatives system points to: the reference BLAS is
// ~40x slower than OpenBLAS), or "unknown".
std::string ActiveBlasLibrary();

// Makes `threads` the number of threads the process computes with: score
// networks run on that many shards of their batch at once (ShardedCall,
// sharded_call.h; Model::Network uses it), each thread computing serially:
// LibTorch's intra-op pool is set to one thread and OpenBLAS (found at run
// time when it is the BLAS) runs in its caller's thread. Measured on 2
// cores, a TinyUNet training step: LibTorch's own threads leave its
// transposed convolutions serial and barely gain (1.1x), BLAS threads on
// top of them oversubscribe the cores (1.9x slower), batch shards gain
// 1.7x. 0 means one per core, as PyTorch does. Returns the count set.
int SetComputeThreads(int threads);

// The count SetComputeThreads set; 1 before any call.
int ComputeThreads();

// Makes the calling thread, one MDM started to run LibTorch operations on
// (a shard of ShardedCall, a data loader worker), compute serially as
// SetComputeThreads set: OpenMP's and MKL's thread counts (PyTorch's wheels
// use both) belong to each thread, and a new thread starts with one per
// core, or OMP_NUM_THREADS.
void InitComputeThread();

// The BLAS's thread count for the calling thread (OpenBLAS's or MKL's), or
// -1 when the BLAS is neither.
int BlasThreads();

// One line: BLAS library and its threads, LibTorch intra-op and inter-op
// thread counts.
std::string RuntimeSummary();

}  // namespace mdm::util

#endif  // MDM_UTIL_RUNTIME_INFO_H_
