#include "mdm/bin/import_original_lib.h"

#include <ATen/ATen.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/bin/lightning_checkpoint_py.h"
#include "mdm/model/checkpoint.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/proto/original_config.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/command_line.h"
#include "mdm/util/logging.h"
#include "mdm/util/state_dict.h"
#include "mdm/util/zip_check.h"
#include "nlohmann/json.hpp"

namespace mdm::bin {
namespace {

namespace fs = std::filesystem;

std::string Text(const at::Tensor& bytes) {
  const at::Tensor b = bytes.contiguous().to(at::kByte);
  return std::string(static_cast<const char*>(b.data_ptr()), b.numel());
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Where an imported run resumes: MDM's step is the optimizer steps taken,
// its epoch the epochs finished, and training goes on at the start of the
// next epoch (Lightning restarts an epoch cut short). Lightning's own
// counters mean different things by version (testdata/lightning holds real
// checkpoints of four): before 1.6 `epoch` counts finished epochs, and
// after fit `global_step` is one more than the steps taken; from 1.6 on
// `epoch` is the index of the epoch in progress (after fit, one past the
// last), and the fit loop's epoch_progress.current.processed counts the
// finished ones. Adam's own step count is the steps taken in every version.
model::RunState LightningRunState(const util::TensorDict& original) {
  auto get = [&](const std::string& key) -> std::optional<int64_t> {
    const auto it = original.find(key);
    if (it == original.end()) return std::nullopt;
    return static_cast<int64_t>(it->second.item<double>());
  };
  model::RunState state;
  state.step = get("optimizer.0.step").value_or(get("global_step").value_or(0));
  const std::optional<int64_t> processed = get("epochs_processed");
  state.epoch = processed.has_value() && *processed >= 0
                    ? *processed
                    : get("epoch").value_or(0);
  state.loader_epoch = state.epoch;
  state.loader_step = 0;
  return state;
}

// The checkpoint as the Python step writes it (state_dict.*, optimizer.*,
// param_order, hyper_parameters, global_step, epoch). A file that already
// is a dict of tensors (a bare state dict) is taken as the state dict.
// Nothing is read from a zip archive (torch.save's format since 1.6) whose
// CRC-32s do not match; a legacy-format file, which has none, gets a note.
absl::StatusOr<util::TensorDict> ReadOriginalCheckpoint(
    const std::string& path, const std::string& python,
    std::vector<std::string>& notes) {
  std::error_code error;
  if (!fs::exists(path, error)) {
    return absl::NotFoundError(
        absl::StrCat("--checkpoint: ", path, " does not exist"));
  }
  if (util::LooksLikeZip(path)) {
    if (absl::Status s = util::VerifyZipChecksums(path); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("--checkpoint: ", s.message()));
    }
  } else {
    notes.push_back(absl::StrCat(
        path, " is in torch.save's legacy format, which carries no "
              "checksums: read unverified"));
  }
  absl::StatusOr<util::TensorDict> direct = util::ReadTensorDict(path);
  if (direct.ok()) {
    util::TensorDict out;
    std::vector<std::string> order;
    for (auto& [name, tensor] : *direct) {
      out.emplace("state_dict." + name, tensor);
    }
    return out;
  }
  // Lightning's pickle: the Python step.
  const fs::path dir =
      fs::temp_directory_path() / absl::StrCat("mdm_import_", ::getpid());
  fs::create_directories(dir, error);
  const std::string script = (dir / "lightning_checkpoint.py").string();
  const std::string converted = (dir / "converted.pt").string();
  const std::string log = (dir / "python.log").string();
  std::ofstream(script) << kLightningCheckpointPy;
  const std::string command = absl::StrCat(
      ShellQuote(python), " ", ShellQuote(script), " ", ShellQuote(path), " ",
      ShellQuote(converted), " > ", ShellQuote(log), " 2>&1");
  const int rc = std::system(command.c_str());
  absl::StatusOr<util::TensorDict> read =
      rc == 0 ? util::ReadTensorDict(converted)
              : absl::InternalError("the Python step failed");
  if (!read.ok()) {
    std::ifstream in(log);
    std::string line, last;
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
    fs::remove_all(dir, error);
    return absl::InvalidArgumentError(absl::StrCat(
        "--checkpoint: ", path,
        " is neither a dict of tensors nor a checkpoint the original's "
        "Lightning wrote (",
        rc == 0 ? std::string(read.status().message())
                : (last.empty() ? absl::StrCat("exit status ", rc) : last),
        "; it needs Debian's python3-torch at ", python, ")"));
  }
  fs::remove_all(dir, error);
  return read;
}

// The original's parameter name -> ours, for the model's tensors.
absl::StatusOr<std::string> OurName(const std::string& name,
                                    const model::Model& model) {
  if (absl::StartsWith(name, "deep_model.")) {
    return "network." + name.substr(std::string("deep_model.").size());
  }
  const util::TensorDict ours = model.StateDict();
  if (name == "qmodule.q" && ours.count("diffusion.qd.W"))
    return "diffusion.qd.W";
  if (name == "dmodule.d" && ours.count("diffusion.qd.d"))
    return "diffusion.qd.d";
  if (name == "qmodule.q" || name == "dmodule.d")
    return std::string();  // Fixed.
  return absl::InvalidArgumentError(absl::StrCat(
      "the checkpoint has ", name, ", which the original's model has not"));
}

// Converts the original's tensors into our model (checking every name and
// shape, and that fixed Q and D are the configured process's).
absl::Status LoadWeights(const util::TensorDict& original,
                         const std::string& path, model::Model& model) {
  util::TensorDict weights = model.StateDict();  // Ours, to overwrite.
  for (const auto& [key, tensor] : original) {
    if (!absl::StartsWith(key, "state_dict.")) continue;
    const std::string name = key.substr(std::string("state_dict.").size());
    absl::StatusOr<std::string> ours = OurName(name, model);
    if (!ours.ok()) return ours.status();
    if (ours->empty()) {
      // A fixed process's Q or D: it must be the configured one.
      at::NoGradGuard no_grad;
      const at::Tensor configured =
          name == "qmodule.q" ? model.diffusion().Q() : model.diffusion().D();
      const at::Tensor saved = tensor.to(configured.dtype());
      if (saved.sizes() != configured.sizes() ||
          !at::allclose(saved, configured, 1e-5, 1e-6)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "checkpoint ", path, ": its fixed ",
            name == "qmodule.q" ? "Q" : "D",
            " is not the configured process's (is the YAML the one it was "
            "trained with?)"));
      }
      continue;
    }
    if (!weights.count(*ours)) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", path, " has ", name, " (our ", *ours,
                       "), which the configured model has not"));
    }
    weights[*ours] = tensor;
  }
  return model.Load(weights, absl::StrCat("checkpoint ", path));
}

