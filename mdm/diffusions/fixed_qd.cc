#include "mdm/diffusions/fixed_qd.h"

#include <ATen/ATen.h>

namespace mdm::diffusions {

FixedQdImpl::FixedQdImpl(const at::Tensor& Q, const at::Tensor& D) {
  TORCH_CHECK(Q.dim() == 2 && Q.size(0) == Q.size(1) && Q.size(0) >= 1,
              "Q must be [K, K], got ", Q.sizes());
  TORCH_CHECK(D.sizes() == Q.sizes(), "D must be [K, K] like Q, got ",
              D.sizes());
  const double scale = 1e-12 * std::max(1.0, Q.abs().max().item<double>() +
                                                 D.abs().max().item<double>());
  TORCH_CHECK((Q + Q.t()).abs().max().item<double>() <= scale,
              "Q must be antisymmetric");
  TORCH_CHECK((D - D.t()).abs().max().item<double>() <= scale,
              "D must be symmetric");
  TORCH_CHECK(at::linalg_eigvalsh(D.to(at::kDouble)).min().item<double>() >=
                  -1e-10 * std::max(1.0, D.abs().max().item<double>()),
              "D must be positive semi-definite");
  Q_ = register_buffer("Q", Q.detach().clone());
  D_ = register_buffer("D", D.detach().clone());
}

}  // namespace mdm::diffusions
