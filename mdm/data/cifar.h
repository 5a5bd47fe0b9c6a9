// CIFAR-10 in its binary distribution format: data_batch_1.bin ...
// data_batch_5.bin and test_batch.bin, each a sequence of records of one
// label byte and 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major), read
// from `dir` or `dir`/cifar-10-batches-bin.
#ifndef MDM_DATA_CIFAR_H_
#define MDM_DATA_CIFAR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mdm/data/dataset.h"

namespace mdm::data {

// Parses one batch file's bytes into images [N, 3, 32, 32] and labels.
absl::StatusOr<InMemoryImages> ParseCifarBatch(absl::string_view bytes,
                                               const std::string& path);

// "train" (the five data batches) or "test".
absl::StatusOr<InMemoryImages> LoadCifar10(const std::string& dir,
                                           const std::string& split);

}  // namespace mdm::data

#endif  // MDM_DATA_CIFAR_H_
