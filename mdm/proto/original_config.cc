#include "mdm/proto/original_config.h"

#include <google/protobuf/descriptor.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <regex>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mdm/proto/experiment_config.h"
#include "nlohmann/json.hpp"

namespace mdm::proto {
namespace {

// PyYAML's YAML 1.1 resolvers for plain scalars (safe_load).
OriginalValue ResolvePlainScalar(const std::string& s) {
  static const std::set<std::string> kTrue = {"yes", "Yes", "YES", "true",
                                              "True", "TRUE", "on", "On",
                                              "ON"};
  static const std::set<std::string> kFalse = {"no", "No", "NO", "false",
                                               "False", "FALSE", "off", "Off",
                                               "OFF"};
  if (kTrue.count(s)) return true;
  if (kFalse.count(s)) return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    return std::monostate();
  static const std::regex kInt("[-+]?(0|[1-9][0-9_]*)");
  static const std::regex kFloat(
      "[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+][0-9]+)?");
  std::string digits = s;
  digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
  if (std::regex_match(s, kInt)) {
    int64_t value = 0;
    if (absl::SimpleAtoi(digits, &value)) return value;
  }
  // YAML 1.1's special floats.
  static const std::regex kInf("[-+]?\\.(inf|Inf|INF)");
  static const std::regex kNan("\\.(nan|NaN|NAN)");
  if (std::regex_match(s, kInf)) {
    return s[0] == '-' ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
  }
  if (std::regex_match(s, kNan)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (std::regex_match(s, kFloat) && s != "." && s != "+." && s != "-.") {
    double value = 0;
    if (absl::SimpleAtod(digits, &value)) return value;
  }
  return s;
}

std::string Show(const OriginalValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return "None";
        else if constexpr (std::is_same_v<T, bool>) return x ? "True" : "False";
        else if constexpr (std::is_same_v<T, std::string>) return "'" + x + "'";
        else return absl::StrCat(x);
      },
      v);
}

// The text an override of a proto field takes for a value.
std::string OverrideText(const OriginalValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return "";
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, int64_t>) return absl::StrCat(x);
        else if constexpr (std::is_same_v<T, double>) {
          char buffer[32];
          std::snprintf(buffer, sizeof(buffer), "%.17g", x);
          return buffer;
        } else return x;
      },
      v);
}

// Whether the Experiment field at `path` ("block.field") holds a string.
bool IsStringField(const std::string& path) {
  const google::protobuf::Descriptor* message = Experiment::descriptor();
  const google::protobuf::FieldDescriptor* field = nullptr;
  for (const std::string& part :
       std::vector<std::string>(absl::StrSplit(path, '.'))) {
    if (message == nullptr) return false;
    field = message->FindFieldByName(part);
    if (field == nullptr) return false;
    message = field->message_type();
  }
  return field != nullptr &&
         field->type() == google::protobuf::FieldDescriptor::TYPE_STRING;
}

class Importer {
 public:
  Importer(const OriginalConfig& config,
           const std::vector<std::string>& overrides)
      : config_(config), overrides_(overrides) {}

  absl::StatusOr<ImportedConfig> Run();

