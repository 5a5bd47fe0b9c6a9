#include "mdm/eval/fid.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/api/module.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "mdm/util/logging.h"

namespace mdm::eval {
namespace {

constexpr double kPi = 3.14159265358979323846;

at::Generator Gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(root != nullptr ? root : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

FeatureStatistics Gaussian(const at::Tensor& mean, const at::Tensor& cov) {
  FeatureStatistics stats;
  stats.mean = mean.to(at::kDouble);
  stats.covariance = cov.to(at::kDouble);
  stats.count = 1000;
  return stats;
}

at::Tensor Rotation(double angle) {
  return at::tensor({std::cos(angle), -std::sin(angle), std::sin(angle),
                     std::cos(angle)},
                    at::kDouble)
      .reshape({2, 2});
}

// A random orthogonal matrix: the Q of a QR decomposition.
at::Tensor RandomOrthogonal(int64_t d, at::Generator gen) {
  return std::get<0>(
      at::linalg_qr(at::randn({d, d}, gen, at::TensorOptions(at::kDouble))));
}

// --- Closed forms -----------------------------------------------------------

// Commuting covariances: FD = |dmu|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
TEST(FrechetDistanceTest, DiagonalCovariances) {
  const at::Tensor mu_a = at::tensor({0.0, 1.0, -2.0}, at::kDouble);
  const at::Tensor mu_b = at::tensor({0.5, 1.0, 1.0}, at::kDouble);
  const std::vector<double> a = {4.0, 1.0, 0.25};
  const std::vector<double> b = {1.0, 9.0, 0.25};
  double expected = 0.25 + 9.0;
  for (size_t i = 0; i < a.size(); ++i) {
    expected += std::pow(std::sqrt(a[i]) - std::sqrt(b[i]), 2);
  }
  absl::StatusOr<double> fd =
      FrechetDistance(Gaussian(mu_a, at::diag(at::tensor(a, at::kDouble))),
                      Gaussian(mu_b, at::diag(at::tensor(b, at::kDouble))));
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_NEAR(*fd, expected, 1e-12);  // 9.25 + 1 + 4 + 0 = 14.25.
  EXPECT_NEAR(expected, 14.25, 1e-12);
}

// Same eigenvectors Q, non-diagonal matrices: FD = sum (sqrt a - sqrt b)^2.
TEST(FrechetDistanceTest, CommutingNonDiagonalCovariances) {
  const at::Tensor q = RandomOrthogonal(6, Gen(1));
  const at::Tensor a = at::tensor({5.0, 2.0, 1.0, 0.5, 0.1, 0.0}, at::kDouble);
  const at::Tensor b = at::tensor({1.0, 3.0, 1.0, 2.0, 0.0, 0.3}, at::kDouble);
  const at::Tensor s_a = at::matmul(q * a, q.t());
  const at::Tensor s_b = at::matmul(q * b, q.t());
  const at::Tensor zero = at::zeros({6}, at::kDouble);
  const double expected = (a.sqrt() - b.sqrt()).square().sum().item<double>();
  absl::StatusOr<double> fd =
      FrechetDistance(Gaussian(zero, s_a), Gaussian(zero, s_b));
  ASSERT_TRUE(fd.ok()) << fd.status();
  // Zero eigenvalues have a square root with error ~sqrt(eps * |S|).
  EXPECT_NEAR(*fd, expected, 1e-6);
}

// In 2-D, tr(M^1/2) = sqrt(tr M + 2 sqrt(det M)) for PSD M, and
// M = S_a^1/2 S_b S_a^1/2 has tr M = tr(S_a S_b), det M = det S_a det S_b.
// With S_a = diag(4, 1) and S_b = S_a rotated by theta:
//   FD = 10 - 2 sqrt(17 cos^2 + 8 sin^2 + 8);
// 0 at theta = 0, 2 at 90 degrees (S_b = diag(1, 4)).
TEST(FrechetDistanceTest, RotatedCovarianceIn2D) {
  const at::Tensor s_a = at::diag(at::tensor({4.0, 1.0}, at::kDouble));
  const at::Tensor zero = at::zeros({2}, at::kDouble);
  for (const double degrees : {0.0, 30.0, 45.0, 90.0, 135.0}) {
    const double theta = degrees * kPi / 180.0;
    const at::Tensor r = Rotation(theta);
    const at::Tensor s_b = at::matmul(at::matmul(r, s_a), r.t());
    const double c2 = std::pow(std::cos(theta), 2);
    const double s2 = std::pow(std::sin(theta), 2);
    const double expected = 10.0 - 2.0 * std::sqrt(17 * c2 + 8 * s2 + 8);
    absl::StatusOr<double> fd =
        FrechetDistance(Gaussian(zero, s_a), Gaussian(zero, s_b));
    ASSERT_TRUE(fd.ok()) << fd.status();
    EXPECT_NEAR(*fd, expected, 1e-12) << degrees << " degrees";
  }
  absl::StatusOr<double> quarter = FrechetDistance(
      Gaussian(zero, s_a),
      Gaussian(zero, at::diag(at::tensor({1.0, 4.0}, at::kDouble))));
  ASSERT_TRUE(quarter.ok());
  EXPECT_NEAR(*quarter, 2.0, 1e-12);
}

// The same 2-D formula for random, generic SPD pairs and means.
TEST(FrechetDistanceTest, Random2DPairsMatchClosedForm) {
  at::Generator gen = Gen(2);
  const at::TensorOptions f64(at::kDouble);
  for (int trial = 0; trial < 20; ++trial) {
    const at::Tensor x = at::randn({2, 2}, gen, f64);
    const at::Tensor y = at::randn({2, 2}, gen, f64);
    const at::Tensor s_a = at::matmul(x, x.t()) + 0.01 * at::eye(2, f64);
    const at::Tensor s_b = at::matmul(y, y.t()) + 0.01 * at::eye(2, f64);
    const at::Tensor mu_a = at::randn({2}, gen, f64);
    const at::Tensor mu_b = at::randn({2}, gen, f64);
    const double cross =
        std::sqrt(at::matmul(s_a, s_b).trace().item<double>() +
                  2.0 * std::sqrt(at::det(s_a).item<double>() *
                                  at::det(s_b).item<double>()));
    const double expected = (mu_a - mu_b).square().sum().item<double>() +
                            s_a.trace().item<double>() +
                            s_b.trace().item<double>() - 2.0 * cross;
    absl::StatusOr<double> fd =
        FrechetDistance(Gaussian(mu_a, s_a), Gaussian(mu_b, s_b));
    ASSERT_TRUE(fd.ok()) << fd.status();
    EXPECT_NEAR(*fd, expected, 1e-9 * (1.0 + expected)) << "trial " << trial;
  }
}

TEST(FrechetDistanceTest, IdenticalStatisticsGiveZeroAndOrderDoesNotMatter) {
  at::Generator gen = Gen(3);
  const at::TensorOptions f64(at::kDouble);
  const at::Tensor x = at::randn({8, 8}, gen, f64);
  const at::Tensor y = at::randn({8, 8}, gen, f64);
  const FeatureStatistics a =
      Gaussian(at::randn({8}, gen, f64), at::matmul(x, x.t()));
  const FeatureStatistics b =
      Gaussian(at::randn({8}, gen, f64), at::matmul(y, y.t()));
  absl::StatusOr<double> aa = FrechetDistance(a, a);
  ASSERT_TRUE(aa.ok()) << aa.status();
  EXPECT_NEAR(*aa, 0.0, 1e-9);
  absl::StatusOr<double> ab = FrechetDistance(a, b);
  absl::StatusOr<double> ba = FrechetDistance(b, a);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_GT(*ab, 1.0);
  EXPECT_NEAR(*ab, *ba, 1e-9 * *ab);
}

TEST(FrechetDistanceTest, RejectsMismatchedStatistics) {
  const FeatureStatistics two =
      Gaussian(at::zeros({2}, at::kDouble), at::eye(2, at::kDouble));
  const FeatureStatistics three =
      Gaussian(at::zeros({3}, at::kDouble), at::eye(3, at::kDouble));
  absl::StatusOr<double> fd = FrechetDistance(two, three);
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fd.status().message().find("dimensions differ"), std::string::npos)
      << fd.status();

  FeatureStatistics other_model = two;
  other_model.model_fingerprint = "crc32c:0badf00d/1234";
  fd = FrechetDistance(two, other_model);
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fd.status().message().find("crc32c:0badf00d/1234"),
            std::string::npos)
      << fd.status();

