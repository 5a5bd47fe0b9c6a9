#include "mdm/bin/sample_lib.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mdm/bin/ode_flags.h"
#include "mdm/model/saved_run.h"
#include "mdm/sampling/ode_solvers.h"
#include "mdm/sampling/picture.h"
#include "mdm/sampling/sample.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/command_line.h"
#include "mdm/util/image_grid.h"
#include "mdm/util/logging.h"
#include "mdm/util/runtime_info.h"
#include "mdm/util/state_dict.h"

namespace mdm::bin {
absl::Status RunSampling(const SampleFlags& flags) {
  if (absl::Status s = util::RequireFlag(
          "checkpoint", flags.checkpoint,
          "the run directory or checkpoint file to sample from");
      !s.ok()) {
    return s;
  }
  if (flags.n < 1) return absl::InvalidArgumentError("--n must be positive");
  if (flags.steps < 0 || flags.batch_size < 0) {
    return absl::InvalidArgumentError(
        "--steps and --batch_size must be >= 0 (0: the config's n_fes, all "
        "at once)");
  }
  absl::StatusOr<sampling::AdaptiveOptions> adaptive =
      OdeFlags(flags.rtol, flags.atol, flags.ode_max_steps);
  if (!adaptive.ok()) return adaptive.status();
  if (flags.out.empty()) return absl::InvalidArgumentError("--out is required");
  if (flags.num_threads < 0) {
    return absl::InvalidArgumentError("--num_threads must be >= 0");
  }
  util::SetComputeThreads(flags.num_threads);
  absl::StatusOr<sampling::SamplerKind> kind =
      sampling::ParseSamplerKind(flags.sampler);
  if (!kind.ok()) return kind.status();
  absl::StatusOr<model::SavedRun> model = model::OpenRun(
      flags.checkpoint, {.device = flags.device, .config_path = flags.config});
  if (!model.ok()) return model.status();
  const proto::Experiment& experiment = model->experiment;
  const proto::DataConfig& data = experiment.data();

  sampling::SampleOptions options = sampling::SampleOptionsFor(experiment);
  options.kind = *kind;
  if (flags.steps > 0) options.steps = flags.steps;
  options.adaptive = *adaptive;
  const int64_t K = model->model.diffusion().num_vars();
  std::vector<int64_t> example_shape =
      data.is_image() ? std::vector<int64_t>{data.in_channels(), data.height(),
                                             data.width()}
                      : std::vector<int64_t>{data.vector_dim()};
  LOG(INFO) << "sampling " << flags.n << " with " << flags.sampler << " from "
            << model->checkpoint_path << " (step " << model->step
            << (model->ema_weights ? ", EMA weights" : "") << ")";

  // --seed drives every draw: a CPU generator, or on an accelerator its
  // default generator (the samplers draw where the generator lives).
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(flags.seed);
  if (!model->model.device().is_cpu()) {
    gen = at::globalContext().defaultGenerator(model->model.device());
    const std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(flags.seed);
  }
  const sampling::ScoreFunction score = model->model.Score();
  const int64_t batch = flags.batch_size > 0 ? flags.batch_size : flags.n;
  std::vector<at::Tensor> chunks;
  int64_t evaluations = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t done = 0; done < flags.n; done += batch) {
    std::vector<int64_t> shape = {std::min(batch, flags.n - done), K};
    shape.insert(shape.end(), example_shape.begin(), example_shape.end());
    absl::StatusOr<sampling::SamplerResult> result = sampling::Sample(
        model->model.diffusion(), score, shape,
        at::TensorOptions(at::Device(flags.device)).dtype(at::kFloat), options,
        gen);
    if (!result.ok()) return result.status();
    chunks.push_back(result->u.select(1, 0).cpu());
    evaluations += result->score_evaluations;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    LOG(INFO) << "samples " << std::min(done + batch, flags.n) << "/" << flags.n
              << ", " << result->score_evaluations
              << " score evaluations per sample, " << seconds << " s";
  }
  const at::Tensor x = at::cat(chunks);
  // As the data came: 8-bit images, or the vectors themselves.
  util::TensorDict raw = {
      {"samples", data.is_image() ? (sampling::SamplesToImages(x, data) * 255)
                                        .round()
                                        .to(at::kByte)
                                  : x}};
  absl::StatusOr<util::EncodedImage> picture = sampling::DrawSamples(x, data);
  if (!picture.ok() && flags.raw.empty()) return picture.status();
  if (picture.ok()) {
    if (absl::Status s = util::WriteFileAtomically(flags.out, picture->png);
        !s.ok()) {
      return s;
    }
    const std::string legend = sampling::PictureLegend(data);
    LOG(INFO) << "wrote " << flags.out << " (" << picture->width << " x "
              << picture->height << " pixels"
              << (legend.empty() ? "" : ", " + legend) << ")";
  }
  if (!flags.raw.empty()) {
    raw.emplace("score_evaluations",
                // host: an entry of the raw output file
                at::full({1}, static_cast<double>(evaluations), at::kDouble));
    if (absl::Status s = util::WriteTensorDict(flags.raw, raw); !s.ok()) {
      return s;
    }
    LOG(INFO) << "wrote " << flags.raw;
  }
  return absl::OkStatus();
}

}  // namespace mdm::bin