 private:
  std::string Where(const std::string& key) const {
    const auto it = config_.origins.find(key);
    return it == config_.origins.end() ? key : it->second + ": " + key;
  }
  absl::Status Error(const std::string& key, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(Where(key), " ", what));
  }
  bool Has(const std::string& key) const { return config_.values.count(key); }
  const OriginalValue& Get(const std::string& key) const {
    return config_.values.at(key);
  }
  std::string String(const std::string& key) const {
    const OriginalValue& v = Get(key);
    return std::holds_alternative<std::string>(v) ? std::get<std::string>(v)
                                                  : OverrideText(v);
  }
  // Sets `field` from the value, typed by the proto field.
  absl::Status Set(const std::string& key, const std::string& field) {
    const OriginalValue& v = Get(key);
    if (std::holds_alternative<std::monostate>(v)) return absl::OkStatus();
    if (std::holds_alternative<std::string>(v) && !IsStringField(field)) {
      // The original would get a str where it needs a number or a bool.
      return Error(key, absl::StrCat("= ", Show(v),
                                     " is a string in PyYAML, not a number "
                                     "or a boolean (YAML 1.1 floats need a "
                                     "dot: write 1.0e-3)"));
    }
    if (absl::Status s = ApplyOverride(
            absl::StrCat(field, "=", OverrideText(v)), experiment_);
        !s.ok()) {
      return Error(key, absl::StrCat("= ", Show(v),
                                     " does not fit our field ", field,
                                     std::holds_alternative<std::string>(v)
                                         ? " (PyYAML reads it as a string: "
                                           "YAML 1.1 floats need a dot)"
                                         : ""));
    }
    return absl::OkStatus();
  }
  // Sets the enum `field` to mapping[value].
  absl::Status SetEnum(const std::string& key, const std::string& field,
                       const std::map<std::string, std::string>& mapping) {
    const std::string value = String(key);
    const auto it = mapping.find(value);
    if (it == mapping.end()) {
      std::vector<std::string> known;
      for (const auto& [name, unused] : mapping) known.push_back(name);
      return Error(key, absl::StrCat("= ", Show(Get(key)),
                                     " is not a value the original knows (",
                                     absl::StrJoin(known, ", "), ")"));
    }
    return ApplyOverride(absl::StrCat(field, "=", it->second), experiment_);
  }
  // A list given as "1,2,2,2" or a single number.
  absl::Status SetList(const std::string& key, const std::string& field) {
    const OriginalValue& v = Get(key);
    std::string text = String(key);
    if (!std::holds_alternative<std::string>(v) &&
        !std::holds_alternative<int64_t>(v)) {
      return Error(key, absl::StrCat("= ", Show(v), " is not a list"));
    }
    if (absl::Status s = ApplyOverride(absl::StrCat(field, "=[", text, "]"),
                                       experiment_);
        !s.ok()) {
      return Error(key, absl::StrCat("= ", Show(v), " is not a list of numbers"));
    }
    return absl::OkStatus();
  }
  void Note(const std::string& key, const std::string& what) {
    notes_.push_back(absl::StrCat(key, " = ", Show(Get(key)), ": ", what));
  }

  const OriginalConfig& config_;
  Experiment experiment_;
  std::vector<std::string> notes_;
  const std::vector<std::string>& overrides_;
};

