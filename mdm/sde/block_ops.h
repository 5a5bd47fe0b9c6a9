// Operations on multivariate states u = (x, v_1, ..., v_{K-1}) stored as
// [batch, K, ...data] tensors: K is a real axis, so a KxK matrix acts on
// every data coordinate at once through one batched matmul.
#ifndef MDM_SDE_BLOCK_OPS_H_
#define MDM_SDE_BLOCK_OPS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mdm::sde {

// Number of data coordinates d per variable: the product of u's dims after
// the K axis (C*H*W for images).
int64_t DataDim(const at::Tensor& u);

// (M u)_j for every data coordinate j. M is [K, K] (shared) or
// [batch, K, K] (per example); it is cast to u's dtype and device.
// Returns u's shape.
at::Tensor ApplyMatrix(const at::Tensor& M, const at::Tensor& u);

// Per-example sum over data coordinates of u_j^T M w_j: [batch].
at::Tensor QuadraticForm(const at::Tensor& u, const at::Tensor& M,
                         const at::Tensor& w);

// Trace of [..., K, K] matrices: [...].
at::Tensor Trace(const at::Tensor& M);

}  // namespace mdm::sde

#endif  // MDM_SDE_BLOCK_OPS_H_
