// What the score network predicts, and the conversion to and from the
// score (docs/math.md section 4), shared by the losses and the samplers.
// L is the Cholesky factor of the hybrid kernel's covariance at t.
#ifndef MDM_OBJECTIVES_SCORE_PARAMETERIZATION_H_
#define MDM_OBJECTIVES_SCORE_PARAMETERIZATION_H_

#include <ATen/core/Tensor.h>

#include <functional>

#include "mdm/sde/linear_sde.h"

namespace mdm::objectives {

enum class Parameterization {
  kNoisePred,  // The network predicts eps: s = -L^{-T} eps_hat.
  kScorePred,  // The network predicts the score s.
};

// The score network as objectives and samplers see it: its raw output at
// states u_t [batch, K, ...data] and times t [batch].
using ScoreNetwork =
    std::function<at::Tensor(const at::Tensor& u_t, const at::Tensor& t)>;

// s = -L^{-T} eps_hat, from `hybrid_kernel.chol_inv_t` [batch, K, K].
at::Tensor ScoreFromNoise(const at::Tensor& eps_hat,
                          const sde::TransitionKernel& hybrid_kernel);
// eps_hat = -L^T s.
at::Tensor NoiseFromScore(const at::Tensor& score,
                          const sde::TransitionKernel& hybrid_kernel);

// The score and the predicted noise of a network output under either
// parameterization.
at::Tensor ScoreFromOutput(const at::Tensor& output,
                           const sde::TransitionKernel& hybrid_kernel,
                           Parameterization parameterization);
at::Tensor NoiseFromOutput(const at::Tensor& output,
                           const sde::TransitionKernel& hybrid_kernel,
                           Parameterization parameterization);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_SCORE_PARAMETERIZATION_H_
