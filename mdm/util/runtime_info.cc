#include "mdm/util/runtime_info.h"

#include <ATen/Parallel.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mdm::util {

std::string ActiveBlasLibrary() {
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

std::string RuntimeSummary() {
  return absl::StrCat("blas=", ActiveBlasLibrary(),
                      " intra_op_threads=", at::get_num_threads(),
                      " inter_op_threads=", at::get_num_interop_threads());
}

}  // namespace mdm::util
