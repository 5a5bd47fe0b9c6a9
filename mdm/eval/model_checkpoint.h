// A trained model loaded from a run's checkpoint, for sampling and
// evaluation outside the trainer: the run's resolved config, its diffusion
// and its score network with the EMA weights when the run kept them.
//
// `checkpoint` names a run directory (its checkpoints/best.pt, else
// checkpoints/last.pt) or a checkpoint file (whose run directory holds
// config.textproto: RUN/checkpoints/NAME.pt).
#ifndef MDM_EVAL_MODEL_CHECKPOINT_H_
#define MDM_EVAL_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/nets/score_model.h"
#include "mdm/objectives/score_parameterization.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sampling/score_function.h"

namespace mdm::eval {

struct LoadOptions {
  std::string device = "cpu";
  // Another config than the run's config.textproto (it must describe the
  // same shapes).
  std::string config_path;
};

struct LoadedModel {
  proto::Experiment experiment;
  diffusions::Diffusion diffusion{nullptr};
  std::shared_ptr<nets::ScoreModel> network;  // In eval mode.
  std::string checkpoint_path;
  std::string run_dir;
  int64_t step = 0;
  bool ema_weights = false;  // The network holds the EMA weights.

  objectives::ScoreNetwork Network() const;
  objectives::Parameterization parameterization() const;
  // The score as the samplers call it.
  sampling::ScoreFunction Score() const;
};

// Fails with one line naming the problem: no checkpoint or config there,
// an unreadable file, or weights whose names or shapes disagree with the
// config.
absl::StatusOr<LoadedModel> LoadModel(const std::string& checkpoint,
                                      const LoadOptions& options = {});

}  // namespace mdm::eval

#endif  // MDM_EVAL_MODEL_CHECKPOINT_H_
