#include "mdm/diffusions/learned_qd.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace mdm::diffusions {

LearnedQdImpl::LearnedQdImpl(const LearnedQdOptions& options)
    : options_(options) {
  const int64_t K = options.num_vars();
  TORCH_CHECK(K >= 1, "a learned diffusion needs at least 1 variable, got ", K);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.seed());
  const double bound = 1.0 / std::sqrt(static_cast<double>(K));
  auto uniform = [&](at::IntArrayRef shape) {
    // host: initialised on the host, as the original; Module::to moves it
    return at::empty(shape, at::kDouble)
        .uniform_(-bound, bound, gen)
        .to(options.dtype());
  };
  W_ = register_parameter("W", uniform({K, K}));
  if (!options.d_full()) {
    d_ = register_parameter("d", uniform({K}));
  } else if (options.d_full_cholesky()) {
    L_raw_ = register_parameter("L", uniform({K, K}));
  } else {
    d_ = register_parameter("d", uniform({K, K}));
  }
}

at::Tensor LearnedQdImpl::Q() const { return W_ - W_.t(); }

at::Tensor LearnedQdImpl::D() const {
  const int64_t K = options_.num_vars();
  if (!options_.d_full()) {
    return at::diag(at::softplus(d_) + options_.d_floor());
  }
  if (options_.d_full_cholesky()) {
    const at::Tensor L = L_raw_.tril();
    return at::matmul(L, L.t()) +
           options_.d_floor() * at::eye(K, L_raw_.options());
  }
  return at::softplus(at::matmul(d_, d_.t())) + options_.d_floor();
}

}  // namespace mdm::diffusions
