// Reading, overriding and validating Experiment configs (experiment.proto):
// textproto files with parse errors located by file:line:column,
// `--set=path.to.field=value` overrides, and cross-field validation with
// messages that name the offending field.
#ifndef MDM_PROTO_EXPERIMENT_CONFIG_H_
#define MDM_PROTO_EXPERIMENT_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::proto {

// Parses textproto `text`; errors read "<source_name>:LINE:COL: ...".
// Unknown fields are errors.
absl::StatusOr<Experiment> ParseExperiment(
    absl::string_view text, absl::string_view source_name = "<config>");

// Reads and parses a .textproto file.
absl::StatusOr<Experiment> ReadExperimentFile(const std::string& path);

// Applies one override "path.to.field=value", e.g. "diffusion.n_vars=3",
// "data.dataset=CIFAR10", "output.output_dir=runs/x" (strings need no
// quotes), "score_model.ch_mult=[1,2,2]" (a repeated field is replaced) or
// "data={dataset: MNIST}" (a message is replaced).
absl::Status ApplyOverride(absl::string_view assignment,
                           Experiment& experiment);
absl::Status ApplyOverrides(const std::vector<std::string>& assignments,
                            Experiment& experiment);

// Fills fields whose default depends on other fields: diffusion.n_vars (0:
// the process's own K), score_model.ch_mult and attn_resolutions.
void ResolveDefaults(Experiment& experiment);

// Cross-field checks; the first violation is returned as InvalidArgument
// naming the field, e.g. "diffusion.n_vars must be 2 for CLD, got 3" (each
// process's K and noise: process_table.h).
absl::Status ValidateDiffusionConfig(const DiffusionConfig& config);
absl::Status ValidateExperiment(const Experiment& experiment);

// ReadExperimentFile, ApplyOverrides, ResolveDefaults, ValidateExperiment.
absl::StatusOr<Experiment> LoadExperiment(
    const std::string& path, const std::vector<std::string>& overrides = {});

// The config as textproto, as written next to a run's outputs.
std::string ExperimentToText(const Experiment& experiment);

}  // namespace mdm::proto

#endif  // MDM_PROTO_EXPERIMENT_CONFIG_H_