// Keys copied to a field of ours as they are.
const std::vector<std::pair<std::string, std::string>>& DirectKeys() {
  static const auto* keys = new std::vector<std::pair<std::string, std::string>>{
      {"seed", "seed"},
      {"wandb_project", "output.project"},
      {"wandb_entity", "output.entity"},
      {"save_dir", "output.output_dir"},
      {"data_dir", "data.data_dir"},
      {"resume_checkpoint", "training.resume_checkpoint"},
      {"eval_every_n_epoch", "training.eval_every_n_epoch"},
      {"is_image", "data.is_image"},
      {"in_channels", "data.in_channels"},
      {"out_channels", "data.out_channels"},
      {"height", "data.height"},
      {"width", "data.width"},
      {"dim", "data.vector_dim"},
      {"elbo_mc_samples_eval", "eval.elbo_mc_samples_eval"},
      {"elbo_mc_samples_train", "objective.elbo_mc_samples_train"},
      {"hutch_mc", "objective.hutch_mc"},
      {"n_vars", "diffusion.n_vars"},
      {"stationary_aux_var", "diffusion.stationary_aux_var"},
      {"init_aux_var", "diffusion.init_aux_var"},
      {"stationary_x_var", "diffusion.stationary_x_var"},
      {"d_full", "diffusion.d_full"},
      {"beta_0", "diffusion.beta_0"},
      {"beta_1", "diffusion.beta_1"},
      {"alda_psi", "diffusion.alda_psi"},
      {"alda_gamma", "diffusion.alda_gamma"},
      {"batch_size", "training.batch_size"},
      {"test_batch_size", "eval.test_batch_size"},
      {"accumulate_grad_batches", "training.accumulate_grad_batches"},
      {"n_epochs", "training.n_epochs"},
      {"lr", "optimizer.lr"},
      {"lr_scheduling", "optimizer.lr_scheduling"},
      {"lr_sched_max_iters", "optimizer.lr_sched_max_iters"},
      {"grad_clip_val", "optimizer.grad_clip_val"},
      {"warmup_iters", "optimizer.warmup_iters"},
      {"weight_decay", "optimizer.weight_decay"},
      {"ema_decay", "optimizer.ema_decay"},
      {"imp_weight_train", "objective.imp_weight_train"},
      {"switch_epoch", "objective.switch_epoch"},
      {"val_fid_epoch", "eval.val_fid_epoch"},
      {"fid_n_samples", "eval.fid_n_samples"},
      {"hybrid_transition_kernel", "diffusion.hybrid_transition_kernel"},
      {"T_max", "diffusion.t_max"},
      {"T_min_sampling", "sampling.t_min_sampling"},
      {"T_min_eval", "eval.t_min_eval"},
      {"T_min_train", "objective.t_min_train"},
      {"log_image_size", "sampling.log_image_size"},
      {"n_FEs", "sampling.n_fes"},
  };
  return *keys;
}

// Keys of the original's NCSN++ block: read only with score_model_type
// ncsnpp (handled below), or never.
const std::set<std::string>& NcsnppKeys() {
  static const auto* keys = new std::set<std::string>{
      "use_fir",        "embedding_type",   "nonlinearity",
      "n_channels",     "ch_mult",          "attn_resolutions",
      "resamp_with_conv", "fir_kernel",     "skip_rescale",
      "progressive",    "progressive_input", "progressive_combine",
      "init_scale",     "resblock_type",    "n_resblocks",
      "fourier_scale",
      // Never read by the original's code.
      "normalization",  "attention_type",   "conditional",
      "scale_by_sigma", "nf",               "num_res_blocks",
      "conv_size",      "mixed_score"};
  return *keys;
}

// The keys the original's training reads, with no default, on a run of
// `config` (its config is an argparse.Namespace of the YAML's keys: a
// missing one stops it with AttributeError). Keys that only name paths or
// a W&B project decide nothing MDM computes and are left out.
std::vector<std::string> RequiredKeys(const OriginalConfig& config) {
  std::vector<std::string> keys = {
      "dataset", "seed", "sde_type", "n_vars", "beta_0", "beta_1",
      "beta_fn_type", "hybrid_transition_kernel", "is_image", "transform",
      "score_model_type", "score_parameterization", "train_loss_type",
      "batch_size", "test_batch_size", "accumulate_grad_batches", "n_epochs",
      "eval_every_n_epoch", "optim_type", "lr", "weight_decay",
      "lr_scheduling", "grad_clip_val", "elbo_mc_samples_eval", "T_max",
      "T_min_sampling", "n_FEs", "sampling_method", "sampling_t_arr_fn",
      "log_image_size"};
  auto value = [&](const std::string& key) {
    const auto it = config.values.find(key);
    return it == config.values.end() ? OriginalValue() : it->second;
  };
  const OriginalValue is_image = value("is_image");
  if (std::holds_alternative<bool>(is_image)) {
    for (const char* key : {"in_channels", "out_channels", "height", "width"}) {
      if (std::get<bool>(is_image)) keys.push_back(key);
    }
    if (!std::get<bool>(is_image)) keys.push_back("dim");
  }
  const OriginalValue n_vars = value("n_vars");
  if (std::holds_alternative<int64_t>(n_vars) &&
      std::get<int64_t>(n_vars) > 1) {
    for (const char* key :
         {"stationary_x_var", "stationary_aux_var", "init_aux_var"}) {
      keys.push_back(key);
    }
  }
  const OriginalValue scheduling = value("lr_scheduling");
  if (std::holds_alternative<bool>(scheduling) && std::get<bool>(scheduling)) {
    keys.push_back("warmup_iters");
    keys.push_back("lr_sched_max_iters");
  }
  const OriginalValue loss = value("train_loss_type");
  if (std::holds_alternative<std::string>(loss) &&
      std::get<std::string>(loss) == "noise_pred_to_elbo") {
    keys.push_back("switch_epoch");
  }
  return keys;
}

