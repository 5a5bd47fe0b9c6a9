// The configured data set (experiment.proto's DataConfig) and the loader
// options that go with it.
#ifndef MDM_DATA_FACTORY_H_
#define MDM_DATA_FACTORY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "mdm/data/dataset.h"
#include "mdm/data/loader.h"
#include "mdm/proto/experiment.pb.h"

namespace mdm::data {

// Reads `split` ("train", "validation" or "test") of the configured data
// set from data_dir (toy sets are generated from `seed`), keeps the first
// limit_examples, and checks that examples have the configured shape. With
// data.validation_examples = n > 0, "validation" is n training examples
// chosen by a seeded permutation and "train" the rest, both in file order.
// Every failure is one clear status naming the file or field.
absl::StatusOr<std::shared_ptr<const Dataset>> CreateDataset(
    const proto::DataConfig& config, const std::string& split, uint64_t seed);

// Loader options for a split: shuffling, flips and drop_last for "train".
LoaderOptions LoaderOptionsFor(const proto::DataConfig& config,
                               const std::string& split, int64_t batch_size,
                               uint64_t seed, int64_t rank = 0,
                               int64_t world_size = 1);

}  // namespace mdm::data

#endif  // MDM_DATA_FACTORY_H_
