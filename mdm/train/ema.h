// An exponential moving average of parameters (Polyak averaging), used for
// evaluation and sampling when the config enables it.
#ifndef MDM_TRAIN_EMA_H_
#define MDM_TRAIN_EMA_H_

#include <ATen/core/Tensor.h>

#include <vector>

namespace mdm::train {

class Ema {
 public:
  Ema(std::vector<at::Tensor> params, double decay);

  // shadow <- decay * shadow + (1 - decay) * param.
  void Update();
  // Exchanges the live parameters with the averages; calling it twice
  // restores the live ones.
  void Swap();

  std::vector<at::Tensor>& shadow() { return shadow_; }
  const std::vector<at::Tensor>& shadow() const { return shadow_; }

 private:
  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> shadow_;
  double decay_;
};

}  // namespace mdm::train

#endif  // MDM_TRAIN_EMA_H_
