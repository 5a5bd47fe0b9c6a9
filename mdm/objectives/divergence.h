// The divergence of a vector field v(u) with respect to the state u, per
// example, shared by the ISM ELBO (div G G^T s) and the probability-flow
// ODE likelihood (div F): exactly, by one vector-Jacobian product per
// coordinate (small d only), or by Hutchinson's estimator E[z^T (dv/du) z]
// with Rademacher or Gaussian probes z.
#ifndef MDM_OBJECTIVES_DIVERGENCE_H_
#define MDM_OBJECTIVES_DIVERGENCE_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <vector>

namespace mdm::objectives {

enum class DivergenceEstimator {
  kRademacher,  // Hutchinson with +-1 probes.
  kGaussian,    // Hutchinson with N(0, I) probes.
  kExact,       // One vector-Jacobian product per coordinate.
};

// `count` probes shaped like `like` (none for kExact), on `like`'s device.
// A CPU generator (or none) draws them on the CPU, so a seed gives the same
// probes on every device; a generator of `like`'s device draws them there
// (LibTorch's kernels take only a generator of their own device).
std::vector<at::Tensor> DivergenceProbes(DivergenceEstimator estimator,
                                         const at::Tensor& like, int64_t count,
                                         c10::optional<at::Generator> gen);

// div_u v per example, [batch] float64, for v = v(u) computed from `u`
// (which requires grad) with the graph still alive: exact for kExact,
// else the mean of z^T (dv/du) z over `probes`. `create_graph` keeps the
// result differentiable (to train through it).
at::Tensor Divergence(const at::Tensor& v, const at::Tensor& u,
                      DivergenceEstimator estimator,
                      const std::vector<at::Tensor>& probes,
                      bool create_graph);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_DIVERGENCE_H_
