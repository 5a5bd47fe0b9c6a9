// A Q/D parameterization with fixed matrices (VPSDE, CLD, ALDA, MALDA, or
// any user-given pair), held as buffers so they follow .to(device) and are
// saved with the module.
#ifndef MDM_DIFFUSIONS_FIXED_QD_H_
#define MDM_DIFFUSIONS_FIXED_QD_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "mdm/diffusions/qd_parameterization.h"

namespace mdm::diffusions {

class FixedQdImpl : public QdParameterization {
 public:
  // Q [K, K] antisymmetric, D [K, K] symmetric PSD; TORCH_CHECKed, since
  // configs are validated before they get here.
  FixedQdImpl(const at::Tensor& Q, const at::Tensor& D);

  int64_t num_vars() const override { return Q_.size(0); }
  bool learned() const override { return false; }
  at::Tensor Q() const override { return Q_; }
  at::Tensor D() const override { return D_; }

 private:
  at::Tensor Q_;
  at::Tensor D_;
};
TORCH_MODULE(FixedQd);

}  // namespace mdm::diffusions

#endif  // MDM_DIFFUSIONS_FIXED_QD_H_
