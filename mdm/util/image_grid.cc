#include "mdm/util/image_grid.h"

#include <ATen/ATen.h>
#include <stb/stb_image_write.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "mdm/util/atomic_file.h"

namespace mdm::util {
namespace {

void AppendToString(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             size);
}

}  // namespace

absl::StatusOr<EncodedImage> EncodePngGrid(const at::Tensor& images,
                                           const GridOptions& options) {
  const int64_t columns = options.columns, padding = options.padding;
  if (images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3) ||
      images.size(0) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("an image grid needs [N, 1 or 3, H, W] images, got ",
                     c10::str(images.sizes())));
  }
  if (columns <= 0 || padding < 0 || options.scale <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("an image grid needs columns > 0, padding >= 0 and "
                     "scale > 0, got ",
                     columns, ", ", padding, " and ", options.scale));
  }
  const int64_t n = images.size(0), c = images.size(1),
                h = images.size(2) * options.scale,
                w = images.size(3) * options.scale;
  const int64_t rows = (n + columns - 1) / columns;
  at::Tensor pixels = images.detach().cpu();
  if (pixels.scalar_type() != at::kByte) {
    pixels = (pixels.to(at::kFloat).clamp(0, 1) * 255).round().to(at::kByte);
  }
  if (options.scale > 1) {
    pixels = pixels.repeat_interleave(options.scale, 2)
                 .repeat_interleave(options.scale, 3);
  }
  const int64_t grid_h = rows * (h + padding) + padding;
  const int64_t grid_w = columns * (w + padding) + padding;
  // host: a picture is made on the host
  at::Tensor grid = at::full({grid_h, grid_w, c}, options.border, at::kByte);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = padding + (i / columns) * (h + padding);
    const int64_t left = padding + (i % columns) * (w + padding);
    grid.narrow(0, top, h)
        .narrow(1, left, w)
        .copy_(pixels[i].permute({1, 2, 0}));
  }
  grid = grid.contiguous();
  std::string png;
  if (!stbi_write_png_to_func(AppendToString, &png, static_cast<int>(grid_w),
                              static_cast<int>(grid_h), static_cast<int>(c),
                              grid.data_ptr<uint8_t>(),
                              static_cast<int>(grid_w * c))) {
    return absl::InternalError("PNG encoding failed");
  }
  return EncodedImage{.png = std::move(png),
                      .height = static_cast<int>(grid_h),
                      .width = static_cast<int>(grid_w),
                      .channels = static_cast<int>(c)};
}

absl::Status WritePngGrid(const at::Tensor& images, const GridOptions& options,
                          const std::string& path) {
  absl::StatusOr<EncodedImage> image = EncodePngGrid(images, options);
  if (!image.ok()) return image.status();
  return WriteFileAtomically(path, image->png);
}

}  // namespace mdm::util
