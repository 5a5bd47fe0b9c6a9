#include "mdm/eval/fid.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/crc32c.h"
#include "mdm/util/device.h"
#include "mdm/util/state_dict.h"

namespace mdm::eval {
namespace {

// Paper FID (Heusel et al. 2017 and every table since) uses 50000 samples.
constexpr int64_t kPaperSampleCount = 50000;

// Version of the statistics file; bump when its keys change.
constexpr int64_t kStatisticsVersion = 1;

// The line of an exception message that says what went wrong. TorchScript
// errors carry a multi-line interpreter traceback ending in
// "RuntimeError: <message>"; c10 errors may carry a C++ backtrace.
std::string OneLine(absl::string_view message) {
  constexpr absl::string_view kMarker = "RuntimeError: ";
  if (const size_t at = message.rfind(kMarker); at != message.npos) {
    message.remove_prefix(at + kMarker.size());
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(message, '\n', absl::SkipWhitespace());
  if (lines.empty()) return "unknown error";
  return std::string(absl::StripAsciiWhitespace(lines.front()));
}

std::string ExceptionLine(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return OneLine(c10_error->what_without_backtrace());
  }
  return OneLine(e.what());
}

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", what, " ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read ", what, " ", path));
  }
  return std::move(contents).str();
}

at::Tensor BytesTensor(const std::string& text) {
  // host: statistics files are read and written on the host
  at::Tensor bytes = at::empty({static_cast<int64_t>(text.size())}, at::kByte);
  std::copy(text.begin(), text.end(), bytes.data_ptr<uint8_t>());
  return bytes;
}

std::string TensorBytes(const at::Tensor& bytes) {
  TORCH_CHECK(bytes.scalar_type() == at::kByte && bytes.dim() == 1,
              "expected a 1-D uint8 tensor");
  const at::Tensor contiguous = bytes.contiguous();
  const auto* data = contiguous.data_ptr<uint8_t>();
  return std::string(data, data + contiguous.numel());
}

// Checks that `stats` describes a D-dimensional Gaussian; returns D.
absl::StatusOr<int64_t> CheckStatistics(const FeatureStatistics& stats,
                                        absl::string_view name) {
  if (!stats.mean.defined() || !stats.covariance.defined() ||
      stats.mean.dim() != 1 || stats.covariance.dim() != 2 ||
      stats.covariance.size(0) != stats.mean.size(0) ||
      stats.covariance.size(1) != stats.mean.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FID: statistics ", name,
        " need a mean [D] and a covariance [D, D]; got ",
        stats.mean.defined() ? c10::str(stats.mean.sizes()) : "none", " and ",
        stats.covariance.defined() ? c10::str(stats.covariance.sizes())
                                   : "none"));
  }
  if (!at::isfinite(stats.mean).all().item<bool>() ||
      !at::isfinite(stats.covariance).all().item<bool>()) {
    return absl::InvalidArgumentError(
        absl::StrCat("FID: statistics ", name, " are not finite"));
  }
  return stats.mean.size(0);
}

// The principal square root of a symmetric positive semi-definite matrix.
at::Tensor SqrtPsd(const at::Tensor& s) {
  auto [eigenvalues, eigenvectors] = at::linalg_eigh(s);
  return at::matmul(eigenvectors * eigenvalues.clamp_min(0).sqrt(),
                    eigenvectors.transpose(0, 1));
}

}  // namespace

absl::Status FeatureAccumulator::Add(const at::Tensor& features) {
  if (!features.defined() || features.dim() != 2 ||
      !at::isFloatingType(features.scalar_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FID: features must be a floating tensor [N, D]; got ",
        features.defined() ? absl::StrCat(c10::str(features.sizes()), " ",
                                          c10::toString(features.scalar_type()))
                           : "none"));
  }
  if (mean_.defined() && features.size(1) != mean_.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("FID: features changed dimension from ", mean_.size(0),
                     " to ", features.size(1)));
  }
  if (features.size(0) == 0) return absl::OkStatus();
  at::NoGradGuard no_grad;
  const at::Tensor x = features.to(
      mean_.defined() ? mean_.device() : features.device(), at::kDouble);
  if (!at::isfinite(x).all().item<bool>()) {
    return absl::InvalidArgumentError("FID: features are not finite");
  }
  // Chan et al.: combine (count_, mean_, m2_) with the batch's own
  // (n, batch_mean, batch_m2).
  const int64_t n = x.size(0);
  const at::Tensor batch_mean = x.mean(0);
  const at::Tensor centered = x - batch_mean;
  const at::Tensor batch_m2 = at::matmul(centered.transpose(0, 1), centered);
  if (count_ == 0) {
    mean_ = batch_mean;
    m2_ = batch_m2;
  } else {
    const double total = static_cast<double>(count_ + n);
    const at::Tensor delta = batch_mean - mean_;
    mean_ = mean_ + delta * (n / total);
    m2_ = m2_ + batch_m2 +
          at::outer(delta, delta) * (static_cast<double>(count_) * n / total);
  }
  count_ += n;
  return absl::OkStatus();
}

