// The kernel inspection tool: for a configured diffusion, Q, D, A, A's
// eigenvalues, S, and at each requested time B(t), M(t) and the full and
// hybrid kernels' covariances and Cholesky factors, as JSON or text.
//
// JSON layout (stable; matrices are row-major nested lists, numbers in full
// float64 precision):
//   {"sde_type": "CLD", "n_vars": 2, "learned": false,
//    "Q": [[..]], "D": [[..]], "A": [[..]],
//    "A_eigenvalues": [[re, im], ...], "stationary_cov": [[..]],
//    "init_aux_var": 0.01, "t_max": 1,
//    "times": [{"t": .., "int_beta": .., "mean_coef": [[..]],
//               "cov_full": [[..]], "cov_hybrid": [[..]],
//               "chol_full": [[..]], "chol_hybrid": [[..]],
//               "jitter_full": 0, "jitter_hybrid": 0}, ...]}
// At t = 0 the covariances are Sigma_0 (0 or diag(0, init_aux_var, ...))
// and the factors their diagonal square roots.
#ifndef MDM_BIN_KERNEL_LIB_H_
#define MDM_BIN_KERNEL_LIB_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::bin {

enum class KernelFormat { kText, kJson };

struct KernelToolOptions {
  std::string config_path;
  // A trained run (directory or checkpoint file): report its diffusion,
  // learned Q and D included, instead of a config's initial one.
  std::string checkpoint;
  std::vector<std::string> overrides;  // --set values.
  std::string times = "0.001,0.5,1";   // Comma-separated.
  KernelFormat format = KernelFormat::kText;
};

// "0.001,0.5,1" -> {0.001, 0.5, 1}; each must lie in [0, t_max].
absl::StatusOr<std::vector<double>> ParseTimes(absl::string_view times,
                                               double t_max);

// "text" or "json".
absl::StatusOr<KernelFormat> ParseKernelFormat(absl::string_view format);

// The report of `diffusion` at `times` in the layout above, as JSON text.
absl::StatusOr<std::string> KernelReportJson(
    const proto::DiffusionConfig& config,
    const diffusions::DiffusionImpl& diffusion,
    const std::vector<double>& times);

// The whole tool: load the config (or the run), build the diffusion, report.
absl::StatusOr<std::string> RunKernelTool(const KernelToolOptions& options);

}  // namespace mdm::bin

#endif  // MDM_BIN_KERNEL_LIB_H_
