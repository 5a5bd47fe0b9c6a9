#include "mdm/diffusions/factory.h"

#include <ATen/ATen.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/diffusions/fixed_qd.h"
#include "mdm/diffusions/learned_qd.h"
#include "mdm/proto/process_table.h"
#include "mdm/diffusions/processes.h"
#include "mdm/diffusions/time_binned_qd.h"
#include "mdm/proto/experiment_config.h"

namespace mdm::diffusions {

using proto::DiffusionConfig;

absl::StatusOr<sde::BetaSchedule> ScheduleFromConfig(
    const DiffusionConfig& config) {
  absl::StatusOr<sde::BetaSchedule> schedule = sde::BetaSchedule::Create(
      config.beta_fn_type() == DiffusionConfig::HOM
          ? sde::ScheduleKind::kConstant
          : sde::ScheduleKind::kLinear,
      config.beta_0(), config.beta_1());
  if (!schedule.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("diffusion.", schedule.status().message()));
  }
  return schedule;
}

absl::StatusOr<Diffusion> CreateDiffusion(const DiffusionConfig& config,
                                          uint64_t seed) {
  if (absl::Status s = proto::ValidateDiffusionConfig(config); !s.ok()) {
    return s;
  }
  const int K = proto::ResolvedNumVars(config);
  absl::StatusOr<sde::BetaSchedule> schedule = ScheduleFromConfig(config);
  if (!schedule.ok()) return schedule.status();
  const DiffusionOptions options =
      DiffusionOptions()
          .stationary_x_var(config.stationary_x_var())
          .stationary_aux_var(config.stationary_aux_var())
          .init_aux_var(config.init_aux_var())
          .schedule(*schedule)
          .t_max(config.t_max());
  const double aux_var = config.stationary_aux_var();
  QdMatrices fixed;
  switch (config.sde_type()) {
    case DiffusionConfig::VPSDE:
      fixed = VpsdeMatrices();
      break;
    case DiffusionConfig::CLD:
      fixed = CldMatrices(aux_var);
      break;
    case DiffusionConfig::MALDA:
      fixed = MaldaMatrices(K, aux_var);
      break;
    case DiffusionConfig::ALDA:
      fixed = AldaMatrices(aux_var, config.alda_gamma(), config.alda_psi());
      break;
    case DiffusionConfig::CUSTOM:
      // host: a process is built on the host; Module::to moves it
      fixed = {.Q = at::tensor(std::vector<double>(config.q().begin(),
                                                   config.q().end()),
                               at::kDouble)
                        .view({K, K}),
               // host: a process is built on the host; Module::to moves it
               .D = at::tensor(std::vector<double>(config.d().begin(),
                                                   config.d().end()),
                               at::kDouble)
                        .view({K, K})};
      break;
    case DiffusionConfig::LEARNED: {
      const LearnedQdOptions learned = LearnedQdOptions(K)
                                           .d_full(config.d_full())
                                           .d_full_cholesky(config.d_full_cholesky())
                                           .seed(seed);
      // One bin is the paper's process, under its own parameter names.
      if (config.time_bins() <= 1) {
        return Diffusion(std::make_shared<LearnedQdImpl>(learned), options);
      }
      return Diffusion(
          std::make_shared<TimeBinnedQdImpl>(learned, config.time_bins()),
          options);
    }
    default:
      return absl::InvalidArgumentError("diffusion.sde_type is not set");
  }
  return Diffusion(fixed.Q, fixed.D, options);
}

}  // namespace mdm::diffusions
