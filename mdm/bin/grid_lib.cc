#include "mdm/bin/grid_lib.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/bin/train_lib.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/proto/text_format.h"
#include "mdm/util/command_line.h"

namespace mdm::bin {
namespace {

// Keeps directory names portable: letters, digits and ._=- only.
std::string Sanitize(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                      c == '_' || c == '=' || c == '-';
    out += keep ? c : '-';
  }
  return out;
}

std::string DefaultOutputRoot(const std::string& grid_path) {
  return "runs/grids/" + std::filesystem::path(grid_path).stem().string();
}

}  // namespace

absl::StatusOr<proto::Grid> ReadGrid(const std::string& path) {
  std::ifstream file(path);
  if (!file)
    return absl::NotFoundError(absl::StrCat("cannot open grid file ", path));
  std::stringstream text;
  text << file.rdbuf();
  proto::Grid grid;
  if (absl::Status s = proto::ParseTextFormat(text.str(), path, grid);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.message(), " (not a valid mdm.proto.Grid)"));
  }
  if (grid.base_config().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": base_config is required"));
  }
  if (grid.axis_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a grid needs at least one axis"));
  }
  for (const proto::GridAxis& axis : grid.axis()) {
    if (axis.field().empty() || axis.values_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": every axis needs a field and at least one value"));
    }
  }
  if (!std::filesystem::exists(BaseConfigPath(grid, path))) {
    return absl::NotFoundError(absl::StrCat(
        path, ": base_config ", BaseConfigPath(grid, path), " does not exist"));
  }
  return grid;
}

std::string BaseConfigPath(const proto::Grid& grid,
                           const std::string& grid_path) {
  const std::filesystem::path base(grid.base_config());
  if (base.is_absolute()) return base.string();
  return (std::filesystem::path(grid_path).parent_path() / base)
      .lexically_normal()
      .string();
}

int64_t GridSize(const proto::Grid& grid) {
  int64_t size = 1;
  for (const proto::GridAxis& axis : grid.axis()) size *= axis.values_size();
  return size;
}

absl::StatusOr<GridPoint> PointAt(const proto::Grid& grid,
                                  const std::string& grid_path, int64_t index) {
  const int64_t size = GridSize(grid);
  if (index < 0 || index >= size) {
    return absl::OutOfRangeError(absl::StrCat(
        "grid index ", index, " is outside [0, ", size, ") for ", grid_path));
  }
  GridPoint point;
  point.index = index;
  int64_t rest = index;
  std::vector<std::string> reversed;
  for (int a = grid.axis_size() - 1; a >= 0; --a) {
    const proto::GridAxis& axis = grid.axis(a);
    reversed.push_back(
        absl::StrCat(axis.field(), "=",
                     axis.values(static_cast<int>(rest % axis.values_size()))));
    rest /= axis.values_size();
  }
  point.overrides.assign(reversed.rbegin(), reversed.rend());
  const std::string root = grid.output_root().empty()
                               ? DefaultOutputRoot(grid_path)
                               : grid.output_root();
  char number[16];
  std::snprintf(number, sizeof(number), "%03lld",
                static_cast<long long>(index));
  point.output_dir =
      absl::StrCat(util::ResolveUserPath(root), "/", number, "_",
                   Sanitize(absl::StrJoin(point.overrides, "_")));
  return point;
}

absl::StatusOr<int64_t> ResolveIndex(int64_t flag_index) {
  if (flag_index >= 0) return flag_index;
  if (flag_index != kIndexFromSlurm) {
    return absl::InvalidArgumentError(
        absl::StrCat("--index must be >= 0, got ", flag_index));
  }
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (task == nullptr) {
    return absl::InvalidArgumentError(
        "--index is required (or run as a Slurm array task with "
        "SLURM_ARRAY_TASK_ID set)");
  }
  int64_t index;
  if (!absl::SimpleAtoi(task, &index) || index < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("SLURM_ARRAY_TASK_ID='", task,
                     "' is not a grid index (an integer >= 0)"));
  }
  return index;
}

absl::StatusOr<std::string> RunGrid(const GridFlags& flags) {
  if (absl::Status s = util::RequireFlag(
          "grid", flags.grid_path, "a grid file (.textproto, mdm.proto.Grid)");
      !s.ok()) {
    return s;
  }
  if (flags.resume != "auto" && flags.resume != "never") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--resume must be auto or never, got '", flags.resume, "'"));
  }
  absl::StatusOr<proto::Grid> grid = ReadGrid(flags.grid_path);
  if (!grid.ok()) return grid.status();
  if (flags.list) {
    // Every point is validated as train would load it, so a sweep with a
    // bad point fails here rather than as one array task among hundreds.
    std::string table;
    for (int64_t i = 0; i < GridSize(*grid); ++i) {
      absl::StatusOr<GridPoint> point = PointAt(*grid, flags.grid_path, i);
      if (!point.ok()) return point.status();
      std::vector<std::string> overrides(grid->base_overrides().begin(),
                                         grid->base_overrides().end());
      overrides.insert(overrides.end(), point->overrides.begin(),
                       point->overrides.end());
      if (absl::StatusOr<proto::Experiment> experiment = proto::LoadExperiment(
              BaseConfigPath(*grid, flags.grid_path), overrides);
          !experiment.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "point ", i, " (", absl::StrJoin(point->overrides, " "),
            "): ", experiment.status().message()));
      }
      absl::StrAppend(&table, i, "\t", absl::StrJoin(point->overrides, " "),
                      "\t", point->output_dir, "\n");
    }
    return table;
  }
  absl::StatusOr<int64_t> index = ResolveIndex(flags.index);
  if (!index.ok()) return index.status();
  absl::StatusOr<GridPoint> point = PointAt(*grid, flags.grid_path, *index);
  if (!point.ok()) return point.status();
  std::vector<std::string> overrides(grid->base_overrides().begin(),
                                     grid->base_overrides().end());
  overrides.insert(overrides.end(), point->overrides.begin(),
                   point->overrides.end());
  absl::StatusOr<TrainOutcome> outcome =
      RunTraining({.config_path = BaseConfigPath(*grid, flags.grid_path),
                   .overrides = overrides,
                   .output_dir = point->output_dir,
                   .resume = flags.resume == "auto",
                   .overwrite = flags.resume == "never",
                   .debug_mode = flags.debug_mode,
                   .num_threads = flags.num_threads,
                   .device = flags.device});
  if (!outcome.ok()) return outcome.status();
  if (outcome->stopped_by_signal != 0) {
    return absl::StrCat("point ", *index, " stopped by signal ",
                        outcome->stopped_by_signal, " at step ", outcome->step,
                        "; running it again continues: ", point->output_dir,
                        "\n");
  }
  return absl::StrCat("point ", *index, " done: ", point->output_dir, "\n");
}

}  // namespace mdm::bin
