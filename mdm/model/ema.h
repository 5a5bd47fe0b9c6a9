// An exponential moving average of the trained parameters (Polyak
// averaging), kept by name, used for evaluation and sampling when
// optimizer.use_ema is set.
#ifndef MDM_MODEL_EMA_H_
#define MDM_MODEL_EMA_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/status.h"
#include "mdm/model/model.h"
#include "mdm/util/state_dict.h"

namespace mdm::model {

class Ema {
 public:
  // Shadows start as copies of `params` (name -> the live tensor).
  Ema(NamedTensors params, double decay);

  // shadow <- decay * shadow + (1 - decay) * param.
  void Update();
  // Exchanges the live parameters with the averages; calling it twice
  // restores the live ones.
  void Swap();

  // The shadows by parameter name.
  const util::TensorDict& shadows() const { return shadows_; }
  // Copies saved shadows in: every parameter's, shapes checked.
  absl::Status Load(const util::TensorDict& shadows, const std::string& what);

 private:
  NamedTensors params_;
  util::TensorDict shadows_;
  double decay_;
};

}  // namespace mdm::model

#endif  // MDM_MODEL_EMA_H_
