// Writes a batch of images as one PNG grid (stb_image_write), e.g. the
// trainer's samples/step_N.png.
#ifndef MDM_UTIL_IMAGE_GRID_H_
#define MDM_UTIL_IMAGE_GRID_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mdm::util {

struct EncodedImage {
  std::string png;
  int height = 0;
  int width = 0;
  int channels = 0;
};

// images: [N, C, H, W] with C = 1 (grayscale) or 3 (RGB), float values in
// [0, 1] (clamped) or uint8. Tiles them row-major, `columns` per row, with
// a `padding`-pixel black border, as one PNG.
absl::StatusOr<EncodedImage> EncodePngGrid(const at::Tensor& images,
                                           int64_t columns,
                                           int64_t padding = 2);

// EncodePngGrid, written atomically to `path`.
absl::Status WritePngGrid(const at::Tensor& images, int64_t columns,
                          const std::string& path, int64_t padding = 2);

}  // namespace mdm::util

#endif  // MDM_UTIL_IMAGE_GRID_H_
