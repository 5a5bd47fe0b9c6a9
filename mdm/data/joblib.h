// Reads a numpy image array saved by joblib.dump, the file format of the
// original's CelebA-HQ (`<index>.npy`, made by its
// generate_celeba_dataset.py). The file is a pickle of joblib's
// NumpyArrayWrapper followed by the array's raw bytes; the pickle is read
// as data by a small opcode reader that never imports or calls anything.
// Files of joblib 0.10 and later (with or without the alignment padding of
// joblib 1.2+), uncompressed or gzip-compressed, are read.
#ifndef MDM_DATA_JOBLIB_H_
#define MDM_DATA_JOBLIB_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/statusor.h"

namespace mdm::data {

// The uint8 [H, W, 3] array in `path`, C order. Errors name the file and
// what is wrong (not a joblib pickle, another dtype or shape, truncated).
absl::StatusOr<at::Tensor> ReadJoblibImage(const std::string& path);

}  // namespace mdm::data

#endif  // MDM_DATA_JOBLIB_H_