  FeatureStatistics bad_shape = two;
  bad_shape.covariance = at::eye(3, at::kDouble);
  EXPECT_FALSE(FrechetDistance(two, bad_shape).ok());
  FeatureStatistics not_finite = two;
  not_finite.mean = at::full({2}, NAN, at::kDouble);
  EXPECT_FALSE(FrechetDistance(two, not_finite).ok());
}

// --- Accumulator ------------------------------------------------------------

// Uneven chunks (including an empty one and a single row) of float64 data
// with a large mean, against at::cov of the whole at once.
TEST(FeatureAccumulatorTest, StreamingMatchesAtCov) {
  const at::TensorOptions f64(at::kDouble);
  const at::Tensor x = 1e3 + at::randn({1000, 5}, Gen(4), f64) *
                                 at::tensor({1.0, 2.0, 0.5, 3.0, 1e-2}, f64);
  FeatureAccumulator accumulator;
  int64_t start = 0;
  for (const int64_t n : {1, 7, 0, 300, 2, 690}) {
    ASSERT_TRUE(accumulator.Add(x.slice(0, start, start + n)).ok());
    start += n;
  }
  ASSERT_EQ(start, 1000);
  absl::StatusOr<FeatureStatistics> stats = accumulator.Statistics();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->count, 1000);
  EXPECT_EQ(stats->mean.scalar_type(), at::kDouble);
  EXPECT_TRUE(at::allclose(stats->mean, x.mean(0), 1e-12, 1e-10));
  EXPECT_TRUE(at::allclose(stats->covariance, at::cov(x.t()), 1e-10, 1e-10));
}

