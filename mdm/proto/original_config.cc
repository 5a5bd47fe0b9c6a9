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

// How one of the original's keys becomes part of an Experiment.
struct KeyRule {
  enum Kind {
    kValue,  // `field` = the value, typed by the field.
    kEnum,   // `field` = values[value]; other values are refused.
    kList,   // `field` = the list, given as "1,2,2,2" or a single number.
    kNoted,  // Not stored: the original ignores it or does something else.
    kOnly,   // Not stored: only the values in `quiet` are implemented.
  };
  std::string key;
  Kind kind = kValue;
  std::string field;                          // kValue, kEnum, kList.
  std::map<std::string, std::string> values;  // kEnum: the original's: ours.
  // Values that need no `note` (any other value gets it in the import's
  // notes); kOnly: the values accepted (any other is refused with `note`).
  std::vector<std::string> quiet;
  std::string note;
};

class Importer {
 public:
  Importer(const OriginalConfig& config,
           const std::vector<std::string>& overrides)
      : config_(config), overrides_(overrides) {}

  absl::StatusOr<ImportedConfig> Run();

 private:
  // Applies `rule` when the config has its key.
  absl::Status Apply(const KeyRule& rule);
  // HoUNet's channels, multipliers, blocks and attention as the original
  // sets them for `dataset` (its YAMLs carry none of them).
  absl::Status SetHoUNetSizes(const std::string& dataset);
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

// The keys every run reads, in the order they are applied (the first
// failure is the one reported). A table, one row per key of the original:
// its length is theirs.
const std::vector<KeyRule>& GeneralKeyRules() {
  using K = KeyRule;
  static const auto* rules = new std::vector<KeyRule>{
      {"seed", K::kValue, "seed"},
      {"wandb_project", K::kValue, "output.project"},
      {"wandb_entity", K::kValue, "output.entity"},
      {"save_dir", K::kValue, "output.output_dir"},
      {"data_dir", K::kValue, "data.data_dir"},
      {"resume_checkpoint", K::kValue, "training.resume_checkpoint"},
      {"eval_every_n_epoch", K::kValue, "training.eval_every_n_epoch"},
      {"is_image", K::kValue, "data.is_image"},
      {"in_channels", K::kValue, "data.in_channels"},
      {"out_channels", K::kValue, "data.out_channels"},
      {"height", K::kValue, "data.height"},
      {"width", K::kValue, "data.width"},
      {"dim", K::kValue, "data.vector_dim"},
      {"elbo_mc_samples_eval", K::kValue, "eval.elbo_mc_samples_eval"},
      {"elbo_mc_samples_train", K::kValue, "objective.elbo_mc_samples_train"},
      {"hutch_mc", K::kValue, "objective.hutch_mc"},
      {"n_vars", K::kValue, "diffusion.n_vars"},
      {"stationary_aux_var", K::kValue, "diffusion.stationary_aux_var"},
      {"init_aux_var", K::kValue, "diffusion.init_aux_var"},
      {"stationary_x_var", K::kValue, "diffusion.stationary_x_var"},
      {"d_full", K::kValue, "diffusion.d_full"},
      {"beta_0", K::kValue, "diffusion.beta_0"},
      {"beta_1", K::kValue, "diffusion.beta_1"},
      {"alda_psi", K::kValue, "diffusion.alda_psi"},
      {"alda_gamma", K::kValue, "diffusion.alda_gamma"},
      {"batch_size", K::kValue, "training.batch_size"},
      {"test_batch_size", K::kValue, "eval.test_batch_size"},
      {"accumulate_grad_batches", K::kValue,
       "training.accumulate_grad_batches"},
      {"n_epochs", K::kValue, "training.n_epochs"},
      {"lr", K::kValue, "optimizer.lr"},
      {"lr_scheduling", K::kValue, "optimizer.lr_scheduling"},
      {"lr_sched_max_iters", K::kValue, "optimizer.lr_sched_max_iters"},
      {"grad_clip_val", K::kValue, "optimizer.grad_clip_val"},
      {"warmup_iters", K::kValue, "optimizer.warmup_iters"},
      {"weight_decay", K::kValue, "optimizer.weight_decay"},
      {"ema_decay", K::kValue, "optimizer.ema_decay"},
      {"imp_weight_train", K::kValue, "objective.imp_weight_train"},
      {"switch_epoch", K::kValue, "objective.switch_epoch"},
      {"val_fid_epoch", K::kValue, "eval.val_fid_epoch"},
      {"fid_n_samples", K::kValue, "eval.fid_n_samples"},
      {"hybrid_transition_kernel", K::kValue,
       "diffusion.hybrid_transition_kernel"},
      {"T_max", K::kValue, "diffusion.t_max"},
      {"T_min_sampling", K::kValue, "sampling.t_min_sampling"},
      {"T_min_eval", K::kValue, "eval.t_min_eval"},
      {"T_min_train", K::kValue, "objective.t_min_train"},
      {"log_image_size", K::kValue, "sampling.log_image_size"},
      {"n_FEs", K::kValue, "sampling.n_fes"},
      {"dataset", K::kEnum, "data.dataset",
       {{"mnist", "MNIST"},
        {"cifar", "CIFAR10"},
        {"celeba", "CELEBA"},
        {"imagenet", "IMAGENET32"}}},
      {"sde_type", K::kEnum, "diffusion.sde_type",
       {{"vpsde", "VPSDE"},
        {"cld", "CLD"},
        {"alda", "ALDA"},
        {"malda", "MALDA"},
        {"learned", "LEARNED"},
        {"learned_2", "LEARNED"},
        {"learned_3", "LEARNED"}}},
      {"beta_fn_type", K::kEnum, "diffusion.beta_fn_type",
       {{"inhom", "INHOM"}, {"hom", "HOM"}}},
      {"score_parameterization", K::kEnum,
       "score_model.score_parameterization",
       {{"noise_pred", "NOISE_PRED"}, {"score_pred", "SCORE_PRED"}}},
      {"score_model_type", K::kEnum, "score_model.score_model_type",
       {{"TinyUNet", "TINY_UNET"},
        {"MLP", "MLP"},
        {"HoUNet", "HO_UNET"},
        {"ncsnpp", "NCSNPP"}}},
      {"transform", K::kEnum, "data.transform",
       {{"logit", "LOGIT"}, {"center", "CENTER"}}},
      {"optim_type", K::kEnum, "optimizer.optim_type",
       {{"adam", "ADAM"}, {"adamw", "ADAMW"}, {"adamax", "ADAMAX"}}},
      {"train_loss_type", K::kEnum, "objective.train_loss_type",
       {{"dsm_elbo", "DSM_ELBO"},
        {"ism_elbo", "ISM_ELBO"},
        {"noise_pred", "NOISE_PRED_LOSS"},
        {"cld_noise_pred", "CLD_NOISE_PRED"},
        {"noise_pred_to_elbo", "NOISE_PRED_TO_ELBO"}}},
      {"sampling_method", K::kEnum, "sampling.sampling_method", {{"EM", "EM"}}},
      {"sampling_t_arr_fn", K::kEnum, "sampling.sampling_t_arr_fn",
       {{"linear", "LINEAR"}, {"quadratic", "QUADRATIC"}}},
      // Read by the original, but its behaviour is not what the value says.
      {"val_loss_type", K::kNoted, "", {}, {"dsm_elbo"},
       "the original never reads it and evaluates the DSM ELBO"},
      {"elbo_offset_train", K::kNoted, "", {}, {"false", "0"},
       "the original never reads it: its training loss has no offset"},
      {"elbo_offset_eval", K::kNoted, "", {}, {"true", "1"},
       "the original never reads it and always reports the offset bound"},
      {"use_ema", K::kNoted, "", {}, {"false", "0"},
       "the original never reads it: no EMA"},
      {"log_image_step", K::kNoted, "", {}, {},
       "the original never reads it: samples at evaluations only"},
  };
  return *rules;
}

// `dropout`: the original's NCSN++ applies it; its other networks ignore it.
KeyRule DropoutRule(bool ncsnpp) {
  if (ncsnpp) return {"dropout", KeyRule::kValue, "score_model.dropout"};
  return {"dropout", KeyRule::kNoted, "", {}, {"0", "0.0"},
          "the original's TinyUNet, HoUNet and MLP ignore it"};
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

// The NCSN++ keys read with score_model_type ncsnpp, in the order applied.
const std::vector<KeyRule>& NcsnppKeyRules() {
  using K = KeyRule;
  static const auto* rules = new std::vector<KeyRule>{
      {"n_channels", K::kValue, "score_model.nf"},
      {"n_resblocks", K::kValue, "score_model.num_res_blocks"},
      {"resamp_with_conv", K::kValue, "score_model.resamp_with_conv"},
      {"use_fir", K::kValue, "score_model.fir"},
      {"skip_rescale", K::kValue, "score_model.skip_rescale"},
      {"init_scale", K::kValue, "score_model.init_scale"},
      {"fourier_scale", K::kValue, "score_model.fourier_scale"},
      {"ch_mult", K::kList, "score_model.ch_mult"},
      {"attn_resolutions", K::kList, "score_model.attn_resolutions"},
      {"fir_kernel", K::kList, "score_model.fir_kernel"},
      {"resblock_type", K::kEnum, "score_model.resblock_type",
       {{"biggan", "BIGGAN"}, {"ddpm", "DDPM"}}, {"biggan"},
       "MDM's DDPM residual blocks are score_sde's; the original's fail on a "
       "misspelt keyword, so no original run has them"},
      {"embedding_type", K::kEnum, "score_model.embedding_type",
       {{"positional", "POSITIONAL"}, {"fourier", "FOURIER"}}},
      {"nonlinearity", K::kOnly, "", {}, {"swish"},
       "only swish is implemented"},
      {"progressive", K::kOnly, "", {}, {"none"},
       "progressive NCSN++ is not implemented (only none)"},
      {"progressive_input", K::kOnly, "", {}, {"none"},
       "progressive NCSN++ is not implemented (only none)"},
  };
  return *rules;
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

absl::Status Importer::Apply(const KeyRule& rule) {
  if (!Has(rule.key)) return absl::OkStatus();
  absl::Status status;
  switch (rule.kind) {
    case KeyRule::kValue:
      status = Set(rule.key, rule.field);
      break;
    case KeyRule::kEnum:
      status = SetEnum(rule.key, rule.field, rule.values);
      break;
    case KeyRule::kList:
      status = SetList(rule.key, rule.field);
      break;
    case KeyRule::kNoted:
    case KeyRule::kOnly:
      break;
  }
  if (!status.ok()) return status;
  const std::string value = String(rule.key);
  if (rule.note.empty() || std::find(rule.quiet.begin(), rule.quiet.end(),
                                     value) != rule.quiet.end()) {
    return absl::OkStatus();
  }
  if (rule.kind == KeyRule::kOnly) {
    return Error(rule.key,
                 absl::StrCat("= ", Show(Get(rule.key)), ": ", rule.note));
  }
  Note(rule.key, rule.note);
  return absl::OkStatus();
}

absl::Status Importer::SetHoUNetSizes(const std::string& dataset) {
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
  return absl::OkStatus();
}

absl::StatusOr<ImportedConfig> Importer::Run() {
  std::set<std::string> handled = {"checkpoint_path", "dropout"};
  for (const KeyRule& rule : GeneralKeyRules()) {
    handled.insert(rule.key);
    if (absl::Status s = Apply(rule); !s.ok()) return s;
  }
  // The original reads "None" as no checkpoint.
  if (Has("checkpoint_path")) {
    const std::string path = String("checkpoint_path");
    if (path != "None" && !path.empty()) {
      if (absl::Status s = Set("checkpoint_path", "training.checkpoint_path");
          !s.ok()) {
        return s;
      }
    }
  }
  // The original always reports the offset bound.
  experiment_.mutable_eval()->set_elbo_offset_eval(true);

  // The networks.
  const auto type = experiment_.score_model().score_model_type();
  const std::string dataset = Has("dataset") ? String("dataset") : "";
  const bool ncsnpp = type == ScoreModelConfig::NCSNPP;
  if (absl::Status s = Apply(DropoutRule(ncsnpp)); !s.ok()) return s;
  if (type == ScoreModelConfig::HO_UNET) {
    if (absl::Status s = SetHoUNetSizes(dataset); !s.ok()) return s;
  }
  for (const std::string& key : NcsnppKeys()) handled.insert(key);
  if (ncsnpp) {
    for (const KeyRule& rule : NcsnppKeyRules()) {
      if (absl::Status s = Apply(rule); !s.ok()) return s;
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
