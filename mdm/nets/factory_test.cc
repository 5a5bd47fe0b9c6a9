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

// The parameter counts README's table documents. Only the first and last
// convolutions see the K variables, so each extra variable adds
// 2 * 9 * width * C + C parameters (a 3x3 conv in and out plus the out bias).
TEST(ScoreModelFactoryTest, ParameterCountsOfTheDocumentedModels) {
  const std::string mnist =
      "data { in_channels: 1 out_channels: 1 height: 28 width: 28 } ";
  const std::string cifar =
      "data { in_channels: 3 out_channels: 3 height: 32 width: 32 } ";
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
  EXPECT_EQ(Count(tiny, 1), 1115297);
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
    // The MLP's first and last layers see K * dim inputs and outputs.
    EXPECT_EQ(Count(mlp, K), 50306 + (K - 1) * (2 * 128 * 2 + 2));
  }
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
