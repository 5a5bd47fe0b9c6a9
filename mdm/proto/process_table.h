// What each configurable process is, in one table: its number of variables
// (default and allowed range) and whether its data variable receives noise
// directly (D_00 > 0). Config validation (ValidateDiffusionConfig,
// ValidateExperiment) and the diffusion factory read it; adding a process
// means one row here and its matrices in diffusions/processes.h. Torch-free:
// it sits below the diffusions, beside the config it describes.
#ifndef MDM_PROTO_PROCESS_TABLE_H_
#define MDM_PROTO_PROCESS_TABLE_H_

#include <string>

#include "mdm/proto/experiment.pb.h"

namespace mdm::proto {

struct ProcessTraits {
  DiffusionConfig::SdeType type;
  int default_vars;  // When diffusion.n_vars is 0.
  int min_vars;
  int max_vars;      // 0: no upper bound.
  // D_00 = 0: the data variable gets noise only through Q (what
  // CLD_NOISE_PRED needs). CUSTOM: read from its d.
  bool noise_free_data;
};

// The row of `type`, or nullptr for SDE_TYPE_UNSPECIFIED and CUSTOM (whose
// K is the side of its q and whose D is the user's).
const ProcessTraits* FindProcess(DiffusionConfig::SdeType type);

// K: diffusion.n_vars when set, else the process's default (CUSTOM: the
// side of q when it is a square count); 0 when it cannot be known.
int ResolvedNumVars(const DiffusionConfig& config);

// "1", "2", "at least 2": the K a process allows, for error messages.
std::string AllowedVars(const ProcessTraits& traits);

// Whether the configured process's data variable gets no direct noise.
bool NoiseFreeData(const DiffusionConfig& config);

}  // namespace mdm::proto

#endif  // MDM_PROTO_PROCESS_TABLE_H_
