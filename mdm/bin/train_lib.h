// The train binary's logic: load the config with overrides, resolve the
// output directory, set threads, train and report.
#ifndef MDM_BIN_TRAIN_LIB_H_
#define MDM_BIN_TRAIN_LIB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mdm::bin {

// The config `bazel run //mdm/bin:train` uses when --config is not given
// (relative to the runfiles tree, where the binary starts).
inline constexpr char kQuickstartConfig[] =
    "configs/fashion_mnist/quickstart.textproto";

struct TrainFlags {
  std::string config_path;  // Already resolved against the user's folder.
  std::vector<std::string> overrides;
  std::string output_dir;  // Empty: output.output_dir of the config.
  bool resume = false;
  bool overwrite = false;  // Replace a run the output directory holds.
  bool debug_mode = false;
  int num_threads = 0;  // 0: one per core (util::SetComputeThreads).
  std::string device = "cpu";
  // Data-parallel runs (RANK/WORLD_SIZE or SLURM_NTASKS > 1): how long a
  // rank waits for the others at the rendezvous and at each collective.
  int dist_timeout_s = 1800;
};

struct TrainOutcome {
  int64_t step = 0;           // Optimizer steps done.
  int stopped_by_signal = 0;  // The stop signal that ended the run early.
};

// Trains as configured; every failure is one status naming its cause. A
// run stopped by a signal after saving its checkpoint is not a failure.
absl::StatusOr<TrainOutcome> RunTraining(const TrainFlags& flags);

}  // namespace mdm::bin

#endif  // MDM_BIN_TRAIN_LIB_H_
