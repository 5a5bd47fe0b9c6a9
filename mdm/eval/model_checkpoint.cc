#include "mdm/eval/model_checkpoint.h"

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include <filesystem>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/diffusions/factory.h"
#include "mdm/nets/factory.h"
#include "mdm/objectives/losses.h"
#include "mdm/proto/experiment_config.h"

namespace mdm::eval {
namespace fs = std::filesystem;

objectives::ScoreNetwork LoadedModel::Network() const {
  nets::ScoreModel* net = network.get();
  return [net](const at::Tensor& u, const at::Tensor& t) {
    return net->forward(u, t);
  };
}

objectives::Parameterization LoadedModel::parameterization() const {
  return objectives::TrainElboOptions(experiment.objective(),
                                      experiment.diffusion(),
                                      experiment.score_model())
      .parameterization;
}

sampling::ScoreFunction LoadedModel::Score() const {
  return sampling::NetworkScore(*diffusion, Network(), parameterization());
}

absl::StatusOr<LoadedModel> LoadModel(const std::string& checkpoint,
                                      const LoadOptions& options) {
  LoadedModel model;
  std::error_code error;
  if (fs::is_directory(checkpoint, error)) {
    model.run_dir = checkpoint;
    for (const char* name : {"best", "last"}) {
      const std::string path =
          absl::StrCat(checkpoint, "/checkpoints/", name, ".pt");
      if (fs::exists(path, error)) {
        model.checkpoint_path = path;
        break;
      }
    }
    if (model.checkpoint_path.empty()) {
      return absl::NotFoundError(
          absl::StrCat("--checkpoint: ", checkpoint,
                       " has no checkpoints/best.pt or checkpoints/last.pt"));
    }
  } else if (fs::exists(checkpoint, error)) {
    model.checkpoint_path = checkpoint;
    fs::path dir = fs::path(checkpoint).parent_path();
    if (dir.filename() == "checkpoints") dir = dir.parent_path();
    model.run_dir = dir.empty() ? "." : dir.string();
  } else {
    return absl::NotFoundError(
        absl::StrCat("--checkpoint: ", checkpoint, " does not exist"));
  }
  const std::string config_path = options.config_path.empty()
                                      ? model.run_dir + "/config.textproto"
                                      : options.config_path;
  if (!fs::exists(config_path, error)) {
    return absl::NotFoundError(
        absl::StrCat("no config for checkpoint ", model.checkpoint_path, ": ",
                     config_path, " does not exist (pass --config)"));
  }
  absl::StatusOr<proto::Experiment> experiment =
      proto::LoadExperiment(config_path, {});
  if (!experiment.ok()) return experiment.status();
  model.experiment = *std::move(experiment);

  at::Device device(at::kCPU);
  try {
    device = at::Device(options.device);
  } catch (const c10::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: '", options.device, "' is not a device"));
  }
  const uint64_t seed = model.experiment.seed();
  absl::StatusOr<diffusions::Diffusion> diffusion =
      diffusions::CreateDiffusion(model.experiment.diffusion(), seed);
  if (!diffusion.ok()) return diffusion.status();
  model.diffusion = *diffusion;
  absl::StatusOr<std::shared_ptr<nets::ScoreModel>> network =
      nets::CreateScoreModel(model.experiment.score_model(),
                             model.experiment.data(),
                             model.diffusion->num_vars(), seed);
  if (!network.ok()) return network.status();
  model.network = *network;

  // Loading replaces tensors whole, shapes included: compare afterwards.
  auto shapes = [&model] {
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    for (const auto& item : model.network->named_parameters())
      out.emplace_back("network." + item.key(), item.value().sizes().vec());
    for (const auto& item : model.diffusion->named_parameters())
      out.emplace_back("diffusion." + item.key(), item.value().sizes().vec());
    return out;
  };
  const auto expected_shapes = shapes();
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(model.checkpoint_path, device);
    torch::serialize::InputArchive network_archive, diffusion_archive;
    archive.read("network", network_archive);
    archive.read("diffusion", diffusion_archive);
    model.network->load(network_archive);
    model.diffusion->load(diffusion_archive);
    const auto loaded_shapes = shapes();
    for (size_t i = 0; i < expected_shapes.size(); ++i) {
      if (loaded_shapes[i] != expected_shapes[i]) {
        return absl::DataLossError(absl::StrCat(
            "checkpoint ", model.checkpoint_path, " does not match config ",
            config_path, ": ", expected_shapes[i].first, " has shape [",
            absl::StrJoin(loaded_shapes[i].second, ", "),
            "] in the checkpoint but [",
            absl::StrJoin(expected_shapes[i].second, ", "), "] in the config"));
      }
    }
    at::Tensor value;
    if (archive.try_read("step", value, /*is_buffer=*/true)) {
      model.step = static_cast<int64_t>(value.item<double>());
    }
    // The trainer saves EMA shadows in the order of its parameters: the
    // network's, then the diffusion's.
    std::vector<at::Tensor> params = model.network->parameters();
    for (const at::Tensor& p : model.diffusion->parameters())
      params.push_back(p);
    at::NoGradGuard no_grad;
    if (model.experiment.optimizer().use_ema() &&
        archive.try_read("ema_0", value, true)) {
      for (size_t i = 0; i < params.size(); ++i) {
        at::Tensor shadow;
        archive.read(absl::StrCat("ema_", i), shadow, true);
        params[i].copy_(shadow);
      }
      model.ema_weights = true;
    }
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    message = message.substr(0, message.find('\n'));
    return absl::DataLossError(
        absl::StrCat("checkpoint ", model.checkpoint_path,
                     " does not match config ", config_path, ": ", message));
  }
  model.network->to(device);
  model.diffusion->to(device);
  model.network->eval();
  return model;
}

}  // namespace mdm::eval
