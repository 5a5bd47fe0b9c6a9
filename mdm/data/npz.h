// NumPy .npz archives (a zip of .npy arrays) read with libzip, and the
// downsampled ImageNet 32x32 data set of the original work stored that way:
// train_data_batch_1.npz ... train_data_batch_10.npz and val_data.npz, each
// with `data` (uint8, N x 3072, planar RGB) and `labels` (1 to 1000).
#ifndef MDM_DATA_NPZ_H_
#define MDM_DATA_NPZ_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mdm/data/dataset.h"

namespace mdm::data {

// Parses one .npy file's bytes (format versions 1 to 3; little-endian or
// byte-sized bool/int/uint/float dtypes; C or Fortran order) into a tensor.
absl::StatusOr<at::Tensor> ParseNpy(absl::string_view bytes,
                                    const std::string& what);

// Every array of an .npz archive's bytes, by name without ".npy".
absl::StatusOr<std::map<std::string, at::Tensor>> ParseNpz(
    absl::string_view bytes, const std::string& path);
absl::StatusOr<std::map<std::string, at::Tensor>> ReadNpz(
    const std::string& path);

// "train" or "test" (the validation file) of ImageNet32 from `dir`.
absl::StatusOr<InMemoryImages> LoadImagenet32(const std::string& dir,
                                              const std::string& split);

}  // namespace mdm::data

#endif  // MDM_DATA_NPZ_H_
