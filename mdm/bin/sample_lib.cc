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
namespace {

// What the flags choose, checked before any work.
struct SamplerChoice {
  sampling::SamplerKind kind;
  sampling::AdaptiveOptions adaptive;
};

absl::StatusOr<SamplerChoice> CheckFlags(const SampleFlags& flags) {
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
  absl::StatusOr<sampling::SamplerKind> kind =
      sampling::ParseSamplerKind(flags.sampler);
  if (!kind.ok()) return kind.status();
  return SamplerChoice{*kind, *adaptive};
}

// The --n samples' data variable (on the host), drawn in batches of
// --batch_size, and the score evaluations per sample they took.
struct Drawn {
  at::Tensor x;
  int64_t score_evaluations = 0;
};

absl::StatusOr<Drawn> DrawAll(const SampleFlags& flags,
                              const SamplerChoice& choice,
                              const model::SavedRun& run) {
  const proto::DataConfig& data = run.experiment.data();
  sampling::SampleOptions options = sampling::SampleOptionsFor(run.experiment);
  options.kind = choice.kind;
  if (flags.steps > 0) options.steps = flags.steps;
  options.adaptive = choice.adaptive;
  const int64_t K = run.model.diffusion().num_vars();
  std::vector<int64_t> example_shape =
      data.is_image() ? std::vector<int64_t>{data.in_channels(), data.height(),
                                             data.width()}
                      : std::vector<int64_t>{data.vector_dim()};
  // --seed drives every draw: a CPU generator, or on an accelerator its
  // default generator (the samplers draw where the generator lives).
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(flags.seed);
  if (!run.model.device().is_cpu()) {
    gen = at::globalContext().defaultGenerator(run.model.device());
    const std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(flags.seed);
  }
  const sampling::ScoreFunction score = run.model.Score();
  const int64_t batch = flags.batch_size > 0 ? flags.batch_size : flags.n;
  std::vector<at::Tensor> chunks;
  Drawn drawn;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t done = 0; done < flags.n; done += batch) {
    std::vector<int64_t> shape = {std::min(batch, flags.n - done), K};
    shape.insert(shape.end(), example_shape.begin(), example_shape.end());
    absl::StatusOr<sampling::SamplerResult> result = sampling::Sample(
        run.model.diffusion(), score, shape,
        at::TensorOptions(at::Device(flags.device)).dtype(at::kFloat), options,
        gen);
    if (!result.ok()) return result.status();
    chunks.push_back(result->u.select(1, 0).cpu());
    drawn.score_evaluations += result->score_evaluations;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    LOG(INFO) << "samples " << std::min(done + batch, flags.n) << "/" << flags.n
              << ", " << result->score_evaluations
              << " score evaluations per sample, " << seconds << " s";
  }
  drawn.x = at::cat(chunks);
  return drawn;
}

// The picture at --out and, with --raw, the samples as the data came
// (8-bit images, or the vectors themselves) with their evaluation count.
absl::Status WriteOutputs(const SampleFlags& flags,
                          const proto::DataConfig& data, const Drawn& drawn) {
  const at::Tensor& x = drawn.x;
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
                at::full({1}, static_cast<double>(drawn.score_evaluations),
                         at::kDouble));
    if (absl::Status s = util::WriteTensorDict(flags.raw, raw); !s.ok()) {
      return s;
    }
    LOG(INFO) << "wrote " << flags.raw;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunSampling(const SampleFlags& flags) {
  absl::StatusOr<SamplerChoice> choice = CheckFlags(flags);
  if (!choice.ok()) return choice.status();
  util::SetComputeThreads(flags.num_threads);
  absl::StatusOr<model::SavedRun> run = model::OpenRun(
      flags.checkpoint, {.device = flags.device, .config_path = flags.config});
  if (!run.ok()) return run.status();
  LOG(INFO) << "sampling " << flags.n << " with " << flags.sampler << " from "
            << run->checkpoint_path << " (step " << run->step
            << (run->ema_weights ? ", EMA weights" : "") << ")";
  absl::StatusOr<Drawn> drawn = DrawAll(flags, *choice, *run);
  if (!drawn.ok()) return drawn.status();
  return WriteOutputs(flags, run->experiment.data(), *drawn);
}

}  // namespace mdm::bin
