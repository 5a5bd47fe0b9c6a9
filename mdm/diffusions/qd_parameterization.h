// The interface of a Q/D parameterization: a torch::nn::Module that yields
// the current antisymmetric Q and symmetric PSD D of a diffusion. Fixed
// processes hold them as buffers; learned ones build them from
// unconstrained parameters, so the constraints hold by construction.
#ifndef MDM_DIFFUSIONS_QD_PARAMETERIZATION_H_
#define MDM_DIFFUSIONS_QD_PARAMETERIZATION_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>

namespace mdm::diffusions {

class QdParameterization : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;

  virtual int64_t num_vars() const = 0;
  // Whether Q and D have trainable parameters.
  virtual bool learned() const = 0;
  // Q [K, K], antisymmetric, with autograd history when learned.
  virtual at::Tensor Q() const = 0;
  // D [K, K], symmetric positive semi-definite.
  virtual at::Tensor D() const = 0;

  // Q and D piecewise constant over this many equal bins of B(t) (1:
  // constant; then Q() and D() are the process's matrices).
  virtual int64_t time_bins() const { return 1; }
  // Q and D of one bin, 0 <= bin < time_bins().
  virtual at::Tensor BinQ(int64_t /*bin*/) const { return Q(); }
  virtual at::Tensor BinD(int64_t /*bin*/) const { return D(); }
};

}  // namespace mdm::diffusions

#endif  // MDM_DIFFUSIONS_QD_PARAMETERIZATION_H_
