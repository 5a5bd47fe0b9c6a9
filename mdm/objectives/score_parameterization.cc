#include "mdm/objectives/score_parameterization.h"

#include <ATen/ATen.h>

#include "mdm/sde/block_ops.h"

namespace mdm::objectives {

at::Tensor ScoreFromNoise(const at::Tensor& eps_hat,
                          const sde::TransitionKernel& hybrid_kernel) {
  return -sde::ApplyMatrix(hybrid_kernel.chol_inv_t, eps_hat);
}

at::Tensor NoiseFromScore(const at::Tensor& score,
                          const sde::TransitionKernel& hybrid_kernel) {
  return -sde::ApplyMatrix(hybrid_kernel.chol.transpose(-1, -2), score);
}

at::Tensor ScoreFromOutput(const at::Tensor& output,
                           const sde::TransitionKernel& hybrid_kernel,
                           Parameterization parameterization) {
  return parameterization == Parameterization::kNoisePred
             ? ScoreFromNoise(output, hybrid_kernel)
             : output;
}

at::Tensor NoiseFromOutput(const at::Tensor& output,
                           const sde::TransitionKernel& hybrid_kernel,
                           Parameterization parameterization) {
  return parameterization == Parameterization::kNoisePred
             ? output
             : NoiseFromScore(output, hybrid_kernel);
}

}  // namespace mdm::objectives