// float32 features are accumulated in float64.
TEST(FeatureAccumulatorTest, Float32FeaturesAreAccumulatedInFloat64) {
  const at::Tensor x = at::randn({333, 4}, Gen(5), at::TensorOptions());
  FeatureAccumulator accumulator;
  ASSERT_TRUE(accumulator.Add(x.slice(0, 0, 100)).ok());
  ASSERT_TRUE(accumulator.Add(x.slice(0, 100)).ok());
  absl::StatusOr<FeatureStatistics> stats = accumulator.Statistics();
  ASSERT_TRUE(stats.ok()) << stats.status();
  const at::Tensor x64 = x.to(at::kDouble);
  EXPECT_TRUE(at::allclose(stats->mean, x64.mean(0), 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(stats->covariance, at::cov(x64.t()), 1e-10, 1e-10));
}

TEST(FeatureAccumulatorTest, RejectsTooFewOrMismatchedFeatures) {
  FeatureAccumulator accumulator;
  EXPECT_EQ(accumulator.Statistics().status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(accumulator.Add(at::ones({1, 3})).ok());
  EXPECT_EQ(accumulator.Statistics().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(accumulator.Add(at::ones({2, 4})).ok());
  EXPECT_FALSE(accumulator.Add(at::ones({3})).ok());
  EXPECT_FALSE(accumulator.Add(at::ones({2, 3}, at::kLong)).ok());
  EXPECT_FALSE(accumulator.Add(at::full({2, 3}, NAN)).ok());
  EXPECT_EQ(accumulator.count(), 1);
  ASSERT_TRUE(accumulator.Add(at::zeros({1, 3})).ok());
  EXPECT_TRUE(accumulator.Statistics().ok());
}

// --- Pipeline with a small random TorchScript network
// -------------------------

// Writes a random conv -> relu -> global-mean-pool network ([N, 3, H, W] to
// [N, 8]) as TorchScript, seeded, and returns its path.
std::string WriteFeatureNetwork(const std::string& dir, uint64_t seed) {
  torch::jit::Module module("Features");
  module.register_parameter(
      "weight", at::randn({8, 3, 3, 3}, Gen(seed), at::TensorOptions()),
      /*is_buffer=*/false);
  module.register_parameter("bias",
                            at::randn({8}, Gen(seed + 1), at::TensorOptions()),
                            /*is_buffer=*/false);
  module.define(R"JIT(
    def forward(self, x):
        y = torch.conv2d(x, self.weight, self.bias)
        return torch.relu(y).mean([2, 3])
  )JIT");
  const std::string path = dir + "/features_" + std::to_string(seed) + ".pt";
  module.save(path);
  return path;
}

// `n` images [n, 3, 8, 8] of uniform noise in [lo, 1].
at::Tensor NoiseImages(int64_t n, double lo, at::Generator gen) {
  return lo + (1.0 - lo) * at::rand({n, 3, 8, 8}, gen, at::TensorOptions());
}

// Serves `images` in batches of `batch_size`, counting the calls.
ImageBatches Batches(const at::Tensor& images, int64_t batch_size, int* calls) {
  return [images, batch_size, calls, start = int64_t{0}]() mutable
         -> absl::StatusOr<std::optional<at::Tensor>> {
    ++*calls;
    if (start >= images.size(0)) return std::optional<at::Tensor>();
    const at::Tensor batch = images.slice(0, start, start + batch_size);
    start += batch_size;
    return std::optional<at::Tensor>(batch);
  };
}

class FidPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    absl::StatusOr<FeatureNetwork> net =
        FeatureNetwork::Load(WriteFeatureNetwork(dir_, 10), "cpu");
    ASSERT_TRUE(net.ok()) << net.status();
    net_.emplace(*std::move(net));
  }

  absl::StatusOr<FeatureStatistics> Stats(const at::Tensor& images,
                                          const std::string& source) {
    int calls = 0;
    return ComputeStatistics(*net_, source, Batches(images, 100, &calls));
  }

  std::string dir_;
  std::optional<FeatureNetwork> net_;
};

TEST_F(FidPipelineTest, FeaturesHaveOneRowPerImage) {
  absl::StatusOr<at::Tensor> features =
      net_->Features(NoiseImages(5, 0.0, Gen(20)));
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->sizes(), at::IntArrayRef({5, 8}));
  EXPECT_FALSE(features->requires_grad());
  EXPECT_EQ(net_->fingerprint().rfind("crc32c:", 0), 0u) << net_->fingerprint();
}

