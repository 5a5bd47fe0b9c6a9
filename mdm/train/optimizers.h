// Optimizers and the learning-rate schedule of the trainer: Adam, AdamW
// (LibTorch's) and Adamax (Kingma & Ba 2015, section 7.1; LibTorch 1.13
// has none), with weight decay, and linear warm-up followed by a cosine
// decay or a constant rate.
#ifndef MDM_TRAIN_OPTIMIZERS_H_
#define MDM_TRAIN_OPTIMIZERS_H_

#include <torch/arg.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/util/state_dict.h"

namespace mdm::train {

struct AdamaxOptions
    : public torch::optim::OptimizerCloneableOptions<AdamaxOptions> {
  AdamaxOptions(double lr = 2e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 0.0;  // L2, added to the gradient.

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

struct AdamaxParamState
    : public torch::optim::OptimizerCloneableParamState<AdamaxParamState> {
  TORCH_ARG(int64_t, step) = 0;
  TORCH_ARG(at::Tensor, exp_avg);  // m_t.
  TORCH_ARG(at::Tensor, exp_inf);  // u_t = max(beta2 u_{t-1}, |g_t|).

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
};

// theta <- theta - lr / (1 - beta1^t) * m_t / (u_t + eps).
class Adamax : public torch::optim::Optimizer {
 public:
  explicit Adamax(std::vector<at::Tensor> params, AdamaxOptions defaults = {});
  at::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
};

// The configured optimizer over `params` at the peak learning rate.
absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> CreateOptimizer(
    const proto::OptimizerConfig& config, std::vector<at::Tensor> params);

// The learning rate at optimizer step `step` (0-based) under
// optimizer.lr_schedule (experiment.proto says what each schedule does).
double LearningRateAt(const proto::OptimizerConfig& config, int64_t step);

// Sets every parameter group's learning rate.
void SetLearningRate(torch::optim::Optimizer& optimizer, double lr);

// The optimizer's per-parameter state as named tensors
// "<parameter name>.<slot>": for Adam and AdamW the slots step (float64
// [1]), exp_avg, exp_avg_sq (and max_exp_avg_sq with amsgrad); for Adamax
// step, exp_avg, exp_inf. `params` names the optimizer's parameters
// (model::Model::NamedParameters()); parameters without state yet (no
// step taken) have no entries. The tensors are the optimizer's own (copy
// them to keep a snapshot).
util::TensorDict OptimizerState(const torch::optim::Optimizer& optimizer,
                                const model::NamedTensors& params);

// Restores state saved by OptimizerState: every parameter with an entry
// gets its slots back (shapes checked); an entry naming no parameter, a
// missing slot or a slot of another optimizer is an error naming it.
absl::Status LoadOptimizerState(torch::optim::Optimizer& optimizer,
                                const model::NamedTensors& params,
                                const util::TensorDict& state,
                                const std::string& what);

}  // namespace mdm::train

#endif  // MDM_TRAIN_OPTIMIZERS_H_
