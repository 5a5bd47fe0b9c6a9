// A trained model opened from a run directory or a checkpoint file, for
// sampling, evaluation and inspection outside the trainer: the run's
// config (stored in its checkpoint), its model with the EMA weights when
// the run kept them, and where it came from.
//
// `checkpoint` names a run directory (its checkpoints/best.pt, falling back
// to checkpoints/last.pt with a warning when best.pt is missing or
// corrupt) or a checkpoint file.
#ifndef MDM_MODEL_SAVED_RUN_H_
#define MDM_MODEL_SAVED_RUN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::model {

struct OpenOptions {
  std::string device = "cpu";
  // A config to use instead of the checkpoint's (it must describe the same
  // shapes; sampling or evaluation settings may differ).
  std::string config_path;
  // Load the EMA averages when the checkpoint has them.
  bool prefer_ema = true;
};

struct SavedRun {
  proto::Experiment experiment;
  Model model;  // In evaluation mode.
  std::string checkpoint_path;
  std::string run_dir;
  int64_t step = 0;
  bool ema_weights = false;  // The model holds the EMA averages.
};

// Fails with one line naming the problem: no checkpoint there, a corrupt
// or foreign file, an unreadable config, or weights whose names or shapes
// disagree with the config.
absl::StatusOr<SavedRun> OpenRun(const std::string& checkpoint,
                                 const OpenOptions& options = {});

}  // namespace mdm::model

#endif  // MDM_MODEL_SAVED_RUN_H_