// Two samples of one distribution differ only by the estimator's small-n
// bias (the mean term alone is 2 tr(S) / n); a wrong cross term would leave
// up to 2 tr(S). Brighter images move every feature's mean far beyond it.
TEST_F(FidPipelineTest, SameDistributionGivesSmallFidShiftedGivesLarge) {
  absl::StatusOr<FeatureStatistics> real =
      Stats(NoiseImages(500, 0.0, Gen(21)), "noise/a");
  absl::StatusOr<FeatureStatistics> same =
      Stats(NoiseImages(500, 0.0, Gen(22)), "noise/b");
  absl::StatusOr<FeatureStatistics> brighter =
      Stats(NoiseImages(500, 0.3, Gen(23)), "brighter");
  ASSERT_TRUE(real.ok() && same.ok() && brighter.ok()) << real.status();
  EXPECT_EQ(real->count, 500);
  EXPECT_EQ(real->model_fingerprint, net_->fingerprint());
  EXPECT_EQ(real->source, "noise/a");

  absl::StatusOr<FidResult> small = Fid(same.value(), real.value());
  absl::StatusOr<FidResult> large = Fid(brighter.value(), real.value());
  ASSERT_TRUE(small.ok() && large.ok()) << small.status() << large.status();
  const double trace = real->covariance.trace().item<double>();
  LOG(INFO) << "same: " << small->fid << ", brighter: " << large->fid
            << ", tr(S) = " << trace;
  // Measured: 0.0086 tr(S) and 4.4 tr(S).
  EXPECT_LT(small->fid, 0.02 * trace);
  EXPECT_GT(large->fid, 1.0 * trace);
  EXPECT_GT(large->fid, 100.0 * small->fid);
  EXPECT_EQ(small->generated_samples, 500);
  EXPECT_EQ(small->reference_samples, 500);
}

