// Writes a batch of images as one PNG grid (stb_image_write), e.g. the
// trainer's samples/step_N.png.
#ifndef MDM_UTIL_IMAGE_GRID_H_
#define MDM_UTIL_IMAGE_GRID_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"

namespace mdm::util {

// images: [N, C, H, W] with C = 1 (grayscale) or 3 (RGB), float values in
// [0, 1] (clamped) or uint8. Tiles them row-major, `columns` per row, with
// a `padding`-pixel black border, and writes the PNG atomically.
absl::Status WritePngGrid(const at::Tensor& images, int64_t columns,
                          const std::string& path, int64_t padding = 2);

}  // namespace mdm::util

#endif  // MDM_UTIL_IMAGE_GRID_H_
