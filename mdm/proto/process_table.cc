#include "mdm/proto/process_table.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace mdm::proto {
namespace {

// K and noise of each process (docs/math.md section 3).
constexpr ProcessTraits kProcesses[] = {
    {DiffusionConfig::VPSDE, 1, 1, 1, false},
    {DiffusionConfig::CLD, 2, 2, 2, true},
    {DiffusionConfig::ALDA, 3, 3, 3, true},
    {DiffusionConfig::MALDA, 3, 2, 0, true},
    {DiffusionConfig::LEARNED, 2, 1, 0, false},
};

}  // namespace

const ProcessTraits* FindProcess(DiffusionConfig::SdeType type) {
  for (const ProcessTraits& traits : kProcesses) {
    if (traits.type == type) return &traits;
  }
  return nullptr;
}

int ResolvedNumVars(const DiffusionConfig& config) {
  if (config.n_vars() != 0) return config.n_vars();
  if (config.sde_type() == DiffusionConfig::CUSTOM) {
    const int K = static_cast<int>(std::lround(std::sqrt(config.q_size())));
    return K * K == config.q_size() ? K : 0;
  }
  const ProcessTraits* traits = FindProcess(config.sde_type());
  return traits ? traits->default_vars : 0;
}

std::string AllowedVars(const ProcessTraits& traits) {
  if (traits.min_vars == traits.max_vars) return absl::StrCat(traits.min_vars);
  return absl::StrCat("at least ", traits.min_vars);
}

bool NoiseFreeData(const DiffusionConfig& config) {
  if (config.sde_type() == DiffusionConfig::CUSTOM) {
    return config.d_size() > 0 && config.d(0) == 0.0;
  }
  const ProcessTraits* traits = FindProcess(config.sde_type());
  return traits != nullptr && traits->noise_free_data;
}

}  // namespace mdm::proto
