// Fréchet Inception Distance (Heusel et al. 2017) with a user-supplied
// feature network: feature statistics (mean, covariance, count) of image
// sets, the Fréchet distance between two such Gaussians (Dowson and Landau
// 1982), and a cache of the reference statistics of a data set.
//
// No Inception weights ship with MDM: the feature network is any TorchScript
// file, and its fingerprint (CRC32C and size of the file) travels with every
// statistics object so that values from different networks never mix.
#ifndef MDM_EVAL_FID_H_
#define MDM_EVAL_FID_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/csrc/jit/api/module.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mdm::eval {

// The Gaussian fitted to the features of `count` images.
struct FeatureStatistics {
  at::Tensor mean;        // [D], float64, CPU.
  at::Tensor covariance;  // [D, D], float64, CPU, unbiased (divides by n-1).
  int64_t count = 0;
  std::string model_fingerprint;  // FeatureNetwork::fingerprint().
  std::string source;             // What was measured: "fashion_mnist/train".
};

// Streams batches of features into their mean and covariance, in float64
// with Chan et al.'s (1979) pairwise update, so that a large mean does not
// cancel digits of the covariance as sum-of-squares formulas would.
//
// Example:
//   FeatureAccumulator acc;
//   for (const at::Tensor& f : feature_batches) {
//     if (absl::Status s = acc.Add(f); !s.ok()) return s;
//   }
//   absl::StatusOr<FeatureStatistics> stats = acc.Statistics();
class FeatureAccumulator {
 public:
  // features: [N, D], any floating dtype and device; N may be 0. Errors if
  // the shape is not 2-D, D changes between calls, or a value is not finite.
  absl::Status Add(const at::Tensor& features);

  int64_t count() const { return count_; }

  // The statistics so far (fingerprint and source left empty, for the
  // caller to fill). Needs count() >= 2.
  absl::StatusOr<FeatureStatistics> Statistics() const;

 private:
  int64_t count_ = 0;
  at::Tensor mean_;  // [D], float64, on the device of the first batch.
  at::Tensor m2_;    // [D, D]: sum of outer products of deviations.
};

// The Fréchet distance between N(mu_a, S_a) and N(mu_b, S_b),
//   |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^1/2 S_b S_a^1/2)^1/2),
// in float64 with symmetric eigendecompositions (tiny negative eigenvalues
// from rounding are clamped at 0). Errors if the dimensions differ or the
// statistics were made with different feature networks (fingerprints).
absl::StatusOr<double> FrechetDistance(const FeatureStatistics& a,
                                       const FeatureStatistics& b);

// A TorchScript feature network, e.g. an Inception-v3 pool3 exporter the
// user traced themselves. Copies share the module.
class FeatureNetwork {
 public:
  // Loads `path` onto `device` ("cpu", "cuda:0") in eval mode.
  static absl::StatusOr<FeatureNetwork> Load(const std::string& path,
                                             const std::string& device);

  // images: [N, C, H, W], float in [0, 1]. The module receives exactly this
  // (as float32 on its device) and is responsible for any resizing and
  // normalisation its weights expect. Runs under no-grad and returns its
  // output flattened to [N, D]; a module error (e.g. a wrong channel count)
  // becomes one status line naming the model path.
  absl::StatusOr<at::Tensor> Features(const at::Tensor& images) const;

  // "crc32c:<8 hex digits>/<bytes>" of the TorchScript file.
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& path() const { return path_; }

 private:
  FeatureNetwork(torch::jit::Module module, std::string path,
                 c10::Device device, std::string fingerprint);

  // Module methods are non-const, but calling forward does not change what
  // the network computes.
  mutable torch::jit::Module module_;
  std::string path_;
  c10::Device device_;
  std::string fingerprint_;
};

// Batches of images [N, C, H, W] in [0, 1]; std::nullopt after the last.
using ImageBatches = std::function<absl::StatusOr<std::optional<at::Tensor>>()>;

// The feature statistics of all batches of `next_batch`, labelled with the
// network's fingerprint and `source`.
absl::StatusOr<FeatureStatistics> ComputeStatistics(
    const FeatureNetwork& net, const std::string& source,
    const ImageBatches& next_batch);

// Writes `stats` atomically as a TorchScript pickle (torch.load in Python
// reads it as a dict of tensors: "mean", "covariance", "count", and
// "model_fingerprint" and "source" as uint8 tensors of UTF-8 bytes).
absl::Status SaveStatistics(const FeatureStatistics& stats,
                            const std::string& path);

// Reads what SaveStatistics wrote; one error for a missing or corrupt file.
absl::StatusOr<FeatureStatistics> LoadStatistics(const std::string& path);

// The reference statistics of a data set, computed once: loads `cache_path`
// if it exists (an error if it was made by another network or from another
// source), otherwise computes them from `next_batch` and saves them there.
absl::StatusOr<FeatureStatistics> ReferenceStatistics(
    const std::string& cache_path, const FeatureNetwork& net,
    const std::string& source, const ImageBatches& next_batch);

// An FID value with the sample counts it was measured from: FID is biased
// upward at small n, so a value is meaningless without them.
struct FidResult {
  double fid = 0.0;
  int64_t generated_samples = 0;
  int64_t reference_samples = 0;
};

// The FID of generated against reference statistics.
absl::StatusOr<FidResult> Fid(const FeatureStatistics& generated,
                              const FeatureStatistics& reference);

// One line, e.g. "FID 12.34 (n=1000 generated vs 60000 reference; small-n
// FID is biased upward and not comparable to paper FID at n=50000)".
std::string FormatFid(const FidResult& result);

}  // namespace mdm::eval

#endif  // MDM_EVAL_FID_H_
