#include "mdm/model/checkpoint.h"

#include <ATen/ATen.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/util/crc32c.h"

namespace mdm::model {
namespace {

constexpr char kEma[] = "ema.";
constexpr char kOptimizer[] = "optimizer.";
constexpr char kRun[] = "run.";

// host: a checkpoint entry, written from the host
at::Tensor Scalar(double value) { return at::full({1}, value, at::kDouble); }

// CRC-32C over every entry but run.checksum, in name order.
uint32_t Checksum(const util::TensorDict& entries) {
  uint32_t crc = 0;
  for (const auto& [name, tensor] : entries) {
    if (name == "run.checksum") continue;
    const at::Tensor t = tensor.detach().cpu().contiguous();
    crc = util::Crc32cExtend(crc, name);
    crc = util::Crc32cExtend(crc, std::string(t.dtype().name()));
    crc = util::Crc32cExtend(crc, absl::StrJoin(t.sizes(), ","));
    crc = util::Crc32cExtend(
        crc, absl::string_view(static_cast<const char*>(t.data_ptr()),
                               t.numel() * t.element_size()));
  }
  return crc;
}

// The entries under `prefix`, without it.
util::TensorDict Section(const util::TensorDict& entries,
                         const std::string& prefix) {
  util::TensorDict out;
  for (auto it = entries.lower_bound(prefix);
       it != entries.end() && absl::StartsWith(it->first, prefix); ++it) {
    out.emplace(it->first.substr(prefix.size()), it->second);
  }
  return out;
}

}  // namespace

Checkpoint Snapshot(const proto::Experiment& experiment, const Model& model,
                    const Ema* ema, util::TensorDict optimizer,
                    const RunState& state) {
  Checkpoint checkpoint;
  checkpoint.experiment = experiment;
  at::NoGradGuard no_grad;
  for (const auto& [name, tensor] : model.StateDict())
    checkpoint.model.emplace(name, tensor.detach().cpu().clone());
  if (ema != nullptr) {
    for (const auto& [name, tensor] : ema->shadows())
      checkpoint.ema.emplace(name, tensor.detach().cpu().clone());
  }
  for (auto& [name, tensor] : optimizer)
    checkpoint.optimizer.emplace(name, tensor.detach().cpu().clone());
  // [K, K], or [time_bins, K, K] for a time-binned process.
  const diffusions::DiffusionImpl& diffusion = model.diffusion();
  const bool binned = diffusion.time_bins() > 1;
  checkpoint.derived.emplace(
      "Q", (binned ? diffusion.BinnedQ() : diffusion.Q()).detach().cpu().clone());
  checkpoint.derived.emplace(
      "D", (binned ? diffusion.BinnedD() : diffusion.D()).detach().cpu().clone());
  checkpoint.state = state;
  return checkpoint;
}

absl::Status WriteCheckpoint(const std::string& path,
                             const Checkpoint& checkpoint) {
  util::TensorDict entries = checkpoint.model;
  for (const auto& [name, tensor] : checkpoint.ema)
    entries.emplace(kEma + name, tensor);
  for (const auto& [name, tensor] : checkpoint.optimizer)
    entries.emplace(kOptimizer + name, tensor);
  for (const auto& [name, tensor] : checkpoint.derived)
    entries.emplace(name, tensor);
  const RunState& state = checkpoint.state;
  entries.emplace("run.step", Scalar(state.step));
  entries.emplace("run.epoch", Scalar(state.epoch));
  entries.emplace("run.loader_epoch", Scalar(state.loader_epoch));
  entries.emplace("run.loader_step", Scalar(state.loader_step));
  entries.emplace("run.best_bpd", Scalar(state.best_bpd.value_or(NAN)));
  entries.emplace("run.owed", Scalar(static_cast<int>(state.owed)));
  const std::string config = proto::ExperimentToText(checkpoint.experiment);
  entries.emplace("run.config",
                  // host: a checkpoint entry, written from the host
                  at::from_blob(const_cast<char*>(config.data()),
                                {static_cast<int64_t>(config.size())},
                                at::kByte)
                      .clone());
  entries.emplace("run.format",
                  // host: a checkpoint entry, written from the host
                  at::full({1}, kCheckpointFormat, at::kLong));
  entries.emplace("run.checksum",
                  // host: a checkpoint entry, written from the host
                  at::full({1}, static_cast<int64_t>(Checksum(entries)),
                           at::kLong));
  return util::WriteTensorDict(path, entries);
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return absl::NotFoundError(absl::StrCat("checkpoint ", path,
                                            " does not exist"));
  }
  absl::StatusOr<util::TensorDict> entries = util::ReadTensorDict(path);
  if (!entries.ok()) {
    if (entries.status().code() == absl::StatusCode::kNotFound)
      return entries.status();
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " is corrupt or not a checkpoint (",
        entries.status().message(), ")"));
  }
  const auto format = entries->find("run.format");
  const auto checksum = entries->find("run.checksum");
  if (format == entries->end() || checksum == entries->end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is a dict of tensors but not an MDM checkpoint (no "
              "run.format/run.checksum); import the original's checkpoints "
              "with //mdm/bin:import_original"));
  }
  if (format->second.numel() != 1 ||
      format->second.item<int64_t>() != kCheckpointFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", path, " has format ", format->second.item<int64_t>(),
        "; this build reads format ", kCheckpointFormat));
  }
  if (checksum->second.numel() != 1 ||
      static_cast<uint32_t>(checksum->second.item<int64_t>()) !=
          Checksum(*entries)) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " is corrupt: its checksum does not match its "
                             "contents"));
  }
  Checkpoint checkpoint;
  const util::TensorDict run = Section(*entries, kRun);
  for (const char* key :
       {"step", "epoch", "loader_epoch", "loader_step", "best_bpd", "config"}) {
    if (!run.count(key)) {
      return absl::DataLossError(
          absl::StrCat("checkpoint ", path, " lacks run.", key));
    }
  }
  checkpoint.state.step = static_cast<int64_t>(run.at("step").item<double>());
  checkpoint.state.epoch = static_cast<int64_t>(run.at("epoch").item<double>());
  checkpoint.state.loader_epoch =
      static_cast<int64_t>(run.at("loader_epoch").item<double>());
  checkpoint.state.loader_step =
      static_cast<int64_t>(run.at("loader_step").item<double>());
  const double best = run.at("best_bpd").item<double>();
  if (std::isfinite(best)) checkpoint.state.best_bpd = best;
  // Absent from checkpoints written before it existed.
  if (run.count("owed")) {
    const double owed = run.at("owed").item<double>();
    if (owed != 0 && owed != 1 && owed != 2) {
      return absl::DataLossError(
          absl::StrCat("checkpoint ", path, " has run.owed = ", owed,
                       ", which is none of 0, 1 and 2"));
    }
    checkpoint.state.owed = static_cast<Owed>(static_cast<int>(owed));
  }
  const at::Tensor config = run.at("config").contiguous();
  absl::StatusOr<proto::Experiment> experiment = proto::ParseExperiment(
      std::string(static_cast<const char*>(config.data_ptr()), config.numel()),
      absl::StrCat(path, ":run.config"));
  if (!experiment.ok()) return experiment.status();
  checkpoint.experiment = *std::move(experiment);
  checkpoint.ema = Section(*entries, kEma);
  checkpoint.optimizer = Section(*entries, kOptimizer);
  for (const char* name : {"Q", "D"}) {
    if (entries->count(name)) checkpoint.derived.emplace(name, entries->at(name));
  }
  for (const char* prefix : {"network.", "diffusion.", "proposal."}) {
    for (auto& [name, tensor] : Section(*entries, prefix))
      checkpoint.model.emplace(prefix + name, tensor);
  }
  return checkpoint;
}

absl::StatusOr<bool> LoadWeights(const Checkpoint& checkpoint,
                                 const std::string& what, bool prefer_ema,
                                 Model& model) {
  if (absl::Status s = model.Load(checkpoint.model, what); !s.ok()) return s;
  if (!prefer_ema || checkpoint.ema.empty()) return false;
  // The averages replace the trained parameters; buffers stay.
  util::TensorDict averaged = checkpoint.model;
  for (const auto& [name, tensor] : model.NamedParameters()) {
    const auto it = checkpoint.ema.find(name);
    if (it == checkpoint.ema.end()) {
      return absl::NotFoundError(
          absl::StrCat("the EMA of ", name, " is missing from ", what));
    }
    averaged[name] = it->second;
  }
  if (absl::Status s = model.Load(averaged, what); !s.ok()) return s;
  return true;
}

}  // namespace mdm::model
