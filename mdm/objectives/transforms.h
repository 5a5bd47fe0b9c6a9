// Data transforms with exact log-determinants, uniform dequantization and
// bits per dimension (mdm_math.md section 6). Images arrive in [0, 1] as
// k/255; dequantization spreads each level over a 1/256-wide bin.
#ifndef MDM_OBJECTIVES_TRANSFORMS_H_
#define MDM_OBJECTIVES_TRANSFORMS_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>

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

// bpd = -(elbo + log|det J|) / (d ln 2) + 8: the bits per dimension of the
// 8-bit data when `elbo` bounds log p(y) of transformed dequantized data.
at::Tensor BitsPerDim(const at::Tensor& elbo, const at::Tensor& log_det,
                      int64_t data_dim);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_TRANSFORMS_H_
