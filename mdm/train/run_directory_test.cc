#include "mdm/train/run_directory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "mdm/proto/experiment_config.h"

namespace mdm::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Fresh(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void Touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "x";
}

TEST(RunDirectoryTest, EvidenceAndClearTouchOnlyWhatARunWrites) {
  const std::string dir = Fresh("run_dir");
  EXPECT_EQ(RunEvidence(dir), std::nullopt);
  EXPECT_EQ(RunEvidence(dir + "/missing"), std::nullopt);
  Touch(fs::path(dir) / "notes.txt");  // The user's own file.
  EXPECT_EQ(RunEvidence(dir), std::nullopt);
  Touch(fs::path(dir) / "events.out.tfevents.1.host");
  EXPECT_EQ(RunEvidence(dir), "events.out.tfevents.1.host");
  for (const char* file :
       {"config.textproto", "metrics.csv", "eval.csv", "checkpoints/last.pt",
        "checkpoints/best.pt", "samples/step_10.png", "eval/elbo_test.json"}) {
    Touch(fs::path(dir) / file);
  }
  EXPECT_EQ(RunEvidence(dir), "config.textproto");
  ASSERT_TRUE(ClearRun(dir).ok());
  EXPECT_EQ(RunEvidence(dir), std::nullopt);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "checkpoints"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "events.out.tfevents.1.host"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "notes.txt"));
}

TEST(RunDirectoryTest, StaleTemporariesAreRemoved) {
  const std::string dir = Fresh("stale_tmp");
  Touch(fs::path(dir) / "checkpoints/last.pt.tmp.4242");
  Touch(fs::path(dir) / "metrics.csv.tmp.17");
  Touch(fs::path(dir) / "checkpoints/last.pt");
  EXPECT_EQ(RemoveStaleTemporaries(dir), 2);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "checkpoints/last.pt"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "checkpoints/last.pt.tmp.4242"));
  EXPECT_EQ(RemoveStaleTemporaries(dir), 0);
}

// A resumed run draws the pictures after its step again: those go, the
// earlier ones and other files stay.
TEST(RunDirectoryTest, SamplePicturesAfterAStepAreRemoved) {
  const std::string dir = Fresh("pictures");
  for (int64_t step : {5, 10, 100}) Touch(SamplePicturePath(dir, step));
  Touch(fs::path(dir) / "samples" / "step_x.png");
  Touch(fs::path(dir) / "samples" / "notes.txt");
  EXPECT_EQ(SamplePicturePath(dir, 10), dir + "/samples/step_10.png");
  EXPECT_EQ(RemoveSamplePicturesAfter(dir, 10), 1);
  EXPECT_TRUE(fs::exists(SamplePicturePath(dir, 5)));
  EXPECT_TRUE(fs::exists(SamplePicturePath(dir, 10)));
  EXPECT_FALSE(fs::exists(SamplePicturePath(dir, 100)));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "samples" / "step_x.png"));
  EXPECT_EQ(RemoveSamplePicturesAfter(Fresh("no_pictures"), 0), 0);
}

TEST(RunDirectoryTest, RunStartContinuesReplacesOrRefuses) {
  const std::string dir = Fresh("run_start");
  // An empty directory: a fresh start, whatever the flags.
  for (bool resume : {false, true}) {
    absl::StatusOr<RunStart> start = PlanRunStart(dir, "", resume, false, true);
    ASSERT_TRUE(start.ok()) << start.status();
    EXPECT_EQ(start->checkpoint, "");
    EXPECT_EQ(start->replaced_run, std::nullopt);
  }
  // A run that never reached a checkpoint: refused, replaced on request,
  // started again by --resume.
  Touch(fs::path(dir) / "metrics.csv");
  absl::StatusOr<RunStart> start = PlanRunStart(dir, "", false, false, true);
  EXPECT_EQ(start.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(start.status().message(),
              HasSubstr("already holds a run (metrics.csv): --resume"));
  start = PlanRunStart(dir, "", false, true, true);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->replaced_run, "metrics.csv");
  start = PlanRunStart(dir, "", true, false, true);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->checkpoint, "");
  EXPECT_EQ(start->replaced_run, "metrics.csv");
  // Other ranks never look at the directory.
  start = PlanRunStart(dir, "", false, false, false);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->replaced_run, std::nullopt);
  // Its own last.pt is continued, nothing replaced; an earlier checkpoint
  // of its own rolls it back; a missing explicit one is an error.
  Touch(fs::path(dir) / "checkpoints/last.pt");
  Touch(fs::path(dir) / "checkpoints/best.pt");
  start = PlanRunStart(dir, "", true, false, true);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->checkpoint, dir + "/checkpoints/last.pt");
  EXPECT_TRUE(start->own_checkpoint);
  EXPECT_EQ(start->replaced_run, std::nullopt);
  start = PlanRunStart(dir, dir + "/checkpoints/best.pt", true, false, true);
  ASSERT_TRUE(start.ok());
  EXPECT_TRUE(start->own_checkpoint);
  start = PlanRunStart(dir, dir + "/checkpoints/gone.pt", true, false, true);
  EXPECT_EQ(start.status().code(), absl::StatusCode::kNotFound);
  // Another run's checkpoint starts this directory's run from it: the
  // directory's own run is then replaced only on request.
  const std::string other = Fresh("run_start_other");
  Touch(fs::path(other) / "checkpoints/last.pt");
  start = PlanRunStart(dir, other + "/checkpoints/last.pt", true, false, true);
  EXPECT_EQ(start.status().code(), absl::StatusCode::kFailedPrecondition);
  start = PlanRunStart(dir, other + "/checkpoints/last.pt", true, true, true);
  ASSERT_TRUE(start.ok());
  EXPECT_FALSE(start->own_checkpoint);
  EXPECT_EQ(start->replaced_run, "metrics.csv");
}

