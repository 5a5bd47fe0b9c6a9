// What a run trains, built from its Experiment in one place for the
// trainer, the evaluators, the samplers and the importer: the configured
// diffusion (Q and D learned when configured) and score network, and how
// the network's output becomes a score.
//
// Example:
//   absl::StatusOr<Model> model = Model::Create(experiment, at::kCPU);
//   sampling::Sample(model->diffusion(), model->Score(), ...);
#ifndef MDM_MODEL_MODEL_H_
#define MDM_MODEL_MODEL_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/nets/score_model.h"
#include "mdm/objectives/score_parameterization.h"
#include "mdm/objectives/time_sampling.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sampling/score_function.h"
#include "mdm/util/state_dict.h"

namespace mdm::model {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class Model {
 public:
  // The diffusion and network of `experiment` (seeded from its seed), on
  // `device`. Fails with the factories' one-line errors.
  static absl::StatusOr<Model> Create(const proto::Experiment& experiment,
                                      const c10::Device& device);

  diffusions::DiffusionImpl& diffusion() const { return *diffusion_.ptr(); }
  nets::ScoreModel& network() const { return *network_; }
  objectives::Parameterization parameterization() const {
    return parameterization_;
  }
  const c10::Device& device() const { return device_; }

  // The run's adaptive proposal for t (objective.time_proposal ADAPTIVE),
  // or nullptr. Its statistics are buffers saved with the weights.
  objectives::AdaptiveTimeSamplerImpl* proposal() const {
    return proposal_.get();
  }
  // The network as objectives call it, and the score as samplers call it.
  objectives::ScoreNetwork Network() const;
  sampling::ScoreFunction Score() const;

  // The trained parameters, "network.<name>" then "diffusion.<name>" (the
  // optimizer's order).
  NamedTensors NamedParameters() const;
  std::vector<at::Tensor> Parameters() const;
  // Parameters and buffers under the same names (the tensors themselves),
  // and the proposal's statistics as "proposal.<name>".
  util::TensorDict StateDict() const;
  // Copies `weights` (the names above; all present, shapes checked) in.
  absl::Status Load(const util::TensorDict& weights, const std::string& what);

  // Training mode (dropout) or evaluation mode.
  void SetTraining(bool training) const;
  // Moves the network and the diffusion to `device`.
  void To(const c10::Device& device);

 private:
  Model() = default;

  diffusions::Diffusion diffusion_{nullptr};
  std::shared_ptr<nets::ScoreModel> network_;
  std::shared_ptr<objectives::AdaptiveTimeSamplerImpl> proposal_;
  objectives::Parameterization parameterization_ =
      objectives::Parameterization::kNoisePred;
  c10::Device device_{c10::kCPU};
};

// The parameterization a config asks for.
objectives::Parameterization ParameterizationOf(
    const proto::ScoreModelConfig& config);

}  // namespace mdm::model

#endif  // MDM_MODEL_MODEL_H_
