#include "mdm/model/model.h"

#include <ATen/ATen.h>

#include "mdm/diffusions/factory.h"
#include "mdm/nets/factory.h"
#include "mdm/util/runtime_info.h"
#include "mdm/util/sharded_call.h"

namespace mdm::model {

objectives::Parameterization ParameterizationOf(
    const proto::ScoreModelConfig& config) {
  return config.score_parameterization() == proto::ScoreModelConfig::SCORE_PRED
             ? objectives::Parameterization::kScorePred
             : objectives::Parameterization::kNoisePred;
}

absl::StatusOr<Model> Model::Create(const proto::Experiment& experiment,
                                    const c10::Device& device) {
  Model model;
  const uint64_t seed = experiment.seed();
  absl::StatusOr<diffusions::Diffusion> diffusion =
      diffusions::CreateDiffusion(experiment.diffusion(), seed);
  if (!diffusion.ok()) return diffusion.status();
  model.diffusion_ = *diffusion;
  absl::StatusOr<std::shared_ptr<nets::ScoreModel>> network =
      nets::CreateScoreModel(experiment.score_model(), experiment.data(),
                             model.diffusion_->num_vars(), seed);
  if (!network.ok()) return network.status();
  model.network_ = *network;
  model.parameterization_ = ParameterizationOf(experiment.score_model());
  const proto::ObjectiveConfig& objective = experiment.objective();
  if (objective.imp_weight_train() &&
      objective.time_proposal() == proto::ObjectiveConfig::ADAPTIVE) {
    // On the CPU whatever the device: bookkeeping of a few numbers.
    model.proposal_ = std::make_shared<objectives::AdaptiveTimeSamplerImpl>(
        model.diffusion_->options().schedule(), objective.t_min_train(),
        experiment.diffusion().t_max(),
        objectives::AdaptiveTimeSamplerOptions{
            .bins = objective.adaptive_bins(),
            .vp_share = objective.adaptive_vp_share(),
            .decay = objective.adaptive_decay()});
  }
  model.To(device);
  return model;
}

objectives::ScoreNetwork Model::Network() const {
  return [network = network_](const at::Tensor& u, const at::Tensor& t) {
    return util::ShardedCall(
        [network](const std::vector<at::Tensor>& in) {
          return network->forward(in[0], in[1]);
        },
        {u, t}, network->parameters(),
        network->draws_random_numbers() ? 1 : util::ComputeThreads());
  };
}

sampling::ScoreFunction Model::Score() const {
  return sampling::NetworkScore(*diffusion_, Network(), parameterization_);
}

NamedTensors Model::NamedParameters() const {
  NamedTensors out;
  for (const auto& item : network_->named_parameters())
    out.emplace_back("network." + item.key(), item.value());
  for (const auto& item : diffusion_->named_parameters())
    out.emplace_back("diffusion." + item.key(), item.value());
  return out;
}

std::vector<at::Tensor> Model::Parameters() const {
  std::vector<at::Tensor> out;
  for (auto& [name, tensor] : NamedParameters()) out.push_back(tensor);
  return out;
}

util::TensorDict Model::StateDict() const {
  util::TensorDict out = util::StateDict(*network_, "network.");
  out.merge(util::StateDict(*diffusion_, "diffusion."));
  if (proposal_) out.merge(util::StateDict(*proposal_, "proposal."));
  return out;
}

absl::Status Model::Load(const util::TensorDict& weights,
                         const std::string& what) {
  if (absl::Status s =
          util::LoadStateDict(*network_, weights, "network.", what);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          util::LoadStateDict(*diffusion_, weights, "diffusion.", what);
      !s.ok()) {
    return s;
  }
  if (!proposal_) return absl::OkStatus();
  return util::LoadStateDict(*proposal_, weights, "proposal.", what);
}

void Model::To(const c10::Device& device) {
  device_ = device;
  diffusion_->to(device);
  network_->to(device);
}

void Model::SetTraining(bool training) const {
  network_->train(training);
  diffusion_.ptr()->train(training);
}

}  // namespace mdm::model
