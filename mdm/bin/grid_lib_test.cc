#include "mdm/bin/grid_lib.h"

#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "mdm/util/stop_signal.h"

namespace mdm::bin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char kSweep[] = "configs/grids/original_sweep.textproto";

TEST(GridTest, PointsAreNestedLoopsWithTheLastAxisFastest) {
  absl::StatusOr<proto::Grid> grid = ReadGrid(kSweep);
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(GridSize(*grid), 12);
  EXPECT_EQ(BaseConfigPath(*grid, kSweep),
            "configs/fashion_mnist/learned_2.textproto");
  absl::StatusOr<GridPoint> point = PointAt(*grid, kSweep, 4);
  ASSERT_TRUE(point.ok());
  EXPECT_THAT(point->overrides,
              ElementsAre("diffusion.sde_type=CLD", "optimizer.lr=1e-3"));
  EXPECT_THAT(point->output_dir,
              HasSubstr("runs/grids/original_sweep/"
                        "004_diffusion.sde_type=CLD_optimizer.lr=1e-3"));
  EXPECT_THAT(PointAt(*grid, kSweep, 11)->overrides,
              ElementsAre("diffusion.sde_type=LEARNED", "optimizer.lr=5e-3"));
  EXPECT_THAT(std::string(PointAt(*grid, kSweep, 12).status().message()),
              HasSubstr("grid index 12 is outside [0, 12)"));
}

TEST(GridTest, ShippedGridsRead) {
  for (const auto& entry :
       std::filesystem::directory_iterator("configs/grids")) {
    EXPECT_TRUE(ReadGrid(entry.path().string()).ok()) << entry.path();
  }
}

TEST(GridTest, ListsEveryPoint) {
  absl::StatusOr<std::string> table =
      RunGrid({.grid_path = kSweep, .list = true});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(std::count(table->begin(), table->end(), '\n'), 12);
  EXPECT_THAT(*table,
              HasSubstr("7\tdiffusion.sde_type=MALDA optimizer.lr=1e-3\t"));
}

TEST(GridTest, IndexComesFromTheFlagOrSlurm) {
  unsetenv("SLURM_ARRAY_TASK_ID");
  EXPECT_FALSE(ResolveIndex(-1).ok());
  EXPECT_EQ(*ResolveIndex(3), 3);
  setenv("SLURM_ARRAY_TASK_ID", "9", 1);
  EXPECT_EQ(*ResolveIndex(-1), 9);
  EXPECT_EQ(*ResolveIndex(2), 2);
  unsetenv("SLURM_ARRAY_TASK_ID");
}

TEST(GridTest, BadGridsAreClearErrors) {
  EXPECT_THAT(
      std::string(ReadGrid("configs/grids/none.textproto").status().message()),
      HasSubstr("cannot open grid file"));
  EXPECT_THAT(
      std::string(
          RunGrid({.grid_path = kSweep, .resume = "maybe"}).status().message()),
      HasSubstr("--resume must be auto or never"));
}

// A preempted point (SIGUSR1) saves its checkpoint and stops; rerunning
// the same index continues from it.
TEST(GridTest, PreemptedPointResumes) {
  at::set_num_threads(1);
  const std::string grid = "configs/grids/toy_sweep.textproto";
  absl::StatusOr<proto::Grid> parsed = ReadGrid(grid);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<GridPoint> point = PointAt(*parsed, grid, 1);
  ASSERT_TRUE(point.ok());
  std::filesystem::remove_all(point->output_dir);
  util::SetStopSignalForTesting(SIGUSR1);
  absl::StatusOr<std::string> first = RunGrid({.grid_path = grid, .index = 1});
  util::SetStopSignalForTesting(0);
  // Saved and stopped: not a failure (a requeued job exits 0).
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(*first, HasSubstr("point 1 stopped by signal " +
                                std::to_string(SIGUSR1) + " at step 1"));
  EXPECT_TRUE(
      std::filesystem::exists(point->output_dir + "/checkpoints/last.pt"));
  absl::StatusOr<std::string> second = RunGrid({.grid_path = grid, .index = 1});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(*second, HasSubstr("point 1 done"));
  EXPECT_TRUE(
      std::filesystem::exists(point->output_dir + "/checkpoints/best.pt"));
}

}  // namespace
}  // namespace mdm::bin
