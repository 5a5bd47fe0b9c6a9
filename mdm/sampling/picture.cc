#include "mdm/sampling/picture.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "mdm/objectives/transforms.h"

namespace mdm::sampling {

at::Tensor Histogram2d(const at::Tensor& points) {
  constexpr int64_t kSize = 128;
  constexpr double kExtent = 4.0;
  const at::Tensor p = points.to(at::kCPU, at::kDouble);
  const at::Tensor col = ((p.select(1, 0) + kExtent) / (2 * kExtent) * kSize)
                             .floor()
                             .to(at::kLong);
  const at::Tensor row = ((kExtent - p.select(1, 1)) / (2 * kExtent) * kSize)
                             .floor()
                             .to(at::kLong);
  const at::Tensor inside =
      (col >= 0) & (col < kSize) & (row >= 0) & (row < kSize);
  // host: a picture is drawn on the host
  at::Tensor counts = at::zeros({kSize * kSize}, at::kDouble);
  counts.index_add_(0, (row * kSize + col).masked_select(inside),
                    // host: a picture is drawn on the host
                    at::ones({inside.sum().item<int64_t>()}, at::kDouble));
  const at::Tensor occupied = counts.masked_select(counts > 0);
  const double top =
      occupied.numel() > 0 ? at::quantile(occupied, 0.99).item<double>() : 1;
  const at::Tensor density = (counts / std::max(top, 1.0)).clamp_max(1);
  return (1 - density).view({1, 1, kSize, kSize}).to(at::kFloat);
}

at::Tensor SamplesToImages(const at::Tensor& x,
                           const proto::DataConfig& data) {
  const objectives::DataTransform transform(
      objectives::TransformKindFor(data));
  return transform.Inverse(x.cpu()).clamp(0, 1);
}

absl::StatusOr<util::EncodedImage> DrawSamples(const at::Tensor& x,
                                               const proto::DataConfig& data) {
  if (data.is_image()) {
    const int64_t columns = static_cast<int64_t>(
        std::ceil(std::sqrt(static_cast<double>(x.size(0)))));
    return util::EncodePngGrid(SamplesToImages(x, data), columns);
  }
  if (x.dim() == 2 && x.size(1) == 2) {
    return util::EncodePngGrid(Histogram2d(x), 1);
  }
  return absl::InvalidArgumentError(
      "only images and 2-D data can be drawn; pass --raw to keep samples");
}

}  // namespace mdm::sampling