absl::StatusOr<FeatureStatistics> FeatureAccumulator::Statistics() const {
  if (count_ < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "FID: a covariance needs at least 2 feature vectors; got ", count_));
  }
  FeatureStatistics stats;
  stats.mean = mean_.cpu().clone();
  // Symmetrize away the rounding of the rank-1 updates.
  const at::Tensor m2 = m2_.cpu();
  stats.covariance = (m2 + m2.transpose(0, 1)) / (2.0 * (count_ - 1));
  stats.count = count_;
  return stats;
}

absl::StatusOr<double> FrechetDistance(const FeatureStatistics& a,
                                       const FeatureStatistics& b) {
  if (a.model_fingerprint != b.model_fingerprint) {
    return absl::InvalidArgumentError(
        absl::StrCat("FID: statistics made with different feature networks (",
                     a.model_fingerprint, " for '", a.source, "' vs ",
                     b.model_fingerprint, " for '", b.source, "')"));
  }
  absl::StatusOr<int64_t> dim_a = CheckStatistics(a, "a");
  if (!dim_a.ok()) return dim_a.status();
  absl::StatusOr<int64_t> dim_b = CheckStatistics(b, "b");
  if (!dim_b.ok()) return dim_b.status();
  if (*dim_a != *dim_b) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FID: feature dimensions differ: ", *dim_a, " vs ", *dim_b));
  }
  at::NoGradGuard no_grad;
  const auto f64 = [](const at::Tensor& t) {
    return t.to(at::kCPU, at::kDouble);
  };
  const at::Tensor s_a = f64(a.covariance);
  const at::Tensor s_b = f64(b.covariance);
  const double mean_term =
      (f64(a.mean) - f64(b.mean)).square().sum().item<double>();
  // tr((S_a^1/2 S_b S_a^1/2)^1/2) is the sum of the square roots of the
  // eigenvalues of the symmetric PSD matrix S_a^1/2 S_b S_a^1/2.
  const at::Tensor sqrt_a = SqrtPsd(s_a);
  at::Tensor middle = at::matmul(at::matmul(sqrt_a, s_b), sqrt_a);
  middle = (middle + middle.transpose(0, 1)) / 2.0;
  const double cross_term =
      at::linalg_eigvalsh(middle).clamp_min(0).sqrt().sum().item<double>();
  const double distance = mean_term + s_a.trace().item<double>() +
                          s_b.trace().item<double>() - 2.0 * cross_term;
  // The distance is >= 0; rounding can leave -1e-15 for equal statistics.
  return std::max(distance, 0.0);
}

FeatureNetwork::FeatureNetwork(torch::jit::Module module, std::string path,
                               c10::Device device, std::string fingerprint)
    : module_(std::move(module)),
      path_(std::move(path)),
      device_(device),
      fingerprint_(std::move(fingerprint)) {}

absl::StatusOr<FeatureNetwork> FeatureNetwork::Load(const std::string& path,
                                                    const std::string& device) {
  absl::StatusOr<std::string> bytes = ReadFile(path, "FID feature network");
  if (!bytes.ok()) return bytes.status();
  const std::string fingerprint =
      absl::StrFormat("crc32c:%08x/%d", util::Crc32c(*bytes), bytes->size());
  absl::StatusOr<c10::Device> parsed = util::ParseDevice(device);
  if (!parsed.ok()) return parsed.status();
  try {
    const c10::Device target = *parsed;
    // Loading from the path (not the bytes) gives clearer errors for files
    // that are no TorchScript archive.
    torch::jit::Module module = torch::jit::load(path, target);
    module.eval();
    return FeatureNetwork(std::move(module), path, target, fingerprint);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load FID feature network ", path, " on '", device,
                     "' as TorchScript: ", ExceptionLine(e)));
  }
}

absl::StatusOr<at::Tensor> FeatureNetwork::Features(
    const at::Tensor& images) const {
  if (!images.defined() || images.dim() != 4 ||
      !at::isFloatingType(images.scalar_type())) {
    return absl::InvalidArgumentError(
        absl::StrCat("FID feature network ", path_,
                     ": images must be a floating tensor [N, C, H, W]; got ",
                     images.defined() ? c10::str(images.sizes()) : "none"));
  }
  try {
    at::NoGradGuard no_grad;
    const c10::IValue output =
        module_.forward({images.to(device_, at::kFloat)});
    if (!output.isTensor()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "FID feature network ", path_,
          " must return one tensor; it returned a ", output.tagKind()));
    }
    const at::Tensor features = output.toTensor();
    if (features.dim() < 1 || features.size(0) != images.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "FID feature network ", path_, " returned ",
          c10::str(features.sizes()), " for ", images.size(0), " images"));
    }
    return features.reshape({images.size(0), -1});
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("FID feature network ", path_, " failed on images ",
                     c10::str(images.sizes()), ": ", ExceptionLine(e)));
  }
}

