#include "mdm/objectives/transforms.h"

#include <ATen/ATen.h>

#include <cmath>

namespace mdm::objectives {

at::Tensor Dequantize(const at::Tensor& x, c10::optional<at::Generator> gen) {
  return (255.0 * x + at::rand(x.sizes(), gen, x.options())) / 256.0;
}

DataTransform::DataTransform(TransformKind kind, double alpha)
    : kind_(kind), alpha_(alpha) {
  TORCH_CHECK(alpha > 0 && alpha < 0.5, "alpha must be in (0, 1/2)");
}

at::Tensor DataTransform::Forward(const at::Tensor& x) const {
  switch (kind_) {
    case TransformKind::kLogit:
      return at::logit(alpha_ + (1 - 2 * alpha_) * x);
    case TransformKind::kCenter:
      return 2 * x - 1;
    case TransformKind::kNone:
      return x;
  }
  TORCH_CHECK(false, "unknown transform");
}

at::Tensor DataTransform::Inverse(const at::Tensor& y) const {
  switch (kind_) {
    case TransformKind::kLogit:
      return (at::sigmoid(y) - alpha_) / (1 - 2 * alpha_);
    case TransformKind::kCenter:
      return (y + 1) / 2;
    case TransformKind::kNone:
      return y;
  }
  TORCH_CHECK(false, "unknown transform");
}

at::Tensor DataTransform::LogDetJacobian(const at::Tensor& x) const {
  const int64_t d = x[0].numel();
  const at::Tensor x64 = x.to(at::kDouble);
  switch (kind_) {
    case TransformKind::kLogit: {
      // dy/dx = (1 - 2 alpha) / (s (1 - s)), s = alpha + (1 - 2 alpha) x.
      const at::Tensor s = alpha_ + (1 - 2 * alpha_) * x64;
      return d * std::log(1 - 2 * alpha_) -
             (at::log(s) + at::log1p(-s)).flatten(1).sum(1);
    }
    case TransformKind::kCenter:
      return at::full({x.size(0)}, d * std::log(2.0), x64.options());
    case TransformKind::kNone:
      return at::zeros({x.size(0)}, x64.options());
  }
  TORCH_CHECK(false, "unknown transform");
}

TransformKind TransformKindFor(const proto::DataConfig& data) {
  switch (data.transform()) {
    case proto::DataConfig::CENTER:
      return TransformKind::kCenter;
    case proto::DataConfig::NONE:
      return TransformKind::kNone;
    default:
      return TransformKind::kLogit;
  }
}

at::Tensor PrepareData(const at::Tensor& x, bool dequantize,
                       const DataTransform& transform, at::Tensor* log_det,
                       c10::optional<at::Generator> gen) {
  const at::Tensor y = dequantize ? Dequantize(x, gen) : x;
  if (log_det != nullptr) *log_det = transform.LogDetJacobian(y);
  return transform.Forward(y);
}

at::Tensor BitsPerDim(const at::Tensor& log_p, const at::Tensor& log_det,
                      int64_t data_dim, int quantization_bits) {
  return -(log_p.to(at::kDouble) + log_det.to(at::kDouble)) /
             (static_cast<double>(data_dim) * std::log(2.0)) +
         quantization_bits;
}

}  // namespace mdm::objectives
