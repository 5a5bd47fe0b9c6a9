// What a run directory holds, and the rules that keep one from being lost:
// a directory that holds a run is only continued (--resume) or, on
// request, replaced (--overwrite), never silently written over; a resumed
// run must have the checkpoint's shapes and process; files left half
// written by a crash are removed. The lock (one writer per directory) is
// util/run_lock.h, taken by the train binary.
#ifndef MDM_TRAIN_RUN_DIRECTORY_H_
#define MDM_TRAIN_RUN_DIRECTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "mdm/proto/experiment.pb.h"

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
