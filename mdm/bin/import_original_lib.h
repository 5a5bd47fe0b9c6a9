// The import_original binary's logic: turn the original implementation's
// YAML config and (optionally) a checkpoint it trained into one of our run
// directories,
//   OUTPUT_DIR/config.textproto        the experiment (proto/original_config.h)
//   OUTPUT_DIR/checkpoints/last.pt     the weights, Adam state, step and
//                                      epoch (model/checkpoint.h)
// which `sample`, `eval`, `kernel --checkpoint` and `train --resume` take.
// The checkpoint is a PyTorch Lightning file (a torch.save zip with
// state_dict, optimizer_states, hyper_parameters and Lightning's own
// objects) or a bare state dict; Lightning files go through a Python step
// on Debian's python3-torch (lightning_checkpoint.py, built in), since
// LibTorch's unpickler cannot skip Lightning's classes.
#ifndef MDM_BIN_IMPORT_ORIGINAL_LIB_H_
#define MDM_BIN_IMPORT_ORIGINAL_LIB_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mdm::bin {

struct ImportFlags {
  // The original's YAML config; may be empty with a checkpoint that stores
  // its config in hyper_parameters.
  std::string yaml;
  std::string checkpoint;  // Optional.
  std::string output_dir;
  // FIELD=VALUE overrides applied after the YAML (e.g. data.data_dir=...).
  std::vector<std::string> overrides;
  // The Python that runs the Lightning step.
  std::string python = "/usr/bin/python3";
};

// Returns a summary: what was written and each note on where the config
// follows what the original does rather than what a key says.
absl::StatusOr<std::string> RunImport(const ImportFlags& flags);

}  // namespace mdm::bin

#endif  // MDM_BIN_IMPORT_ORIGINAL_LIB_H_
