// The original implementation's experiment configs as Experiments that
// train, evaluate and sample as the original does with them: its YAML
// files (read as its yaml.safe_load reads them) or the `config` Namespace
// its Lightning checkpoints store in hyper_parameters (as JSON). Every key
// the original's YAML files have maps to our schema, or is recorded as one
// the original never reads; an unknown key or value is an error naming it.
//
// What the original does rather than what a key says, where they differ:
// its TinyUNet and HoUNet ignore `dropout`; its HoUNet takes ch and ch_mult
// from the data set (MNIST 32, (1, 2, 2); CIFAR-10 and ImageNet 128,
// (1, 2, 2, 2)); its NCSN++ reads n_channels and n_resblocks (not nf,
// num_res_blocks); it never reads use_ema, elbo_offset_train,
// val_loss_type or log_image_step, and always reports the offset bound;
// it flips CIFAR-10 training images. Each such case adds a note.
#ifndef MDM_PROTO_ORIGINAL_CONFIG_H_
#define MDM_PROTO_ORIGINAL_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::proto {

// A config value as the original holds it: None, bool, int, float, str.
using OriginalValue =
    std::variant<std::monostate, bool, int64_t, double, std::string>;

struct OriginalConfig {
  std::string source;  // The YAML file or checkpoint it was read from.
  std::map<std::string, OriginalValue> values;
  // Where each key came from, for messages ("file.yaml:12").
  std::map<std::string, std::string> origins;
};

// Reads a YAML config with PyYAML's safe_load typing (YAML 1.1 plain
// scalars: True/False/yes/no/on/off are booleans, floats need a dot, None
// is the string "None").
absl::StatusOr<OriginalConfig> ReadOriginalYaml(const std::string& path);

// Reads the JSON of a config's keys and values (what the importer's
// Python step writes from a checkpoint's hyper_parameters).
absl::StatusOr<OriginalConfig> OriginalConfigFromJson(
    const std::string& json_text, const std::string& source);

struct ImportedConfig {
  Experiment experiment;  // Defaults resolved and validated.
  // Where the experiment follows what the original does rather than a
  // key's value, one line each.
  std::vector<std::string> notes;
};

// The experiment of an original config; `overrides` ("field=value", as
// --set takes them) apply after its keys and before the result is
// validated.
absl::StatusOr<ImportedConfig> ExperimentFromOriginal(
    const OriginalConfig& config,
    const std::vector<std::string>& overrides = {});

}  // namespace mdm::proto

#endif  // MDM_PROTO_ORIGINAL_CONFIG_H_
