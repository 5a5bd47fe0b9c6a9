// The interface every score network implements: (u_t, t) -> a tensor shaped
// like the state, [batch, K, C, H, W] for images or [batch, K, dim] for
// vectors. Networks see the K variables as K*C input channels.
#ifndef MDM_NETS_SCORE_MODEL_H_
#define MDM_NETS_SCORE_MODEL_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace mdm::nets {

class ScoreModel : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;
  // u: the state; t: [batch] times in [0, T]. Returns u's shape.
  virtual at::Tensor forward(const at::Tensor& u, const at::Tensor& t) = 0;
  // Whether forward draws random numbers now (dropout while training).
  // Such a call is not split over threads: its draws would depend on which
  // thread reached the generator first.
  virtual bool draws_random_numbers() const { return false; }
};

}  // namespace mdm::nets

#endif  // MDM_NETS_SCORE_MODEL_H_
