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

struct GridOptions {
  int64_t columns = 1;
  int64_t padding = 2;  // Pixels of border around and between the cells.
  int64_t scale = 1;    // Each image drawn scale x scale times as large.
  uint8_t border = 0;   // The border's (and empty cells') gray level.
};

// images: [N, C, H, W] with C = 1 (grayscale) or 3 (RGB), float values in
// [0, 1] (clamped) or uint8. Tiles them row-major, `columns` per row, each
// pixel repeated `scale` times in both directions (nearest neighbour), as
// one PNG.
absl::StatusOr<EncodedImage> EncodePngGrid(const at::Tensor& images,
                                           const GridOptions& options);

// EncodePngGrid, written atomically to `path`.
absl::Status WritePngGrid(const at::Tensor& images, const GridOptions& options,
                          const std::string& path);

}  // namespace mdm::util

#endif  // MDM_UTIL_IMAGE_GRID_H_
