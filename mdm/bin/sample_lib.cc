#include "mdm/bin/sample_lib.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <glog/logging.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mdm/eval/likelihood.h"
#include "mdm/eval/model_checkpoint.h"
#include "mdm/objectives/transforms.h"
#include "mdm/sampling/sample.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/image_grid.h"

namespace mdm::bin {
namespace {

// A 2-D histogram of points [n, 2] on [-4, 4]^2 as a [1, 1, 128, 128]
// image (darker = denser, linear up to the 99th percentile of the occupied
// bins), y pointing up.
at::Tensor Histogram2d(const at::Tensor& points) {
  constexpr int64_t kSize = 128;
  constexpr double kExtent = 4.0;
  const at::Tensor p = points.to(at::kCPU, at::kDouble);
  const at::Tensor col = ((p.select(1, 0) + kExtent) / (2 * kExtent) * kSize)
                             .floor()
                             .to(at::kLong);
  const at::Tensor row = ((kExtent - p.select(1, 1)) / (2 * kExtent) * kSize)
                             .floor()
                             .to(at::kLong);
  const at::Tensor inside =
      (col >= 0) & (col < kSize) & (row >= 0) & (row < kSize);
  at::Tensor counts = at::zeros({kSize * kSize}, at::kDouble);
  counts.index_add_(0, (row * kSize + col).masked_select(inside),
                    at::ones({inside.sum().item<int64_t>()}, at::kDouble));
  const at::Tensor occupied = counts.masked_select(counts > 0);
  const double top =
      occupied.numel() > 0 ? at::quantile(occupied, 0.99).item<double>() : 1;
  const at::Tensor density = (counts / std::max(top, 1.0)).clamp_max(1);
  return (1 - density).view({1, 1, kSize, kSize}).to(at::kFloat);
}

}  // namespace

absl::Status RunSampling(const SampleFlags& flags) {
  if (flags.n < 1) return absl::InvalidArgumentError("--n must be positive");
  if (flags.out.empty()) return absl::InvalidArgumentError("--out is required");
  if (flags.num_threads < 0) {
    return absl::InvalidArgumentError("--num_threads must be >= 0");
  }
  if (flags.num_threads > 0) at::set_num_threads(flags.num_threads);
  absl::StatusOr<sampling::SamplerKind> kind =
      sampling::ParseSamplerKind(flags.sampler);
  if (!kind.ok()) return kind.status();
  absl::StatusOr<eval::LoadedModel> model = eval::LoadModel(
      flags.checkpoint, {.device = flags.device, .config_path = flags.config});
  if (!model.ok()) return model.status();
  const proto::Experiment& experiment = model->experiment;
  const proto::DataConfig& data = experiment.data();

  sampling::SampleOptions options = sampling::SampleOptionsFor(experiment);
  options.kind = *kind;
  if (flags.steps > 0) options.steps = flags.steps;
  options.adaptive.rtol = flags.rtol;
  options.adaptive.atol = flags.atol;
  const int64_t K = model->diffusion->num_vars();
  std::vector<int64_t> example_shape =
      data.is_image() ? std::vector<int64_t>{data.in_channels(), data.height(),
                                             data.width()}
                      : std::vector<int64_t>{data.vector_dim()};
  LOG(INFO) << "sampling " << flags.n << " with " << flags.sampler << " from "
            << model->checkpoint_path << " (step " << model->step
            << (model->ema_weights ? ", EMA weights" : "") << ")";

  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(flags.seed);
  const sampling::ScoreFunction score = model->Score();
  const int64_t batch = flags.batch_size > 0 ? flags.batch_size : flags.n;
  std::vector<at::Tensor> chunks;
  int64_t evaluations = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t done = 0; done < flags.n; done += batch) {
    std::vector<int64_t> shape = {std::min(batch, flags.n - done), K};
    shape.insert(shape.end(), example_shape.begin(), example_shape.end());
    absl::StatusOr<sampling::SamplerResult> result = sampling::Sample(
        *model->diffusion, score, shape,
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
  at::Tensor picture;
  c10::Dict<std::string, at::Tensor> raw;
  if (data.is_image()) {
    const objectives::DataTransform transform(eval::TransformKindFor(data));
    // Back to [0, 1], then to the 8-bit values the data came as.
    const at::Tensor images = transform.Inverse(x).clamp(0, 1);
    picture = images;
    raw.insert("samples", (images * 255).round().to(at::kByte));
  } else {
    picture = data.vector_dim() == 2 ? Histogram2d(x) : at::Tensor();
    raw.insert("samples", x);
  }
  if (!picture.defined()) {
    return absl::InvalidArgumentError(
        "only images and 2-D data can be drawn; pass --raw to keep samples");
  }
  const int64_t columns =
      data.is_image() ? static_cast<int64_t>(
                            std::ceil(std::sqrt(static_cast<double>(flags.n))))
                      : 1;
  if (absl::Status s = util::WritePngGrid(picture, columns, flags.out);
      !s.ok()) {
    return s;
  }
  LOG(INFO) << "wrote " << flags.out;
  if (!flags.raw.empty()) {
    raw.insert("score_evaluations",
               at::full({1}, static_cast<double>(evaluations), at::kDouble));
    const std::vector<char> bytes = torch::jit::pickle_save(raw);
    if (absl::Status s = util::WriteFileAtomically(
            flags.raw, std::string(bytes.begin(), bytes.end()));
        !s.ok()) {
      return s;
    }
    LOG(INFO) << "wrote " << flags.raw;
  }
  return absl::OkStatus();
}

}  // namespace mdm::bin