// Adam/AdamW/Adamax state by our parameter names: the original's optimizer
// indexes its parameters in state_dict order (no buffers in its models).
absl::StatusOr<util::TensorDict> OptimizerState(
    const util::TensorDict& original, const model::Model& model) {
  util::TensorDict out;
  const auto order_it = original.find("param_order");
  if (order_it == original.end()) return out;
  std::vector<std::string> order;
  try {
    order = nlohmann::json::parse(Text(order_it->second))
                .get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(
        "the checkpoint's parameter order is unreadable");
  }
  std::map<std::string, at::Tensor> trained;
  for (const auto& [name, tensor] : model.NamedParameters())
    trained.emplace(name, tensor);
  for (const auto& [key, tensor] : original) {
    if (!absl::StartsWith(key, "optimizer.")) continue;
    // optimizer.<index>.<slot>
    const std::string rest = key.substr(std::string("optimizer.").size());
    const size_t dot = rest.find('.');
    int64_t index = -1;
    if (dot == std::string::npos ||
        !absl::SimpleAtoi(rest.substr(0, dot), &index) || index < 0 ||
        index >= static_cast<int64_t>(order.size())) {
      return absl::DataLossError(absl::StrCat(
          "the checkpoint's optimizer state ", key, " names no parameter"));
    }
    absl::StatusOr<std::string> ours = OurName(order[index], model);
    if (!ours.ok()) return ours.status();
    if (ours->empty() || !trained.count(*ours)) continue;  // Not trained here.
    out.emplace(absl::StrCat(*ours, ".", rest.substr(dot + 1)), tensor);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RunImport(const ImportFlags& flags) {
  if (absl::Status s = util::RequireFlag("output_dir", flags.output_dir,
                                         "the run directory to create");
      !s.ok()) {
    return s;
  }
  if (flags.yaml.empty() && flags.checkpoint.empty()) {
    return absl::InvalidArgumentError(
        "pass --yaml (the original's config), --checkpoint, or both");
  }
  std::error_code error;
  for (const char* existing : {"config.textproto", "checkpoints/last.pt"}) {
    if (fs::exists(fs::path(flags.output_dir) / existing, error)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "--output_dir ", flags.output_dir, " already holds a run (", existing,
          "); choose another directory"));
    }
  }
  util::TensorDict original;
  std::vector<std::string> notes;
  if (!flags.checkpoint.empty()) {
    absl::StatusOr<util::TensorDict> read =
        ReadOriginalCheckpoint(flags.checkpoint, flags.python, notes);
    if (!read.ok()) return read.status();
    original = *std::move(read);
  }
  absl::StatusOr<proto::OriginalConfig> config = absl::InvalidArgumentError("");
  if (!flags.yaml.empty()) {
    config = proto::ReadOriginalYaml(flags.yaml);
  } else if (original.count("hyper_parameters")) {
    config = proto::OriginalConfigFromJson(
        Text(original.at("hyper_parameters")),
        absl::StrCat(flags.checkpoint, " (hyper_parameters)"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--checkpoint ", flags.checkpoint,
        " stores no config; pass the YAML it was trained with as --yaml"));
  }
  if (!config.ok()) return config.status();
  absl::StatusOr<proto::ImportedConfig> imported =
      proto::ExperimentFromOriginal(*config, flags.overrides);
  if (!imported.ok()) return imported.status();
  const proto::Experiment& experiment = imported->experiment;

  std::string summary;
  if (!flags.checkpoint.empty()) {
    if (experiment.score_model().score_model_type() ==
        proto::ScoreModelConfig::NCSNPP) {
      return absl::UnimplementedError(
          "the original's NCSN++ weights cannot be imported: its layers are "
          "an index-named list (all_modules.N) this importer does not map; "
          "import the config alone (--yaml) and train");
    }
    absl::StatusOr<model::Model> model =
        model::Model::Create(experiment, c10::kCPU);
    if (!model.ok()) return model.status();
    if (absl::Status s = LoadWeights(original, flags.checkpoint, *model);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<util::TensorDict> optimizer =
        OptimizerState(original, *model);
    if (!optimizer.ok()) return optimizer.status();
    const model::RunState state = LightningRunState(original);
    const std::string path = flags.output_dir + "/checkpoints/last.pt";
    if (absl::Status s = model::WriteCheckpoint(
            path, model::Snapshot(experiment, *model, /*ema=*/nullptr,
                                  *std::move(optimizer), state));
        !s.ok()) {
      return s;
    }
    absl::StrAppend(&summary, "wrote ", path, " (step ", state.step, ", epoch ",
                    state.epoch, ")\n");
  }
  const std::string config_path = flags.output_dir + "/config.textproto";
  if (absl::Status s = util::WriteFileAtomically(
          config_path, proto::ExperimentToText(experiment));
      !s.ok()) {
    return s;
  }
  summary = absl::StrCat("wrote ", config_path, "\n", summary);
  notes.insert(notes.end(), imported->notes.begin(), imported->notes.end());
  for (const std::string& note : notes)
    absl::StrAppend(&summary, "note: ", note, "\n");
  return summary;
}

}  // namespace mdm::bin
