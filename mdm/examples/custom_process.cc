// A new inference process in a few lines: give Q (antisymmetric) and D
// (symmetric PSD); the kernel, sampling, prior and ELBO terms follow with
// no process-specific derivation. This is CLD, the original project's
// README example, written in C++, next to a 3-variable chain that only
// injects noise into its last variable.
//
//   bazel run //mdm/examples:custom_process
#include <ATen/ATen.h>

#include <iostream>

#include "mdm/diffusions/diffusion.h"

using mdm::diffusions::Diffusion;
using mdm::diffusions::DiffusionOptions;
using mdm::diffusions::KernelType;

int main() {
  // CLD: Q = [[0, -1], [1, 0]], D = diag(0, Gamma), Gamma = 2 sqrt(aux var).
  // host: an example on the host
  Diffusion cld(at::tensor({0.0, -1.0, 1.0, 0.0}).view({2, 2}),
                // host: an example on the host
                at::diag(at::tensor({0.0, 2.0})),
                DiffusionOptions().stationary_aux_var(1.0).init_aux_var(0.01));

  // A chain x <-> v1 <-> v2 with noise on v2 only.
  // host: an example on the host
  Diffusion chain(at::tensor({0.0, -1.0, 0.0,  //
                              1.0, 0.0, -2.0,  //
                              0.0, 2.0, 0.0})
                      .view({3, 3}),
                  // host: an example on the host
                  at::diag(at::tensor({0.0, 0.0, 1.5})), DiffusionOptions());

  // host: an example on the host
  const at::Tensor t = at::tensor({0.01, 0.5, 1.0}, at::kDouble);
  for (const Diffusion& diffusion : {cld, chain}) {
    absl::StatusOr<mdm::sde::TransitionKernel> kernel =
        diffusion->Kernel(t, KernelType::kHybrid);
    if (!kernel.ok()) {
      std::cerr << kernel.status().message() << "\n";
      return 1;
    }
    std::cout << "K = " << diffusion->num_vars() << "\nA =\n"
              << diffusion->Sde().A() << "\nSigma_hybrid(t = 1) =\n"
              << kernel->cov[2] << "\n";
    // Perturb a batch of 3 images of 1x8x8 to those times' marginals.
    // host: an example on the host
    const at::Tensor x_0 = at::rand({3, 1, 8, 8});
    const at::Tensor u_0 = mdm::diffusions::DiffusionImpl::JoinState(
        x_0, diffusion->SampleV0(x_0));
    absl::StatusOr<mdm::diffusions::TransitionSample> sample =
        diffusion->SampleTransition(u_0, t, KernelType::kHybrid);
    if (!sample.ok()) return 1;
    std::cout << "u_t shape " << sample->u_t.sizes() << ", prior log-density "
              << diffusion->PriorLogProb(sample->u_t) << "\n";
  }
  return 0;
}
