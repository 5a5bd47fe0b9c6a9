// Builds the configured score network for K diffusion variables.
#ifndef MDM_NETS_FACTORY_H_
#define MDM_NETS_FACTORY_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "mdm/nets/score_model.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::nets {

// MLP (vectors or flattened images), TINY_UNET, TINY_UNET_PADDED, HO_UNET
// or NCSNPP (images) with K * C input and output channels. `seed` seeds
// LibTorch's default generator before the weights are drawn (and the fixed
// Fourier features), so the same seed gives the same network.
absl::StatusOr<std::shared_ptr<ScoreModel>> CreateScoreModel(
    const proto::ScoreModelConfig& config, const proto::DataConfig& data,
    int64_t num_vars, uint64_t seed);

}  // namespace mdm::nets

#endif  // MDM_NETS_FACTORY_H_