TEST(RunDirectoryTest, PreparedDirectoryHoldsOnlyTheNewConfig) {
  const std::string dir = Fresh("prepare");
  Touch(fs::path(dir) / "metrics.csv");
  Touch(fs::path(dir) / "checkpoints/last.pt");
  Touch(fs::path(dir) / "samples/step_10.png.tmp.99");
  Touch(fs::path(dir) / "notes.txt");
  RunStart start{.replaced_run = "metrics.csv"};
  absl::StatusOr<std::unique_ptr<util::RunLock>> lock =
      PrepareRunDirectory(dir, start, "seed: 7\n");
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_NE(*lock, nullptr);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "metrics.csv"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "checkpoints"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "notes.txt"));
  std::ifstream config(fs::path(dir) / "config.textproto");
  std::string text((std::istreambuf_iterator<char>(config)),
                   std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "seed: 7\n");
  // A continued run keeps its files; only interrupted writes go.
  lock->reset();
  Touch(fs::path(dir) / "checkpoints/last.pt");
  Touch(fs::path(dir) / "checkpoints/last.pt.tmp.5");
  lock = PrepareRunDirectory(dir, RunStart{.checkpoint = "x"}, "seed: 8\n");
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_TRUE(fs::exists(fs::path(dir) / "checkpoints/last.pt"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "checkpoints/last.pt.tmp.5"));
}

TEST(RunDirectoryTest, ResumeKeepsShapesAndProcessButAllowsSchedules) {
  proto::Experiment saved;
  ASSERT_TRUE(proto::ApplyOverrides({"diffusion.sde_type=LEARNED",
                                     "diffusion.n_vars=3",
                                     "score_model.hidden_dim=128"},
                                    saved)
                  .ok());
  proto::Experiment resumed = saved;
  resumed.mutable_optimizer()->set_lr(1e-4);
  resumed.mutable_training()->set_n_epochs(7);
  EXPECT_TRUE(CheckResumable(saved, resumed, "last.pt").ok());
  const std::vector<ConfigChange> changes = ConfigChanges(saved, resumed);
  ASSERT_EQ(changes.size(), 2u);
  // In the schema's field order.
  EXPECT_EQ(changes[0].field, "optimizer.lr");
  EXPECT_EQ(changes[0].after, "0.0001");
  EXPECT_EQ(changes[1].field, "training.n_epochs");

  resumed.mutable_score_model()->set_hidden_dim(64);
  absl::Status s = CheckResumable(saved, resumed, "runs/x/last.pt");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "cannot resume runs/x/last.pt with score_model.hidden_dim = 64: "
            "the run was trained with 128 (a new output directory starts a "
            "new run)");
  resumed = saved;
  resumed.mutable_diffusion()->set_n_vars(2);
  EXPECT_THAT(CheckResumable(saved, resumed, "c").message(),
              HasSubstr("diffusion.n_vars = 2: the run was trained with 3"));
  resumed = saved;
  resumed.mutable_data()->set_height(32);
  EXPECT_THAT(CheckResumable(saved, resumed, "c").message(),
              HasSubstr("data.height = 32"));
}

}  // namespace
}  // namespace mdm::train
