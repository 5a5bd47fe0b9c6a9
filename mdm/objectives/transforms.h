// Data as the diffusion sees it: uniform dequantization, transforms with
// exact log-determinants, the transform a config asks for, and bits per
// dimension (docs/math.md section 6). Images arrive in [0, 1] as k/255;
// dequantization spreads each level over a 1/256-wide bin.
#ifndef MDM_OBJECTIVES_TRANSFORMS_H_
#define MDM_OBJECTIVES_TRANSFORMS_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>

#include "mdm/proto/experiment.pb.h"

namespace mdm::objectives {

// x' = (255 x + U[0, 1)) / 256 for 8-bit data x in {0, ..., 255} / 255.
at::Tensor Dequantize(const at::Tensor& x,
                      c10::optional<at::Generator> gen = c10::nullopt);

enum class TransformKind {
  kLogit,   // y = logit(alpha + (1 - 2 alpha) x).
  kCenter,  // y = 2 x - 1.
  kNone,    // y = x.
};

// An invertible map of data x [batch, ...data] to the diffusion's space.
class DataTransform {
 public:
  explicit DataTransform(TransformKind kind, double alpha = 0.05);

  TransformKind kind() const { return kind_; }
  at::Tensor Forward(const at::Tensor& x) const;
  at::Tensor Inverse(const at::Tensor& y) const;
  // log |det dy/dx| per example: [batch], float64.
  at::Tensor LogDetJacobian(const at::Tensor& x) const;

 private:
  TransformKind kind_;
  double alpha_;
};

// The transform data.transform names (validation keeps LOGIT and CENTER
// to image data).
TransformKind TransformKindFor(const proto::DataConfig& data);

// Data x [batch, ...data] as the model sees it: dequantized when
// `dequantize` (8-bit data with data.dequantize), then transformed; the
// transform's log |det J| per example goes to `log_det` when given.
at::Tensor PrepareData(const at::Tensor& x, bool dequantize,
                       const DataTransform& transform, at::Tensor* log_det,
                       c10::optional<at::Generator> gen = c10::nullopt);

// The number of bits the data's quantization adds: 8 for 8-bit images
// whose dequantized density is modelled, 0 for continuous data.
inline constexpr int kEightBitQuantization = 8;
inline constexpr int kContinuous = 0;

// bpd = -(log_p + log|det J|) / (d ln 2) + quantization_bits, where log_p
// (or a bound on it) is of the transformed data y and d counts data
// dimensions: [batch] float64.
at::Tensor BitsPerDim(const at::Tensor& log_p, const at::Tensor& log_det,
                      int64_t data_dim, int quantization_bits);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_TRANSFORMS_H_