TEST_F(FidPipelineTest, StatisticsRoundTripExactly) {
  absl::StatusOr<FeatureStatistics> stats =
      Stats(NoiseImages(300, 0.0, Gen(24)), "noise/train");
  ASSERT_TRUE(stats.ok()) << stats.status();
  const std::string path = dir_ + "/sub/stats.pt";
  ASSERT_TRUE(SaveStatistics(*stats, path).ok());
  absl::StatusOr<FeatureStatistics> loaded = LoadStatistics(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(at::equal(loaded->mean, stats->mean));
  EXPECT_TRUE(at::equal(loaded->covariance, stats->covariance));
  EXPECT_EQ(loaded->count, 300);
  EXPECT_EQ(loaded->model_fingerprint, stats->model_fingerprint);
  EXPECT_EQ(loaded->source, "noise/train");
}

TEST_F(FidPipelineTest, ReferenceStatisticsAreComputedOnceThenCached) {
  const at::Tensor images = NoiseImages(250, 0.0, Gen(25));
  const std::string cache = dir_ + "/reference.pt";
  int calls = 0;
  absl::StatusOr<FeatureStatistics> first = ReferenceStatistics(
      cache, *net_, "noise/train", Batches(images, 100, &calls));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(calls, 4);  // Three batches and the end.
  EXPECT_EQ(first->count, 250);
  EXPECT_TRUE(std::filesystem::exists(cache));

  calls = 0;
  absl::StatusOr<FeatureStatistics> second = ReferenceStatistics(
      cache, *net_, "noise/train", Batches(images, 100, &calls));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(at::equal(second->covariance, first->covariance));
  EXPECT_EQ(second->count, 250);

  // Another source under the same path is an error, not a silent reuse.
  absl::StatusOr<FeatureStatistics> other_source = ReferenceStatistics(
      cache, *net_, "noise/test", Batches(images, 100, &calls));
  EXPECT_EQ(other_source.status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(calls, 0);
}

TEST_F(FidPipelineTest, CacheOfAnotherNetworkIsRejected) {
  const at::Tensor images = NoiseImages(50, 0.0, Gen(26));
  const std::string cache = dir_ + "/reference.pt";
  int calls = 0;
  ASSERT_TRUE(ReferenceStatistics(cache, *net_, "noise/train",
                                  Batches(images, 100, &calls))
                  .ok());
  absl::StatusOr<FeatureNetwork> other =
      FeatureNetwork::Load(WriteFeatureNetwork(dir_, 11), "cpu");
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_NE(other->fingerprint(), net_->fingerprint());
  calls = 0;
  absl::StatusOr<FeatureStatistics> stats = ReferenceStatistics(
      cache, *other, "noise/train", Batches(images, 100, &calls));
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(stats.status().message());
  EXPECT_NE(message.find(net_->fingerprint()), std::string::npos) << message;
  EXPECT_NE(message.find(other->fingerprint()), std::string::npos) << message;
  EXPECT_NE(message.find("delete"), std::string::npos) << message;
  EXPECT_EQ(calls, 0);
}

TEST(FormatFidTest, RecordsSampleCountsAndSmallNCaveat) {
  EXPECT_EQ(FormatFid({.fid = 12.3449,
                       .generated_samples = 1000,
                       .reference_samples = 60000}),
            "FID 12.34 (n=1000 generated vs 60000 reference; small-n FID is "
            "biased upward and not comparable to paper FID at n=50000)");
  EXPECT_EQ(FormatFid({.fid = 3.171,
                       .generated_samples = 50000,
                       .reference_samples = 60000}),
            "FID 3.17 (n=50000 generated vs 60000 reference)");
}

// --- Bad inputs -------------------------------------------------------------

TEST(FidBadInputTest, MissingOrGarbageModelFile) {
  const std::string dir = TempDir("bad_model");
  absl::StatusOr<FeatureNetwork> missing =
      FeatureNetwork::Load(dir + "/missing.pt", "cpu");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("missing.pt"), std::string::npos);

  const std::string garbage = dir + "/garbage.pt";
  std::ofstream(garbage) << "this is not a TorchScript archive";
  absl::StatusOr<FeatureNetwork> bad = FeatureNetwork::Load(garbage, "cpu");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("garbage.pt"), std::string::npos);
  EXPECT_EQ(bad.status().message().find('\n'), std::string::npos)
      << bad.status();

  absl::StatusOr<FeatureNetwork> bad_device =
      FeatureNetwork::Load(WriteFeatureNetwork(dir, 12), "no-such-device");
  EXPECT_EQ(bad_device.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FidPipelineTest, WrongImagesGiveOneLineErrors) {
  // One channel for a three-channel convolution: the module's own error.
  absl::StatusOr<at::Tensor> gray = net_->Features(at::rand({4, 1, 8, 8}));
  EXPECT_EQ(gray.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(gray.status().message());
  EXPECT_NE(message.find(net_->path()), std::string::npos) << message;
  EXPECT_NE(message.find("channels"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  LOG(INFO) << message;

  EXPECT_FALSE(net_->Features(at::rand({8, 8})).ok());
  EXPECT_FALSE(net_->Features(at::ones({2, 3, 8, 8}, at::kLong)).ok());
  EXPECT_FALSE(net_->Features(at::Tensor()).ok());
  // Smaller than the 3x3 kernel.
  EXPECT_FALSE(net_->Features(at::rand({2, 3, 2, 2})).ok());
}

TEST(FidBadInputTest, MissingOrCorruptStatistics) {
  const std::string dir = TempDir("bad_stats");
  absl::StatusOr<FeatureStatistics> missing =
      LoadStatistics(dir + "/missing.pt");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  const std::string corrupt = dir + "/corrupt.pt";
  std::ofstream(corrupt) << "garbage";
  absl::StatusOr<FeatureStatistics> bad = LoadStatistics(corrupt);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("corrupt.pt"), std::string::npos);

  // A corrupt cache is reported, not silently overwritten.
  int calls = 0;
  absl::StatusOr<FeatureNetwork> net =
      FeatureNetwork::Load(WriteFeatureNetwork(dir, 13), "cpu");
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_EQ(ReferenceStatistics(corrupt, *net, "x",
                                Batches(at::rand({4, 3, 8, 8}), 2, &calls))
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace mdm::eval
