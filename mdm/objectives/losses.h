// Training losses (mdm_math.md section 5): the negative ELBO in DSM or ISM
// form, the noise-prediction losses, and the configured schedule that
// switches from noise prediction to the ELBO. Each returns a scalar (mean
// over the batch) whose gradients reach the network and learned Q and D.
#ifndef MDM_OBJECTIVES_LOSSES_H_
#define MDM_OBJECTIVES_LOSSES_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/objectives/elbo.h"
#include "mdm/objectives/score_parameterization.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::objectives {

enum class LossType {
  kDsmElbo,       // -DSM ELBO without offset.
  kIsmElbo,       // -ISM ELBO without offset.
  kNoisePred,     // ||eps_hat - eps||^2 over the whole state, t uniform.
  kCldNoisePred,  // The same over the auxiliary variables only.
};

// Per-example ||eps_hat - eps||^2 at t ~ U[t_min, T] under the hybrid
// kernel, summed over the state (or, with `aux_only`, over v only: for
// processes like CLD whose x receives no noise): [batch].
absl::StatusOr<at::Tensor> NoisePredictionLoss(
    const diffusions::DiffusionImpl& diffusion, const ScoreNetwork& network,
    const at::Tensor& x_0, double t_min, Parameterization parameterization,
    bool aux_only, c10::optional<at::Generator> gen = c10::nullopt);

// The loss of `type` averaged over the batch. `options` configures the
// ELBO losses (and gives t_min and the parameterization to all).
absl::StatusOr<at::Tensor> TrainingLoss(
    LossType type, const diffusions::DiffusionImpl& diffusion,
    const ScoreNetwork& network, const at::Tensor& x_0,
    const ElboOptions& options,
    c10::optional<at::Generator> gen = c10::nullopt);

// The loss the config asks for at `epoch`: NOISE_PRED_TO_ELBO is noise
// prediction before switch_epoch and DSM_ELBO from it on (never when
// switch_epoch < 0).
LossType TrainLossForEpoch(const proto::ObjectiveConfig& config, int epoch);
LossType ToLossType(proto::ObjectiveConfig::LossType type, int epoch,
                    int switch_epoch);

// ELBO options of the training objective from the config blocks.
ElboOptions TrainElboOptions(const proto::ObjectiveConfig& objective,
                             const proto::DiffusionConfig& diffusion,
                             const proto::ScoreModelConfig& score_model);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_LOSSES_H_
