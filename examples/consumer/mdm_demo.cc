// MDM used from another Bazel workspace: reads an experiment config, builds
// its diffusion and score network with MDM's factories, prints transition
// kernels, trains both for a few hundred steps on the DSM ELBO (points on a
// ring) and draws samples with the configured sampler.
//
//   bazel run //:mdm_demo                 # this folder's learned_2d.textproto
//   bazel-bin/mdm_demo path/to/config.textproto
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/diffusions/factory.h"
#include "mdm/nets/factory.h"
#include "mdm/objectives/elbo.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/sampling/sample.h"

namespace {

using mdm::diffusions::Diffusion;
using mdm::diffusions::KernelType;

// n points on the unit circle, radial noise 0.05: [n, 2].
at::Tensor RingPoints(int64_t n, at::Generator& gen) {
  const at::Tensor angle = 2 * M_PI * at::rand({n}, gen);
  const at::Tensor radius = 1 + 0.05 * at::randn({n}, gen);
  return at::stack({radius * at::cos(angle), radius * at::sin(angle)}, 1);
}

void PrintMatrix(const char* name, const at::Tensor& m) {
  std::printf("  %s =", name);
  for (int64_t i = 0; i < m.size(0); ++i) {
    std::printf(i ? "; " : " [");
    for (int64_t j = 0; j < m.size(1); ++j) {
      std::printf(j ? ", %8.4f" : "%8.4f", m[i][j].item<double>());
    }
  }
  std::printf("]\n");
}

absl::StatusOr<double> MeanElbo(const Diffusion& diffusion,
                                const mdm::objectives::ScoreNetwork& network,
                                const at::Tensor& x, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  absl::StatusOr<mdm::objectives::ElboTerms> terms = mdm::objectives::DsmElbo(
      *diffusion, network, x, mdm::objectives::ElboOptions(), gen);
  if (!terms.ok()) return terms.status();
  return terms->elbo.mean().item<double>();
}

absl::Status Run(const std::string& config_path) {
  // Read, defaults, validation: as MDM's own binaries load configs.
  absl::StatusOr<mdm::proto::Experiment> experiment =
      mdm::proto::LoadExperiment(config_path);
  if (!experiment.ok()) return experiment.status();
  at::Generator gen = at::detail::createCPUGenerator(experiment->seed());

  absl::StatusOr<Diffusion> diffusion = mdm::diffusions::CreateDiffusion(
      experiment->diffusion(), experiment->seed());
  if (!diffusion.ok()) return diffusion.status();
  const int64_t num_vars = (*diffusion)->num_vars();
  std::printf("diffusion with K = %lld variables:\n",
              static_cast<long long>(num_vars));
  PrintMatrix("drift A", (*diffusion)->Sde().A());

  // The hybrid kernel q(u_t | x_0): Sigma(t) tends to the stationary
  // covariance (the identity here) as t grows, and M(t) to zero.
  const at::Tensor times = at::tensor({0.01, 0.5, 1.0}, at::kDouble);
  absl::StatusOr<mdm::sde::TransitionKernel> kernel =
      (*diffusion)->Kernel(times, KernelType::kHybrid);
  if (!kernel.ok()) return kernel.status();
  for (int64_t i = 0; i < times.size(0); ++i) {
    std::printf("t = %.2f:\n", times[i].item<double>());
    PrintMatrix("M    ", kernel->mean_coef[i]);
    PrintMatrix("Sigma", kernel->cov[i]);
  }

  absl::StatusOr<std::shared_ptr<mdm::nets::ScoreModel>> created =
      mdm::nets::CreateScoreModel(experiment->score_model(), experiment->data(),
                                  num_vars, experiment->seed());
  if (!created.ok()) return created.status();
  const std::shared_ptr<mdm::nets::ScoreModel> model = *created;
  const mdm::objectives::ScoreNetwork network = [model](const at::Tensor& u,
                                                        const at::Tensor& t) {
    return model->forward(u, t);
  };

  // Train the network and the learned Q and D together on the negative
  // DSM ELBO, the bound's own gradient.
  const at::Tensor test = RingPoints(2048, gen);
  absl::StatusOr<double> before = MeanElbo(*diffusion, network, test, gen);
  if (!before.ok()) return before.status();
  std::vector<at::Tensor> parameters = model->parameters();
  for (const at::Tensor& p : (*diffusion)->parameters())
    parameters.push_back(p);
  torch::optim::Adam adam(
      parameters, torch::optim::AdamOptions(experiment->optimizer().lr()));
  const int64_t steps = experiment->training().max_steps();
  for (int64_t step = 0; step < steps; ++step) {
    absl::StatusOr<mdm::objectives::ElboTerms> terms = mdm::objectives::DsmElbo(
        **diffusion, network,
        RingPoints(experiment->training().batch_size(), gen),
        mdm::objectives::ElboOptions(), gen);
    if (!terms.ok()) return terms.status();
    adam.zero_grad();
    (-terms->elbo.mean()).backward();
    adam.step();
  }
  absl::StatusOr<double> after = MeanElbo(*diffusion, network, test, gen);
  if (!after.ok()) return after.status();
  std::printf(
      "test ELBO per point: %.3f nats untrained, %.3f after %lld "
      "steps\n",
      *before, *after, static_cast<long long>(steps));
  PrintMatrix("learned Q", (*diffusion)->Q().detach());
  PrintMatrix("learned D", (*diffusion)->D().detach());

  // Samples of the trained model: their radii should be near 1.
  const mdm::sampling::SampleOptions options =
      mdm::sampling::SampleOptionsFor(*experiment);
  absl::StatusOr<mdm::sampling::SamplerResult> samples = mdm::sampling::Sample(
      **diffusion,
      mdm::sampling::NetworkScore(
          **diffusion, network, mdm::objectives::Parameterization::kNoisePred),
      {1000, num_vars, 2}, at::TensorOptions().dtype(at::kFloat), options, gen);
  if (!samples.ok()) return samples.status();
  const at::Tensor radius = samples->u.select(1, 0).norm(2, 1);
  std::printf(
      "%s sampler, %lld score evaluations: radius of 1000 samples "
      "%.3f +- %.3f (data: 1.000 +- 0.050)\n",
      mdm::sampling::SamplerName(options.kind).c_str(),
      static_cast<long long>(samples->score_evaluations),
      radius.mean().item<double>(), radius.std().item<double>());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CONFIG.textproto\n", argv[0]);
    return 2;
  }
  try {
    const absl::Status status = Run(argv[1]);
    if (!status.ok()) {
      std::fprintf(stderr, "mdm_demo: %s\n",
                   std::string(status.message()).c_str());
      return 1;
    }
  } catch (const std::exception& e) {  // LibTorch reports by exception.
    std::fprintf(stderr, "mdm_demo: %s\n", e.what());
    return 1;
  }
  return 0;
}
