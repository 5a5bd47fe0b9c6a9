// Samples of the data variable as a picture, the same in the trainer's
// sample grids and the `sample` binary: images mapped back to [0, 1] on a
// near-square grid, 2-D points as a density histogram.
#ifndef MDM_SAMPLING_PICTURE_H_
#define MDM_SAMPLING_PICTURE_H_

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/util/image_grid.h"

namespace mdm::sampling {

// A 2-D histogram of points [n, 2] on [-4, 4]^2 as a [1, 1, 128, 128]
// image in [0, 1] (darker = denser, linear up to the 99th percentile of the
// occupied bins), y pointing up.
at::Tensor Histogram2d(const at::Tensor& points);

// The data variable of samples, x [n, ...data] in the diffusion's space,
// as images in [0, 1] [n, C, H, W] (inverse transform, clamped).
at::Tensor SamplesToImages(const at::Tensor& x, const proto::DataConfig& data);

// The PNG of samples x [n, ...data]: an image grid with ceil(sqrt(n))
// columns, or a histogram for 2-D data; other vector data cannot be drawn.
absl::StatusOr<util::EncodedImage> DrawSamples(const at::Tensor& x,
                                               const proto::DataConfig& data);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_PICTURE_H_
