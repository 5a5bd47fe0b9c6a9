// Runs one point of a hyper-parameter grid, or lists them. List the points
// (index, overrides, output directory), run one, or run all of them as a
// Slurm array job (tools/slurm/sweep.sbatch):
//
//   $ grid=configs/grids/original_sweep.textproto
//   $ bazel run //mdm/bin:grid -- --grid=$grid --list    # 12 points
//   $ bazel run //mdm/bin:grid -- --grid=$grid --index=4
//   $ sbatch --array=0-11 tools/slurm/sweep.sbatch $grid
#include <gflags/gflags.h>

#include <iostream>
#include <string>

#include "mdm/bin/grid_lib.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"

DEFINE_string(grid, "", "Grid file (.textproto holding an mdm.proto.Grid).");
DEFINE_int64(index, mdm::bin::kIndexFromSlurm,
             "Point to run (>= 0); default: $SLURM_ARRAY_TASK_ID.");
DEFINE_bool(list, false,
            "Print every point with its index and output directory.");
DEFINE_string(
    resume, "auto",
    "auto: continue a point from its last checkpoint when there is one; "
    "never: start it over, replacing what its output directory holds.");
DEFINE_bool(debug_mode, false, "Run a couple of batches of everything.");
DEFINE_int32(num_threads, 0,
             "Threads to compute with (LibTorch's pool; BLAS runs in its "
             "callers' threads); 0: one per core.");
DEFINE_string(device, "cpu", "cpu, cuda or cuda:N.");

int main(int argc, char** argv) {
  mdm::util::ParseToolFlags(
      {.name = "grid",
       .summary = "Runs one point of a hyper-parameter grid (a Slurm array "
                  "task's by default), or lists them.",
       .examples =
           "bazel run //mdm/bin:grid -- "
           "--grid=configs/grids/original_sweep.textproto --list\n"
           "bazel run //mdm/bin:grid -- "
           "--grid=configs/grids/original_sweep.textproto --index=4\n"
           "sbatch --array=0-11 tools/slurm/sweep.sbatch "
           "configs/grids/original_sweep.textproto"},
      &argc, &argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  return mdm::util::RunAndReport("grid", [&]() -> absl::Status {
    if (absl::Status s = mdm::util::NoPositionalArguments(argc, argv); !s.ok())
      return s;
    absl::StatusOr<std::string> out = mdm::bin::RunGrid({
        .grid_path = mdm::util::ResolveUserPath(FLAGS_grid),
        .index = FLAGS_index,
        .list = FLAGS_list,
        .resume = FLAGS_resume,
        .debug_mode = FLAGS_debug_mode,
        .num_threads = FLAGS_num_threads,
        .device = FLAGS_device,
    });
    if (!out.ok()) return out.status();
    std::cout << *out;
    return absl::OkStatus();
  });
}
