#include "mdm/nets/factory.h"

#include <ATen/ATen.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/nets/ho_unet.h"
#include "mdm/nets/mlp.h"
#include "mdm/nets/ncsnpp.h"
#include "mdm/nets/tiny_unet.h"

namespace mdm::nets {
namespace {

using proto::ScoreModelConfig;

template <typename T, typename Repeated>
std::vector<T> ToVector(const Repeated& values) {
  return std::vector<T>(values.begin(), values.end());
}

}  // namespace

absl::StatusOr<std::shared_ptr<ScoreModel>> CreateScoreModel(
    const ScoreModelConfig& config, const proto::DataConfig& data,
    int64_t num_vars, uint64_t seed) {
  if (num_vars < 1) {
    return absl::InvalidArgumentError(
        "a score model needs at least 1 variable");
  }
  // The MLP takes vectors or, as the original's does, flattened images.
  const bool mlp = config.score_model_type() == ScoreModelConfig::MLP;
  if (!mlp && !data.is_image()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "score_model.score_model_type ",
        ScoreModelConfig::ScoreModelType_Name(config.score_model_type()),
        " needs image data (data.is_image: true)"));
  }
  if (data.is_image() && data.out_channels() != data.in_channels()) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.out_channels (", data.out_channels(),
                     ") must equal data.in_channels (", data.in_channels(),
                     "): the network predicts a state-shaped score"));
  }
  const std::vector<int64_t> ch_mult = ToVector<int64_t>(config.ch_mult());
  const std::vector<int64_t> attn =
      ToVector<int64_t>(config.attn_resolutions());
  torch::manual_seed(seed);
  switch (config.score_model_type()) {
    case ScoreModelConfig::MLP:
      return std::shared_ptr<ScoreModel>(
          std::make_shared<MlpImpl>(
              MlpOptions(num_vars, data.is_image()
                                       ? int64_t{data.in_channels()} *
                                             data.height() * data.width()
                                       : data.vector_dim())
                  .hidden_dim(config.hidden_dim())));
    case ScoreModelConfig::TINY_UNET:
      if (data.height() < kTinyUNetMinSize || data.width() < kTinyUNetMinSize) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TINY_UNET's unpadded convolutions need images of at least ",
            kTinyUNetMinSize, "x", kTinyUNetMinSize, ", got ", data.height(),
            "x", data.width()));
      }
      return std::shared_ptr<ScoreModel>(std::make_shared<TinyUNetImpl>(
          TinyUNetOptions(num_vars, data.in_channels()).seed(seed)));
    case ScoreModelConfig::TINY_UNET_PADDED:
      return std::shared_ptr<ScoreModel>(std::make_shared<TinyUNetImpl>(
          TinyUNetOptions(num_vars, data.in_channels())
              .seed(seed)
              .padded(true)));
    case ScoreModelConfig::HO_UNET:
      return std::shared_ptr<ScoreModel>(std::make_shared<HoUNetImpl>(
          HoUNetOptions(num_vars, data.in_channels(), data.height())
              .ch(config.ch())
              .ch_mult(ch_mult)
              .num_res_blocks(config.num_res_blocks())
              .attn_resolutions(attn)
              .dropout(config.dropout())
              .time_scale(config.time_scale())));
    case ScoreModelConfig::NCSNPP: {
      const int64_t factor = int64_t{1} << (ch_mult.size() - 1);
      if (data.height() % factor != 0 || data.width() % factor != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("NCSN++ with ", ch_mult.size(),
                         " levels (score_model.ch_mult) "
                         "needs data.height and data.width divisible by ",
                         factor, ", got ", data.height(), "x", data.width()));
      }
      return std::shared_ptr<ScoreModel>(std::make_shared<NcsnppImpl>(
          NcsnppOptions(num_vars, data.in_channels(), data.height())
              .nf(config.nf())
              .ch_mult(ch_mult)
              .num_res_blocks(config.num_res_blocks())
              .attn_resolutions(attn)
              .dropout(config.dropout())
              .resblock_type(config.resblock_type() == ScoreModelConfig::DDPM
                                 ? ResblockType::kDdpm
                                 : ResblockType::kBigGan)
              .embedding_type(config.embedding_type() ==
                                      ScoreModelConfig::FOURIER
                                  ? TimeEmbedding::kFourier
                                  : TimeEmbedding::kPositional)
              .fourier_scale(config.fourier_scale())
              .time_scale(config.time_scale())
              .skip_rescale(config.skip_rescale())
              .resamp_with_conv(config.resamp_with_conv())
              .fir(config.fir())
              .fir_kernel(ToVector<double>(config.fir_kernel()))
              .init_scale(config.init_scale())
              .seed(seed)));
    }
    default:
      return absl::InvalidArgumentError(
          "score_model.score_model_type is not set");
  }
}

}  // namespace mdm::nets
