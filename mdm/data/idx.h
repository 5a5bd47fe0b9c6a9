// MNIST and Fashion-MNIST in their IDX distribution format (optionally
// gzipped): train-images-idx3-ubyte, train-labels-idx1-ubyte and the t10k-*
// test files. Debian's dataset-fashion-mnist installs Fashion-MNIST at
// /usr/share/datasets/fashion-mnist/.
#ifndef MDM_DATA_IDX_H_
#define MDM_DATA_IDX_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mdm/data/dataset.h"

namespace mdm::data {

// Parses an unsigned-byte IDX file's bytes: [d0, d1, ...] uint8. Errors
// name `path`, the byte offset and what was expected.
absl::StatusOr<at::Tensor> ParseIdx(absl::string_view bytes,
                                    const std::string& path);

// Reads one IDX file, gzipped or not, straight into its tensor.
absl::StatusOr<at::Tensor> ReadIdxFile(const std::string& path);

// Reads "train" or "test" images [N, 1, H, W] and labels from `dir`.
absl::StatusOr<InMemoryImages> LoadIdxImages(const std::string& dir,
                                             const std::string& split,
                                             const std::string& name);

}  // namespace mdm::data

#endif  // MDM_DATA_IDX_H_
