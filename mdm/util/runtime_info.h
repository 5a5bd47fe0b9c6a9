// Facts about the running process that decide speed and belong in every
// benchmark and training log: which BLAS LibTorch calls, how many threads.
#ifndef MDM_UTIL_RUNTIME_INFO_H_
#define MDM_UTIL_RUNTIME_INFO_H_

#include <string>

namespace mdm::util {

// The resolved path of the BLAS library mapped into this process (Debian's
// LibTorch calls whatever libblas.so.3 the alternatives system points to:
// the reference BLAS is ~40x slower than OpenBLAS), or "unknown".
std::string ActiveBlasLibrary();

// One line: BLAS library, LibTorch intra-op and inter-op thread counts.
std::string RuntimeSummary();

}  // namespace mdm::util

#endif  // MDM_UTIL_RUNTIME_INFO_H_
