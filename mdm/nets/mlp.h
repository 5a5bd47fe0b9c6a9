// The original work's multilayer perceptron score model for vector data
// (toy 2-D sets and tests): input the flattened state and t, 4 hidden
// layers with SiLU. Parameter names are the original's (`net.0` ...
// `net.8`, SiLU between the linear layers), so its state dicts load by name.
#ifndef MDM_NETS_MLP_H_
#define MDM_NETS_MLP_H_

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "mdm/nets/score_model.h"

namespace mdm::nets {

struct MlpOptions {
  MlpOptions(int64_t num_vars, int64_t dim) : num_vars_(num_vars), dim_(dim) {}
  TORCH_ARG(int64_t, num_vars);
  TORCH_ARG(int64_t, dim);  // Data dimension per variable.
  TORCH_ARG(int64_t, hidden_dim) = 128;
  TORCH_ARG(int64_t, num_hidden_layers) = 4;
};

// Maps u [batch, K, dim] and t [batch] to [batch, K, dim].
class MlpImpl : public ScoreModel {
 public:
  explicit MlpImpl(const MlpOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& t) override;

 private:
  MlpOptions options_;
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace mdm::nets

#endif  // MDM_NETS_MLP_H_
