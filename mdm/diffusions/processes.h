// The Q and D matrices of the named inference processes (docs/math.md
// section 3). Each is multiplied by beta(t) through the SDE; A = -(Q + D)
// S^{-1} follows from S, so a process is fully given by these two matrices.
#ifndef MDM_DIFFUSIONS_PROCESSES_H_
#define MDM_DIFFUSIONS_PROCESSES_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mdm::diffusions {

// Q [K, K] antisymmetric and D [K, K] symmetric PSD, float64 on the CPU.
struct QdMatrices {
  at::Tensor Q;
  at::Tensor D;
};

// VPSDE: K = 1, Q = 0, D = 1/2 (drift -beta x / 2, diffusion sqrt(beta)).
QdMatrices VpsdeMatrices();

// CLD: K = 2, Q = [[0, -1], [1, 0]], D = diag(0, Gamma), Gamma = 2
// sqrt(stationary_aux_var) (critical damping).
QdMatrices CldMatrices(double stationary_aux_var);

// MALDA: any K >= 2, Q with -1 above and +1 below the diagonal, D =
// diag(0, Gamma, ..., Gamma), Gamma = 2 sqrt(stationary_aux_var).
QdMatrices MaldaMatrices(int64_t num_vars, double stationary_aux_var);

// ALDA: K = 3, L = 1 / stationary_aux_var,
// Q = [[0, -1/L, 0], [1/L, 0, -gamma], [0, gamma, 0]], D = diag(0, 0, psi/L).
QdMatrices AldaMatrices(double stationary_aux_var, double gamma, double psi);

}  // namespace mdm::diffusions

#endif  // MDM_DIFFUSIONS_PROCESSES_H_
