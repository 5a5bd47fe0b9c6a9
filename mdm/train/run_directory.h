// What a run directory holds, and the rules that keep one from being lost:
// a directory that holds a run is only continued (--resume) or, on
// request, replaced (--overwrite), never silently written over; a resumed
// run must have the checkpoint's shapes and process; files left half
// written by a crash are removed. The lock (one writer per directory) is
// util/run_lock.h, taken by PrepareRunDirectory.
#ifndef MDM_TRAIN_RUN_DIRECTORY_H_
#define MDM_TRAIN_RUN_DIRECTORY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/util/run_lock.h"

namespace mdm::train {

// The first file of a run found in `dir` (config.textproto, metrics.csv,
// eval.csv, checkpoints/last.pt, ...), or nullopt for an empty, new or
// foreign directory.
std::optional<std::string> RunEvidence(const std::string& dir);

// Removes what a run writes into `dir` (its logs, TensorBoard files,
// checkpoints/, samples/, eval/) and nothing else.
absl::Status ClearRun(const std::string& dir);

// Removes the temporaries of interrupted atomic writes ("<file>.tmp.<pid>")
// in `dir` and its checkpoints/, samples/ and eval/ folders; returns how
// many.
int RemoveStaleTemporaries(const std::string& dir);

// How a run in a directory starts.
struct RunStart {
  // The checkpoint it continues from; empty: it starts afresh.
  std::string checkpoint;
  // `checkpoint` is one of the directory's own: last.pt, or an earlier one
  // (best.pt when last.pt is damaged) to roll the run back to.
  bool own_checkpoint = false;
  // The earlier run the directory holds (what RunEvidence found), which
  // PrepareRunDirectory removes.
  std::optional<std::string> replaced_run;
};

// Decides how a run writing to `dir` starts. With `resume` it continues
// from `checkpoint_path`, by default dir's checkpoints/last.pt, when that
// exists (an explicit path that does not is NotFound). A directory holding
// another run is refused (FailedPrecondition) unless `overwrite`, or
// `resume` finds no checkpoint of it to continue (a requeued sweep point
// that never reached one starts again). Only the `chief` (rank 0) looks at
// the directory's contents.
absl::StatusOr<RunStart> PlanRunStart(const std::string& dir,
                                      const std::string& checkpoint_path,
                                      bool resume, bool overwrite, bool chief);

// Makes `dir` ready for the run that `start` describes, written by this
// process alone: takes its lock, removes the replaced run and the
// temporaries of interrupted writes, and writes `config_text` as
// config.textproto. Returns the lock, to hold as long as the run.
absl::StatusOr<std::unique_ptr<util::RunLock>> PrepareRunDirectory(
    const std::string& dir, const RunStart& start,
    const std::string& config_text);

// The sample picture the trainer draws at `step`: samples/step_<step>.png.
std::string SamplePicturePath(const std::string& dir, int64_t step);

// Removes the sample pictures of steps after `step` (a resumed run draws
// them again); returns how many.
int RemoveSamplePicturesAfter(const std::string& dir, int64_t step);

// A change between a checkpoint's config and the config it is resumed with.
struct ConfigChange {
  std::string field;  // e.g. "optimizer.lr".
  std::string before, after;
};

// The fields that differ between `saved` and `resumed` (text values).
std::vector<ConfigChange> ConfigChanges(const proto::Experiment& saved,
                                        const proto::Experiment& resumed);

// OK when the run in `checkpoint` may continue under `resumed`: the
// diffusion, the score network, the data's kind and shape and the
// optimizer's type must be the checkpoint's (they decide every tensor's
// shape and meaning); schedules, budgets, evaluation and sampling settings
// may change. Otherwise FailedPrecondition naming the first such field and
// both values.
absl::Status CheckResumable(const proto::Experiment& saved,
                            const proto::Experiment& resumed,
                            const std::string& checkpoint);

}  // namespace mdm::train

#endif  // MDM_TRAIN_RUN_DIRECTORY_H_
