#include "mdm/diffusions/processes.h"

#include <ATen/ATen.h>

#include <cmath>

namespace mdm::diffusions {

QdMatrices VpsdeMatrices() {
  // host: a process is built on the host; Module::to moves it
  return {.Q = at::zeros({1, 1}, at::kDouble),
          // host: a process is built on the host; Module::to moves it
          .D = at::full({1, 1}, 0.5, at::kDouble)};
}

QdMatrices CldMatrices(double stationary_aux_var) {
  return MaldaMatrices(2, stationary_aux_var);
}

QdMatrices MaldaMatrices(int64_t num_vars, double stationary_aux_var) {
  TORCH_CHECK(num_vars >= 2, "MALDA needs at least 2 variables, got ",
              num_vars);
  // host: a process is built on the host; Module::to moves it
  const at::Tensor ones = at::ones({num_vars, num_vars}, at::kDouble);
  const at::Tensor Q = ones.tril(-1) - ones.triu(1);
  at::Tensor d =
      // host: a process is built on the host; Module::to moves it
      at::full({num_vars}, 2.0 * std::sqrt(stationary_aux_var), at::kDouble);
  d[0] = 0.0;
  return {.Q = Q, .D = at::diag(d)};
}

QdMatrices AldaMatrices(double stationary_aux_var, double gamma, double psi) {
  const double L = 1.0 / stationary_aux_var;
  // host: a process is built on the host; Module::to moves it
  const at::Tensor Q = at::tensor({0.0, -1.0 / L, 0.0,    //
                                   1.0 / L, 0.0, -gamma,  //
                                   0.0, gamma, 0.0},
                                  at::kDouble)
                           .view({3, 3});
  // host: a process is built on the host; Module::to moves it
  const at::Tensor D = at::diag(at::tensor({0.0, 0.0, psi / L}, at::kDouble));
  return {.Q = Q, .D = D};
}

}  // namespace mdm::diffusions
