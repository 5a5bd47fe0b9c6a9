// The grid runner: point i of a Grid (grid.proto) is the base config with
// the base overrides and one value of every axis, trained into its own
// stable output directory, so a requeued array task resumes where it
// stopped.
#ifndef MDM_BIN_GRID_LIB_H_
#define MDM_BIN_GRID_LIB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/proto/grid.pb.h"

namespace mdm::bin {

struct GridPoint {
  int64_t index = 0;
  std::vector<std::string> overrides;  // Axis assignments, in axis order.
  std::string output_dir;              // <output_root>/<index>_<overrides>.
};

// Reads and checks a grid file: a base config that exists, at least one
// axis, every axis with a field and values.
absl::StatusOr<proto::Grid> ReadGrid(const std::string& path);

// The base config's path (resolved against the grid file's folder).
std::string BaseConfigPath(const proto::Grid& grid,
                           const std::string& grid_path);

// The number of points: the product of the axes' sizes.
int64_t GridSize(const proto::Grid& grid);

// Point `index`, last axis fastest; OutOfRange outside [0, GridSize).
absl::StatusOr<GridPoint> PointAt(const proto::Grid& grid,
                                  const std::string& grid_path, int64_t index);

// The --index value that means "not given": $SLURM_ARRAY_TASK_ID decides.
inline constexpr int64_t kIndexFromSlurm = -1;

// "--index" if given (>= 0), else $SLURM_ARRAY_TASK_ID, else an error; an
// error names a negative index or a task id that is no index.
absl::StatusOr<int64_t> ResolveIndex(int64_t flag_index);

struct GridFlags {
  std::string grid_path;  // Resolved against the user's folder.
  int64_t index = kIndexFromSlurm;
  bool list = false;
  // auto: continue a point from its last checkpoint; never: start it over,
  // replacing what its output directory holds.
  std::string resume = "auto";
  bool debug_mode = false;
  int num_threads = 0;
  std::string device = "cpu";
};

// --list: the table of points; otherwise trains one point. Returns what
// to print on stdout.
absl::StatusOr<std::string> RunGrid(const GridFlags& flags);

}  // namespace mdm::bin

#endif  // MDM_BIN_GRID_LIB_H_