absl::StatusOr<FeatureStatistics> ComputeStatistics(
    const FeatureNetwork& net, const std::string& source,
    const ImageBatches& next_batch) {
  FeatureAccumulator accumulator;
  while (true) {
    absl::StatusOr<std::optional<at::Tensor>> batch = next_batch();
    if (!batch.ok()) return batch.status();
    if (!batch->has_value()) break;
    absl::StatusOr<at::Tensor> features = net.Features(**batch);
    if (!features.ok()) return features.status();
    if (absl::Status added = accumulator.Add(*features); !added.ok()) {
      return added;
    }
  }
  absl::StatusOr<FeatureStatistics> stats = accumulator.Statistics();
  if (!stats.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "FID statistics of '", source, "': ", stats.status().message()));
  }
  stats->model_fingerprint = net.fingerprint();
  stats->source = source;
  return stats;
}

absl::Status SaveStatistics(const FeatureStatistics& stats,
                            const std::string& path) {
  absl::StatusOr<int64_t> dim = CheckStatistics(stats, path);
  if (!dim.ok()) return dim.status();
  return util::WriteTensorDict(
      path,
      {// host: statistics files are read and written on the host
       {"version", at::scalar_tensor(kStatisticsVersion, at::kLong)},
       {"mean", stats.mean.to(at::kCPU, at::kDouble).contiguous()},
       {"covariance", stats.covariance.to(at::kCPU, at::kDouble).contiguous()},
       // host: statistics files are read and written on the host
       {"count", at::scalar_tensor(stats.count, at::kLong)},
       {"model_fingerprint", BytesTensor(stats.model_fingerprint)},
       {"source", BytesTensor(stats.source)}});
}

absl::StatusOr<FeatureStatistics> LoadStatistics(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path, "FID statistics");
  if (!bytes.ok()) return bytes.status();
  FeatureStatistics stats;
  try {
    const c10::IValue value = torch::jit::pickle_load(
        std::vector<char>(bytes->begin(), bytes->end()));
    const c10::Dict<c10::IValue, c10::IValue> dict = value.toGenericDict();
    const auto get = [&dict](const std::string& key) {
      const auto it = dict.find(key);
      TORCH_CHECK(it != dict.end(), "no '", key, "' entry");
      return it->value().toTensor();
    };
    const int64_t version = get("version").item<int64_t>();
    TORCH_CHECK(version == kStatisticsVersion, "version ", version,
                ", expected ", kStatisticsVersion);
    stats.mean = get("mean").to(at::kDouble);
    stats.covariance = get("covariance").to(at::kDouble);
    stats.count = get("count").item<int64_t>();
    stats.model_fingerprint = TensorBytes(get("model_fingerprint"));
    stats.source = TensorBytes(get("source"));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(
        "FID statistics file ", path,
        " is corrupt (delete it to recompute): ", ExceptionLine(e)));
  }
  if (absl::StatusOr<int64_t> dim = CheckStatistics(stats, path); !dim.ok()) {
    return absl::DataLossError(absl::StrCat(
        "FID statistics file ", path,
        " is corrupt (delete it to recompute): ", dim.status().message()));
  }
  return stats;
}

absl::StatusOr<FeatureStatistics> ReferenceStatistics(
    const std::string& cache_path, const FeatureNetwork& net,
    const std::string& source, const ImageBatches& next_batch) {
  std::error_code error;
  if (std::filesystem::exists(cache_path, error)) {
    absl::StatusOr<FeatureStatistics> cached = LoadStatistics(cache_path);
    if (!cached.ok()) return cached.status();
    if (cached->model_fingerprint != net.fingerprint()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "FID statistics ", cache_path, " were made with feature network ",
          cached->model_fingerprint, ", not ", net.fingerprint(), " (",
          net.path(), "); delete the file or pass another --fid_stats"));
    }
    if (cached->source != source) {
      return absl::FailedPreconditionError(
          absl::StrCat("FID statistics ", cache_path, " are of '",
                       cached->source, "', not '", source,
                       "'; delete the file or pass another --fid_stats"));
    }
    return cached;
  }
  absl::StatusOr<FeatureStatistics> stats =
      ComputeStatistics(net, source, next_batch);
  if (!stats.ok()) return stats.status();
  if (absl::Status saved = SaveStatistics(*stats, cache_path); !saved.ok()) {
    return saved;
  }
  return stats;
}

absl::StatusOr<FidResult> Fid(const FeatureStatistics& generated,
                              const FeatureStatistics& reference) {
  absl::StatusOr<double> distance = FrechetDistance(generated, reference);
  if (!distance.ok()) return distance.status();
  return FidResult{.fid = *distance,
                   .generated_samples = generated.count,
                   .reference_samples = reference.count};
}

std::string FormatFid(const FidResult& result) {
  std::string line =
      absl::StrFormat("FID %.2f (n=%d generated vs %d reference", result.fid,
                      result.generated_samples, result.reference_samples);
  if (result.generated_samples < kPaperSampleCount) {
    absl::StrAppend(&line,
                    "; small-n FID is biased upward and not comparable to "
                    "paper FID at n=",
                    kPaperSampleCount);
  }
  absl::StrAppend(&line, ")");
  return line;
}

}  // namespace mdm::eval