absl::StatusOr<ImportedConfig> Importer::Run() {
  std::set<std::string> handled;
  auto handle = [&](const std::string& key) { handled.insert(key); };
  for (const auto& [key, field] : DirectKeys()) {
    handle(key);
    if (Has(key)) {
      if (absl::Status s = Set(key, field); !s.ok()) return s;
    }
  }
  const std::vector<std::tuple<std::string, std::string,
                               std::map<std::string, std::string>>>
      enums = {
          {"dataset", "data.dataset",
           {{"mnist", "MNIST"},
            {"cifar", "CIFAR10"},
            {"celeba", "CELEBA"},
            {"imagenet", "IMAGENET32"}}},
          {"sde_type", "diffusion.sde_type",
           {{"vpsde", "VPSDE"},
            {"cld", "CLD"},
            {"alda", "ALDA"},
            {"malda", "MALDA"},
            {"learned", "LEARNED"},
            {"learned_2", "LEARNED"},
            {"learned_3", "LEARNED"}}},
          {"beta_fn_type", "diffusion.beta_fn_type",
           {{"inhom", "INHOM"}, {"hom", "HOM"}}},
          {"score_parameterization", "score_model.score_parameterization",
           {{"noise_pred", "NOISE_PRED"}, {"score_pred", "SCORE_PRED"}}},
          {"score_model_type", "score_model.score_model_type",
           {{"TinyUNet", "TINY_UNET"},
            {"MLP", "MLP"},
            {"HoUNet", "HO_UNET"},
            {"ncsnpp", "NCSNPP"}}},
          {"transform", "data.transform",
           {{"logit", "LOGIT"}, {"center", "CENTER"}}},
          {"optim_type", "optimizer.optim_type",
           {{"adam", "ADAM"}, {"adamw", "ADAMW"}, {"adamax", "ADAMAX"}}},
          {"train_loss_type", "objective.train_loss_type",
           {{"dsm_elbo", "DSM_ELBO"},
            {"ism_elbo", "ISM_ELBO"},
            {"noise_pred", "NOISE_PRED_LOSS"},
            {"cld_noise_pred", "CLD_NOISE_PRED"},
            {"noise_pred_to_elbo", "NOISE_PRED_TO_ELBO"}}},
          {"sampling_method", "sampling.sampling_method", {{"EM", "EM"}}},
          {"sampling_t_arr_fn", "sampling.sampling_t_arr_fn",
           {{"linear", "LINEAR"}, {"quadratic", "QUADRATIC"}}},
      };
  for (const auto& [key, field, mapping] : enums) {
    handle(key);
    if (Has(key)) {
      if (absl::Status s = SetEnum(key, field, mapping); !s.ok()) return s;
    }
  }
  // Read by the original, but its behaviour is not what the value says.
  handle("checkpoint_path");
  if (Has("checkpoint_path")) {
    const std::string path = String("checkpoint_path");
    if (path != "None" && !path.empty()) {
      if (absl::Status s = Set("checkpoint_path", "training.checkpoint_path");
          !s.ok()) {
        return s;
      }
    }
  }
  handle("val_loss_type");
  if (Has("val_loss_type") && String("val_loss_type") != "dsm_elbo") {
    Note("val_loss_type",
         "the original never reads it and evaluates the DSM ELBO");
  }
  handle("elbo_offset_train");
  if (Has("elbo_offset_train") && String("elbo_offset_train") != "false" &&
      String("elbo_offset_train") != "0") {
    Note("elbo_offset_train",
         "the original never reads it: its training loss has no offset");
  }
  handle("elbo_offset_eval");
  experiment_.mutable_eval()->set_elbo_offset_eval(true);
  if (Has("elbo_offset_eval") && String("elbo_offset_eval") != "true" &&
      String("elbo_offset_eval") != "1") {
    Note("elbo_offset_eval",
         "the original never reads it and always reports the offset bound");
  }
  handle("use_ema");
  if (Has("use_ema") && String("use_ema") != "false" &&
      String("use_ema") != "0") {
    Note("use_ema", "the original never reads it: no EMA");
  }
  handle("log_image_step");
  if (Has("log_image_step")) {
    Note("log_image_step",
         "the original never reads it: samples at evaluations only");
  }

  // The networks.
  const auto type = experiment_.score_model().score_model_type();
  const std::string dataset = Has("dataset") ? String("dataset") : "";
  handle("dropout");
  const bool ncsnpp = type == ScoreModelConfig::NCSNPP;
  if (Has("dropout")) {
    if (ncsnpp) {
      if (absl::Status s = Set("dropout", "score_model.dropout"); !s.ok())
        return s;
    } else if (OverrideText(Get("dropout")) != "0" &&
               OverrideText(Get("dropout")) != "0.0") {
      Note("dropout", "the original's TinyUNet, HoUNet and MLP ignore it");
    }
  }
  if (type == ScoreModelConfig::HO_UNET) {
    ScoreModelConfig& net = *experiment_.mutable_score_model();
    net.clear_ch_mult();
    if (dataset == "mnist") {
      net.set_ch(32);
      for (int m : {1, 2, 2}) net.add_ch_mult(m);
    } else if (dataset == "cifar" || dataset == "imagenet") {
      net.set_ch(128);
      for (int m : {1, 2, 2, 2}) net.add_ch_mult(m);
    } else {
      return Error("score_model_type",
                   absl::StrCat("= 'HoUNet' has no setting in the original "
                                "for dataset '",
                                dataset, "' (only mnist, cifar, imagenet)"));
    }
    net.set_num_res_blocks(2);
    net.clear_attn_resolutions();
    net.add_attn_resolutions(16);
  }
  for (const std::string& key : NcsnppKeys()) handle(key);
  if (ncsnpp) {
    for (const auto& [key, field] :
         std::vector<std::pair<std::string, std::string>>{
             {"n_channels", "score_model.nf"},
             {"n_resblocks", "score_model.num_res_blocks"},
             {"resamp_with_conv", "score_model.resamp_with_conv"},
             {"use_fir", "score_model.fir"},
             {"skip_rescale", "score_model.skip_rescale"},
             {"init_scale", "score_model.init_scale"},
             {"fourier_scale", "score_model.fourier_scale"}}) {
      if (Has(key)) {
        if (absl::Status s = Set(key, field); !s.ok()) return s;
      }
    }
    for (const auto& [key, field] :
         std::vector<std::pair<std::string, std::string>>{
             {"ch_mult", "score_model.ch_mult"},
             {"attn_resolutions", "score_model.attn_resolutions"},
             {"fir_kernel", "score_model.fir_kernel"}}) {
      if (Has(key)) {
        if (absl::Status s = SetList(key, field); !s.ok()) return s;
      }
    }
    if (Has("resblock_type")) {
      if (absl::Status s = SetEnum("resblock_type", "score_model.resblock_type",
                                   {{"biggan", "BIGGAN"}, {"ddpm", "DDPM"}});
          !s.ok()) {
        return s;
      }
      if (String("resblock_type") == "ddpm") {
        Note("resblock_type",
             "MDM's DDPM residual blocks are score_sde's; the original's fail "
             "on a misspelt keyword, so no original run has them");
      }
    }
    if (Has("embedding_type")) {
      if (absl::Status s =
              SetEnum("embedding_type", "score_model.embedding_type",
                      {{"positional", "POSITIONAL"}, {"fourier", "FOURIER"}});
          !s.ok()) {
        return s;
      }
    }
    if (Has("nonlinearity") && String("nonlinearity") != "swish") {
      return Error("nonlinearity",
                   absl::StrCat("= ", Show(Get("nonlinearity")),
                                ": only swish is implemented"));
    }
    for (const char* key : {"progressive", "progressive_input"}) {
      if (Has(key) && String(key) != "none") {
        return Error(key, absl::StrCat("= ", Show(Get(key)),
                                       ": progressive NCSN++ is not "
                                       "implemented (only none)"));
      }
    }
  }
  // The original flips CIFAR-10's and CelebA's training images, and its
  // ImageNet data module alone shuffles the training set.
  experiment_.mutable_data()->set_random_flip(dataset == "cifar" ||
                                              dataset == "celeba");
  experiment_.mutable_data()->set_shuffle(dataset == "imagenet");

  for (const auto& [key, value] : config_.values) {
    if (!handled.count(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(key), ": unknown key (not one of the original's "
                                   "config keys)"));
    }
  }
  for (const std::string& key : RequiredKeys(config_)) {
    if (!Has(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          config_.source, ": lacks ", key,
          ", which the original reads on every such run and has no default "
          "for (it would stop with AttributeError)"));
    }
  }
  if (absl::Status s = ApplyOverrides(overrides_, experiment_); !s.ok())
    return s;
  ResolveDefaults(experiment_);
  if (absl::Status s = ValidateExperiment(experiment_); !s.ok()) return s;
  return ImportedConfig{experiment_, notes_};
}

}  // namespace

