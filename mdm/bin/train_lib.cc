#include "mdm/bin/train_lib.h"

#include <ATen/Parallel.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/train/distributed.h"
#include "mdm/train/run_logger.h"
#include "mdm/train/trainer.h"
#include "mdm/util/command_line.h"
#include "mdm/util/device.h"
#include "mdm/util/logging.h"
#include "mdm/util/runtime_info.h"
#include "mdm/util/stop_signal.h"

namespace mdm::bin {

absl::StatusOr<TrainOutcome> RunTraining(const TrainFlags& flags) {
  const absl::Time start = absl::Now();
  util::InstallStopSignalHandlers();
  absl::StatusOr<proto::Experiment> experiment =
      proto::LoadExperiment(flags.config_path, flags.overrides);
  if (!experiment.ok()) return experiment.status();
  if (flags.debug_mode) experiment->mutable_training()->set_debug_mode(true);
  if (flags.num_threads < 0) {
    return absl::InvalidArgumentError("--num_threads must be >= 0");
  }
  util::SetComputeThreads(flags.num_threads);
  const std::string output_dir = util::ResolveUserPath(
      flags.output_dir.empty() ? experiment->output().output_dir()
                               : flags.output_dir);
  experiment->mutable_output()->set_output_dir(output_dir);
  // Relative paths in the config are relative to where the user ran bazel.
  experiment->mutable_data()->set_data_dir(
      util::ResolveUserPath(experiment->data().data_dir()));
  experiment->mutable_training()->set_checkpoint_path(
      util::ResolveUserPath(experiment->training().checkpoint_path()));
  LOG(INFO) << "config " << flags.config_path << ", output " << output_dir
            << ", " << util::RuntimeSummary();

  train::TrainerOptions options;
  options.output_dir = output_dir;
  options.resume = flags.resume || experiment->training().resume_checkpoint();
  options.overwrite = flags.overwrite;
  if (options.resume && options.overwrite) {
    return absl::InvalidArgumentError(
        "--resume and --overwrite exclude each other");
  }
  options.device = flags.device;
  absl::StatusOr<train::DistributedEnvironment> env =
      train::DistributedEnvironmentFromEnv();
  if (!env.ok()) return env.status();
  if (env->world_size > 1) {
    if (flags.dist_timeout_s <= 0) {
      return absl::InvalidArgumentError("--dist_timeout_s must be positive");
    }
    absl::StatusOr<c10::Device> device = util::ParseDevice(flags.device);
    if (!device.ok()) return device.status();
    // One GPU per rank: "cuda" alone means this rank's local index.
    if (device->is_cuda() && !device->has_index()) {
      device = c10::Device(c10::kCUDA, env->local_rank);
      options.device = device->str();
    }
    absl::StatusOr<std::unique_ptr<train::Communicator>> communicator =
        train::Connect(*env, absl::Seconds(flags.dist_timeout_s), *device);
    if (!communicator.ok()) return communicator.status();
    options.communicator = *std::move(communicator);
  }
  absl::StatusOr<std::unique_ptr<train::Trainer>> trainer =
      train::Trainer::Create(*experiment, options);
  if (!trainer.ok()) return trainer.status();
  if (absl::Status s = (*trainer)->Run(); !s.ok()) return s;
  const TrainOutcome outcome{(*trainer)->step(),
                             (*trainer)->stopped_by_signal()};
  if (env->rank != 0) return outcome;  // Rank 0 wrote the logs.
  absl::StatusOr<std::vector<train::EvaluationRow>> evaluations =
      train::ReadEvaluations(output_dir);
  if (!evaluations.ok()) return evaluations.status();
  const char* signal = outcome.stopped_by_signal
                           ? sigabbrev_np(outcome.stopped_by_signal)
                           : nullptr;
  for (const std::string& line : train::RunSummary(
           output_dir,
           outcome.stopped_by_signal
               ? absl::StrCat("stopped by SIG", signal ? signal : "?")
               : "finished",
           outcome.step, absl::ToDoubleSeconds(absl::Now() - start),
           *evaluations)) {
    LOG(INFO) << line;
  }
  return outcome;
}

}  // namespace mdm::bin
