// Training losses (docs/math.md section 5): the negative ELBO in DSM or ISM
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
  kDsmElbo,       // -DSM ELBO (without offset unless configured).
  kIsmElbo,       // -ISM ELBO (likewise).
  kNoisePred,     // ||eps_hat - eps||^2 over the whole state, t uniform.
  kCldNoisePred,  // The same over the variables G G^T touches.
};

// Per-example ||eps_hat - eps||^2 at t ~ U[t_min, T], u_t drawn from
// `kernel` with v_0 ~ q(v_0), summed over the state or, with
// `noised_only`, over the variables k with D_kk > 0 (the original's
// cld_noise_pred: all auxiliary variables of CLD and MALDA, the last of
// ALDA), which needs D_00 = 0: [batch].
absl::StatusOr<at::Tensor> NoisePredictionLoss(
    const diffusions::DiffusionImpl& diffusion, const ScoreNetwork& network,
    const at::Tensor& x_0, double t_min, diffusions::KernelType kernel,
    Parameterization parameterization, bool noised_only,
    c10::optional<at::Generator> gen = c10::nullopt);

// The loss of `type` averaged over the batch. `options` configures the
// ELBO losses (offset included when options.with_offset) and gives t_min,
// the kernel and the parameterization to all.
absl::StatusOr<at::Tensor> TrainingLoss(
    LossType type, const diffusions::DiffusionImpl& diffusion,
    const ScoreNetwork& network, const at::Tensor& x_0,
    const ElboOptions& options,
    c10::optional<at::Generator> gen = c10::nullopt);

// Whether the process's data variable receives no noise (D_00 = 0), as in
// CLD, ALDA and MALDA.
bool DataIsNoiseFree(const diffusions::DiffusionImpl& diffusion);

// The loss the config asks for at (0-based) `epoch`, as the original
// decides it: NOISE_PRED_TO_ELBO is DSM_ELBO once epoch >= switch_epoch (so
// from the start for -1 and 0) and before that CLD_NOISE_PRED when
// `data_noise_free`, else NOISE_PRED_LOSS.
LossType TrainLossForEpoch(const proto::ObjectiveConfig& config, int epoch,
                           bool data_noise_free);

// ELBO options of the training objective from the config blocks.
ElboOptions TrainElboOptions(const proto::ObjectiveConfig& objective,
                             const proto::DiffusionConfig& diffusion,
                             const proto::ScoreModelConfig& score_model);

// ELBO options of evaluation: importance-sampled t from eval.t_min_eval,
// eval.elbo_mc_samples_eval repeats, the offset when eval.elbo_offset_eval.
ElboOptions EvalElboOptions(const proto::Experiment& experiment);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_LOSSES_H_