absl::StatusOr<OriginalConfig> ReadOriginalYaml(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat("cannot read YAML file ", path));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ",
                     e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a YAML mapping of config keys"));
  }
  OriginalConfig config;
  config.source = path;
  for (const auto& item : root) {
    const std::string key = item.first.as<std::string>();
    const std::string origin =
        absl::StrCat(path, ":", item.first.Mark().line + 1);
    if (config.values.count(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", key, " appears twice"));
    }
    const YAML::Node& node = item.second;
    if (node.IsNull()) {
      config.values[key] = std::monostate();
    } else if (!node.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", key, " is not a single value"));
    } else if (node.Tag() == "!") {  // Quoted: a string.
      config.values[key] = node.Scalar();
    } else {
      config.values[key] = ResolvePlainScalar(node.Scalar());
    }
    config.origins[key] = origin;
  }
  return config;
}

absl::StatusOr<OriginalConfig> OriginalConfigFromJson(
    const std::string& json_text, const std::string& source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " is not JSON: ", e.what()));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " is not a mapping of config keys"));
  }
  OriginalConfig config;
  config.source = source;
  for (const auto& [key, value] : json.items()) {
    if (value.is_null()) {
      config.values[key] = std::monostate();
    } else if (value.is_boolean()) {
      config.values[key] = value.get<bool>();
    } else if (value.is_number_integer()) {
      config.values[key] = value.get<int64_t>();
    } else if (value.is_number()) {
      config.values[key] = value.get<double>();
    } else if (value.is_string()) {
      config.values[key] = value.get<std::string>();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", key, " is not a single value"));
    }
    config.origins[key] = source;
  }
  return config;
}

absl::StatusOr<ImportedConfig> ExperimentFromOriginal(
    const OriginalConfig& config, const std::vector<std::string>& overrides) {
  return Importer(config, overrides).Run();
}

}  // namespace mdm::proto
