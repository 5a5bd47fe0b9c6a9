#include "mdm/model/saved_run.h"


#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "mdm/model/checkpoint.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/util/device.h"
#include "mdm/util/logging.h"

namespace mdm::model {
namespace fs = std::filesystem;

absl::StatusOr<SavedRun> OpenRun(const std::string& checkpoint,
                                 const OpenOptions& options) {
  std::string path, run_dir;
  absl::StatusOr<Checkpoint> contents = absl::NotFoundError("");
  std::error_code error;
  if (fs::is_directory(checkpoint, error)) {
    run_dir = checkpoint;
    const std::string best = checkpoint + "/checkpoints/best.pt";
    const std::string last = checkpoint + "/checkpoints/last.pt";
    if (fs::exists(best, error)) {
      path = best;
      contents = ReadCheckpoint(best);
      if (!contents.ok() && fs::exists(last, error)) {
        LOG(WARNING) << contents.status().message() << "; using " << last;
        path = last;
        contents = ReadCheckpoint(last);
      }
    } else if (fs::exists(last, error)) {
      path = last;
      contents = ReadCheckpoint(last);
    } else {
      return absl::NotFoundError(
          absl::StrCat("--checkpoint: ", checkpoint,
                       " has no checkpoints/best.pt or checkpoints/last.pt"));
    }
  } else if (fs::exists(checkpoint, error)) {
    path = checkpoint;
    fs::path dir = fs::path(checkpoint).parent_path();
    if (dir.filename() == "checkpoints") dir = dir.parent_path();
    run_dir = dir.empty() ? "." : dir.string();
    contents = ReadCheckpoint(path);
  } else {
    return absl::NotFoundError(
        absl::StrCat("--checkpoint: ", checkpoint, " does not exist"));
  }
  if (!contents.ok()) return contents.status();

  proto::Experiment experiment = contents->experiment;
  std::string config_source = path;
  if (!options.config_path.empty()) {
    absl::StatusOr<proto::Experiment> config =
        proto::LoadExperiment(options.config_path, {});
    if (!config.ok()) return config.status();
    experiment = *std::move(config);
    config_source = options.config_path;
  }
  absl::StatusOr<c10::Device> device = util::ParseDevice(options.device);
  if (!device.ok()) return device.status();
  absl::StatusOr<Model> model = Model::Create(experiment, c10::kCPU);
  if (!model.ok()) return model.status();
  absl::StatusOr<bool> ema = LoadWeights(
      *contents, absl::StrCat("checkpoint ", path), options.prefer_ema, *model);
  if (!ema.ok()) {
    return absl::Status(
        ema.status().code(),
        absl::StrCat(ema.status().message(),
                     config_source == path
                         ? ""
                         : absl::StrCat(" (config ", config_source, ")")));
  }
  model->To(*device);
  model->SetTraining(false);
  return SavedRun{std::move(experiment), *std::move(model), path, run_dir,
                  contents->state.step, *ema};
}

}  // namespace mdm::model
