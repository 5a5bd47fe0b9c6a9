#include "mdm/sampling/picture.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "mdm/objectives/transforms.h"

namespace mdm::sampling {

namespace {

constexpr int64_t kHistogramBins = 128;
constexpr int64_t kHistogramScale = 4;  // 512 x 512 pixels.

// The histogram image [1, 1, S, S] (S = bins x scale) with the axes
// through the origin darkening its light pixels and 12-pixel ticks at
// every whole coordinate along the four edges.
at::Tensor MarkAxes(at::Tensor image) {
  const int64_t size = image.size(2);
  const double per_unit = size / (2 * kHistogramExtent);
  at::Tensor pixels = image[0][0];
  const int64_t origin = size / 2;
  for (const at::Tensor& axis :
       {pixels.narrow(0, origin, 1), pixels.narrow(1, origin, 1)}) {
    axis.clamp_max_(0.75);
  }
  constexpr int64_t kTick = 12;
  for (int unit = 1; unit < 2 * static_cast<int>(kHistogramExtent); ++unit) {
    const int64_t at = std::min<int64_t>(
        size - 1, static_cast<int64_t>(std::lround(unit * per_unit)));
    pixels.narrow(0, 0, kTick).narrow(1, at, 1).fill_(0);
    pixels.narrow(0, size - kTick, kTick).narrow(1, at, 1).fill_(0);
    pixels.narrow(1, 0, kTick).narrow(0, at, 1).fill_(0);
    pixels.narrow(1, size - kTick, kTick).narrow(0, at, 1).fill_(0);
  }
  return image;
}

}  // namespace

at::Tensor Histogram2d(const at::Tensor& points) {
  constexpr int64_t kSize = kHistogramBins;
  constexpr double kExtent = kHistogramExtent;
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

std::string PictureLegend(const proto::DataConfig& data) {
  if (data.is_image()) return "";
  return absl::StrFormat(
      "2-D histogram of [%g, %g] x [%g, %g], axes through 0, ticks every 1",
      -kHistogramExtent, kHistogramExtent, -kHistogramExtent,
      kHistogramExtent);
}

absl::StatusOr<util::EncodedImage> DrawImages(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(0) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pictures need [N, C, H, W] images, got ", c10::str(images.sizes())));
  }
  const int64_t side =
      std::max<int64_t>(1, std::min(images.size(2), images.size(3)));
  return util::EncodePngGrid(
      images,
      {.columns = static_cast<int64_t>(
           std::ceil(std::sqrt(static_cast<double>(images.size(0))))),
       .padding = 2,
       .scale = (kMinCellPixels + side - 1) / side,
       .border = 128});
}

absl::StatusOr<util::EncodedImage> DrawSamples(const at::Tensor& x,
                                               const proto::DataConfig& data) {
  if (data.is_image()) return DrawImages(SamplesToImages(x, data));
  if (x.dim() == 2 && x.size(1) == 2) {
    const at::Tensor histogram = Histogram2d(x)
                                     .repeat_interleave(kHistogramScale, 2)
                                     .repeat_interleave(kHistogramScale, 3);
    return util::EncodePngGrid(MarkAxes(histogram.contiguous()),
                               {.padding = 2, .border = 0});
  }
  return absl::InvalidArgumentError(
      "only images and 2-D data can be drawn; pass --raw to keep samples");
}

}  // namespace mdm::sampling
