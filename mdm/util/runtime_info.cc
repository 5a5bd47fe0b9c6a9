#include "mdm/util/runtime_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mdm::util {

std::string ActiveBlasLibrary() {
  if (at::hasMKL()) return "MKL (in libtorch_cpu)";
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = std::filesystem::path(path).filename().string();
    if (!absl::StartsWith(name, "libblas") &&
        !absl::StartsWith(name, "libopenblas") &&
        !absl::StartsWith(name, "libmkl_rt") &&
        !absl::StartsWith(name, "libblis")) {
      continue;
    }
    std::error_code error;
    const std::filesystem::path resolved =
        std::filesystem::canonical(path, error);
    return error ? path : resolved.string();
  }
  return "unknown";
}

namespace {

// The BLAS's thread controls, looked up in the process: OpenBLAS's
// (libblas.so.3 is OpenBLAS under Debian's alternatives when tools/setup.sh
// selected it) or MKL's (exported by libtorch_cpu.so in PyTorch's wheels;
// at::set_num_threads sets MKL's count itself).
using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();

SetThreadsFn OpenBlasSetThreads() {
  return reinterpret_cast<SetThreadsFn>(
      dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
}

GetThreadsFn BlasGetThreads() {
  for (const char* name : {"openblas_get_num_threads", "mkl_get_max_threads"}) {
    if (void* get = dlsym(RTLD_DEFAULT, name)) {
      return reinterpret_cast<GetThreadsFn>(get);
    }
  }
  return nullptr;
}

std::atomic<int> compute_threads{1};

}  // namespace

int SetComputeThreads(int threads) {
  if (threads <= 0) {
    threads = static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  compute_threads.store(threads);
  at::set_num_threads(1);
  if (SetThreadsFn set = OpenBlasSetThreads()) set(1);
  return threads;
}

int ComputeThreads() { return compute_threads.load(); }

// at::set_num_threads keeps the count it was given (1) for every thread;
// this applies it to the calling one.
void InitComputeThread() { at::init_num_threads(); }

int BlasThreads() {
  GetThreadsFn get = BlasGetThreads();
  return get ? get() : -1;
}

std::string RuntimeSummary() {
  return absl::StrCat("blas=", ActiveBlasLibrary(),
                      " blas_threads=", BlasThreads(),
                      " compute_threads=", ComputeThreads(),
                      " intra_op_threads=", at::get_num_threads(),
                      " inter_op_threads=", at::get_num_interop_threads());
}

}  // namespace mdm::util
