#include "mdm/nets/factory.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "mdm/proto/experiment_config.h"
#include "mdm/testing/textproto.h"

namespace mdm::nets {
namespace {

using ::mdm::proto::Experiment;
using ::mdm::testing::ParseTextProtoOrDie;
using ::testing::HasSubstr;

Experiment Config(const std::string& text) {
  Experiment e = ParseTextProtoOrDie<Experiment>(text);
  proto::ResolveDefaults(e);
  return e;
}

int64_t Count(const std::string& text, int64_t K) {
  const Experiment e = Config(text);
  absl::StatusOr<std::shared_ptr<ScoreModel>> model =
      CreateScoreModel(e.score_model(), e.data(), K, /*seed=*/0);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return -1;
  int64_t n = 0;
  for (const at::Tensor& p : (*model)->parameters()) n += p.numel();
  return n;
}

// The parameter counts docs/library.md's table documents. Only the first
// and last convolutions see the K variables, so each extra variable adds
// 2 * 9 * width * C + C parameters (a 3x3 conv in and out plus the out bias).
TEST(ScoreModelFactoryTest, ParameterCountsOfTheDocumentedModels) {
  const std::string mnist =
      "data { in_channels: 1 out_channels: 1 height: 28 width: 28 } ";
  const std::string cifar =
      "data { dataset: CIFAR10 in_channels: 3 out_channels: 3 height: 32 "
      "width: 32 } ";
  const std::string tiny =
      mnist + "score_model { score_model_type: TINY_UNET }";
  const std::string ho_mnist =
      mnist +
      "score_model { score_model_type: HO_UNET ch: 32 ch_mult: [1, 2, 2] }";
  const std::string ho_cifar =
      cifar + "score_model { score_model_type: HO_UNET }";
  const std::string ncsnpp =
      cifar +
      "score_model { score_model_type: NCSNPP nf: 128 num_res_blocks: 4 }";
  const std::string mlp =
      "data { is_image: false vector_dim: 2 } score_model { score_model_type: "
      "MLP }";
  const std::string tiny_padded =
      mnist + "score_model { score_model_type: TINY_UNET_PADDED }";
  EXPECT_EQ(Count(tiny, 1), 1115297);
  EXPECT_EQ(Count(tiny_padded, 1), 1115297);
  EXPECT_EQ(Count(ho_mnist, 1), 1539329);
  EXPECT_EQ(Count(ho_cifar, 1), 35746307);
  EXPECT_EQ(Count(ncsnpp, 1), 61804419);
  EXPECT_EQ(Count(mlp, 1), 50306);
  for (int64_t K : {2, 3}) {
    EXPECT_EQ(Count(ho_mnist, K), 1539329 + (K - 1) * (2 * 9 * 32 + 1));
    EXPECT_EQ(Count(ho_cifar, K), 35746307 + (K - 1) * (2 * 9 * 128 * 3 + 3));
    EXPECT_EQ(Count(ncsnpp, K), 61804419 + (K - 1) * (2 * 9 * 128 * 3 + 3));
    // TinyUNet's first conv (32 wide) has no bias; its last, a 3x3
    // transposed conv, reads 64 channels (features and skip).
    EXPECT_EQ(Count(tiny, K), 1115297 + (K - 1) * (9 * 32 + 9 * 64 + 1));
    EXPECT_EQ(Count(tiny_padded, K), Count(tiny, K));
    // The MLP's first and last layers see K * dim inputs and outputs.
    EXPECT_EQ(Count(mlp, K), 50306 + (K - 1) * (2 * 128 * 2 + 2));
  }
}

// The original's HoUNet widths by data set, when the config names none.
TEST(ScoreModelFactoryTest, HoUNetDefaultsFollowTheDataSet) {
  EXPECT_EQ(Count("data { dataset: MNIST } "
                  "score_model { score_model_type: HO_UNET }", 1),
            1539329);  // ch 32, ch_mult 1, 2, 2.
  EXPECT_EQ(Count("data { dataset: CIFAR10 in_channels: 3 out_channels: 3 "
                  "height: 32 width: 32 } "
                  "score_model { score_model_type: HO_UNET }", 1),
            35746307);  // ch 128, ch_mult 1, 2, 2, 2.
}

TEST(ScoreModelFactoryTest, SameSeedSameWeights) {
  const Experiment e = Config(
      "data { height: 28 width: 28 } score_model { score_model_type: TINY_UNET "
      "}");
  auto a = CreateScoreModel(e.score_model(), e.data(), 2, 7);
  auto b = CreateScoreModel(e.score_model(), e.data(), 2, 7);
  auto c = CreateScoreModel(e.score_model(), e.data(), 2, 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const auto pa = (*a)->parameters(), pb = (*b)->parameters(),
             pc = (*c)->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i], pb[i]));
  EXPECT_FALSE(at::equal(pa[0], pc[0]));
}

// The original's MLP on images: the flattened state (x, then each
// auxiliary variable), the same function as the MLP on those vectors.
TEST(ScoreModelFactoryTest, TheMlpTakesFlattenedImages) {
  const Experiment images = Config(
      "data { in_channels: 1 out_channels: 1 height: 28 width: 28 } "
      "score_model { score_model_type: MLP }");
  const Experiment vectors = Config(
      "data { is_image: false vector_dim: 784 } "
      "score_model { score_model_type: MLP }");
  auto a = CreateScoreModel(images.score_model(), images.data(), 3, 5);
  auto b = CreateScoreModel(vectors.score_model(), vectors.data(), 3, 5);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  at::manual_seed(1);
  const at::Tensor u = at::randn({4, 3, 1, 28, 28});
  const at::Tensor t = at::rand({4});
  const at::Tensor out = (*a)->forward(u, t);
  EXPECT_EQ(out.sizes(), u.sizes());
  EXPECT_TRUE(at::equal(out, (*b)->forward(u.view({4, 3, 784}), t).view(u.sizes())));
  // In: 3 x 784 values and t to 128; three 128 x 128 layers; out: 128 to
  // 3 x 784 (weights and biases).
  EXPECT_EQ(Count("data { height: 28 width: 28 } "
                  "score_model { score_model_type: MLP }", 3),
            (2353 * 128 + 128) + 3 * (128 * 128 + 128) + (128 * 2352 + 2352));
}

TEST(ScoreModelFactoryTest, MismatchedDataIsAClearError) {
  Experiment e = Config(
      "data { is_image: false } score_model { score_model_type: HO_UNET }");
  EXPECT_THAT(
      std::string(
          CreateScoreModel(e.score_model(), e.data(), 1, 0).status().message()),
      HasSubstr("needs image data"));
  e = Config(
      "data { height: 28 width: 28 } score_model { score_model_type: NCSNPP }");
  EXPECT_THAT(
      std::string(
          CreateScoreModel(e.score_model(), e.data(), 1, 0).status().message()),
      HasSubstr("divisible by 8, got 28x28"));
  e = Config(
      "data { in_channels: 3 out_channels: 1 } score_model { score_model_type: "
      "TINY_UNET }");
  EXPECT_THAT(
      std::string(
          CreateScoreModel(e.score_model(), e.data(), 1, 0).status().message()),
      HasSubstr("must equal data.in_channels"));
}

}  // namespace
}  // namespace mdm::nets
