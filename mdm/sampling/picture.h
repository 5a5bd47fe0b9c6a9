// Samples of the data variable as a picture, the same in the trainer's
// sample grids, the `sample` binary and `eval --metric=fid`: images mapped
// back to [0, 1] on a near-square grid, each enlarged to at least 64
// pixels a side; 2-D points as a 512 x 512 density histogram of a fixed
// extent with its axes and unit ticks marked.
#ifndef MDM_SAMPLING_PICTURE_H_
#define MDM_SAMPLING_PICTURE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/util/image_grid.h"

namespace mdm::sampling {

// The square 2-D pictures show, [-kHistogramExtent, kHistogramExtent]^2.
inline constexpr double kHistogramExtent = 4.0;
// An image side is enlarged by the least whole factor that reaches this.
inline constexpr int64_t kMinCellPixels = 64;

// A 2-D histogram of points [n, 2] on the extent as a [1, 1, 128, 128]
// image in [0, 1] (darker = denser, linear up to the 99th percentile of the
// occupied bins), y pointing up.
at::Tensor Histogram2d(const at::Tensor& points);

// One line that says what a picture of `data` shows, for logs and
// TensorBoard text: "2-D histogram of [-4, 4] x [-4, 4], axes through 0,
// ticks every 1" for 2-D data, "" for images.
std::string PictureLegend(const proto::DataConfig& data);

// Images [n, C, H, W] in [0, 1] as a PNG grid: ceil(sqrt(n)) columns, each
// image enlarged by the least whole factor that makes its sides at least
// kMinCellPixels (nearest neighbour: 28 -> 84), a 2-pixel gray border.
absl::StatusOr<util::EncodedImage> DrawImages(const at::Tensor& images);

// The data variable of samples, x [n, ...data] in the diffusion's space,
// as images in [0, 1] [n, C, H, W] (inverse transform, clamped).
at::Tensor SamplesToImages(const at::Tensor& x, const proto::DataConfig& data);

// The PNG of samples x [n, ...data]: DrawImages of the images, or for 2-D
// data the histogram drawn 512 x 512 in a black frame with gray axes through
// the origin and ticks at every whole coordinate; other vector data cannot
// be drawn.
absl::StatusOr<util::EncodedImage> DrawSamples(const at::Tensor& x,
                                               const proto::DataConfig& data);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_PICTURE_H_
