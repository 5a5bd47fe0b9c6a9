// Builds the configured diffusion from its own block of the experiment
// config (experiment.proto's DiffusionConfig).
#ifndef MDM_DIFFUSIONS_FACTORY_H_
#define MDM_DIFFUSIONS_FACTORY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sde/schedule.h"

namespace mdm::diffusions {

// The schedule of a config (INHOM: linear, HOM: constant).
absl::StatusOr<sde::BetaSchedule> ScheduleFromConfig(
    const proto::DiffusionConfig& config);

// VPSDE, CLD, ALDA, MALDA, LEARNED (initialized from `seed`) or CUSTOM.
// Validates the config first (ValidateDiffusionConfig's messages).
absl::StatusOr<Diffusion> CreateDiffusion(const proto::DiffusionConfig& config,
                                          uint64_t seed);

}  // namespace mdm::diffusions

#endif  // MDM_DIFFUSIONS_FACTORY_H_
