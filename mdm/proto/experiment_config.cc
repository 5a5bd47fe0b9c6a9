#include "mdm/proto/experiment_config.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mdm/proto/process_table.h"
#include "mdm/proto/text_format.h"

namespace mdm::proto {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;
using ::google::protobuf::TextFormat;

// More bins than this are more parameters than a likelihood bound can
// place (and each adds a matrix exponential per kernel evaluation).
constexpr int kMaxTimeBins = 64;

absl::Status Invalid(absl::string_view field, absl::string_view requirement,
                     double got) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be ", requirement, ", got ", got));
}

// Every floating-point field of `message` (set or default, nested ones
// included) is finite: inf and nan are never meaningful settings.
absl::Status RequireFiniteNumbers(const Message& message,
                                  const std::string& prefix) {
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  const google::protobuf::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const std::string name = prefix + field->name();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const bool is_double =
            field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE;
        const int n = field->is_repeated()
                          ? reflection->FieldSize(message, field)
                          : 1;
        for (int k = 0; k < n; ++k) {
          const double value =
              field->is_repeated()
                  ? (is_double
                         ? reflection->GetRepeatedDouble(message, field, k)
                         : reflection->GetRepeatedFloat(message, field, k))
                  : (is_double ? reflection->GetDouble(message, field)
                               : reflection->GetFloat(message, field));
          if (!std::isfinite(value)) return Invalid(name, "finite", value);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (!field->is_repeated()) {
          if (absl::Status s = RequireFiniteNumbers(
                  reflection->GetMessage(message, field), name + ".");
              !s.ok()) {
            return s;
          }
        }
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

// The numeric range of every field that has one, as data, checked by
// ValidateRanges in this order; rules relating two fields are ifs in
// ValidateExperiment. A bound is inclusive unless marked open; a
// `requirement` words a two-sided range in the message.
struct FieldRange {
  const char* field;  // "block.field".
  double low;
  bool low_open = false;  // value > low; "positive" when low is 0.
  double high = std::numeric_limits<double>::infinity();
  bool high_open = false;
  const char* requirement = nullptr;
};

constexpr bool kOpen = true;
// Upper bounds past which values exhaust memory or threads rather than mean
// anything (a batch repeated 1e9 times, 1e5 decoding threads).
constexpr double kMaxWorkers = 64, kMaxRepeats = 1024;

constexpr FieldRange kFieldRanges[] = {
    {"diffusion.stationary_x_var", 0, kOpen},
    {"diffusion.stationary_aux_var", 0, kOpen},
    {"diffusion.init_aux_var", 0, kOpen},
    {"diffusion.beta_0", 0, kOpen},
    {"diffusion.t_max", 0, kOpen},
    {"diffusion.alda_gamma", 0, kOpen},
    {"diffusion.alda_psi", 0, kOpen},
    {"data.in_channels", 0, kOpen},
    {"data.out_channels", 0, kOpen},
    {"data.height", 0, kOpen},
    {"data.width", 0, kOpen},
    {"data.vector_dim", 0, kOpen},
    {"data.limit_examples", 0},
    {"data.validation_examples", 0},
    {"data.num_workers", 0, false, kMaxWorkers},
    {"score_model.hidden_dim", 0, kOpen},
    {"score_model.ch", 0, kOpen},
    {"score_model.dropout", 0, false, 1, kOpen},
    {"score_model.num_res_blocks", 1},
    {"objective.elbo_mc_samples_train", 1, false, kMaxRepeats},
    {"objective.hutch_mc", 1, false, kMaxRepeats},
    {"objective.switch_epoch", -1},
    {"optimizer.lr", 0, kOpen},
    {"optimizer.weight_decay", 0},
    {"optimizer.grad_clip_val", 0},
    {"optimizer.warmup_iters", 0},
    {"optimizer.lr_sched_max_iters", 1},
    {"optimizer.ema_decay", 0, false, 1, kOpen, "in [0, 1)"},
    {"training.n_epochs", 0},
    {"training.batch_size", 0, kOpen},
    {"training.accumulate_grad_batches", 1},
    {"training.max_steps", 0},
    {"training.eval_every_n_epoch", 1},
    {"sampling.n_fes", 0, kOpen},
    {"sampling.log_image_step", 0},
    {"sampling.log_image_size", 0, kOpen},
    {"eval.test_batch_size", 0, kOpen},
    {"eval.elbo_mc_samples_eval", 1, false, kMaxRepeats},
    {"eval.val_fid_epoch", 0, kOpen},
    {"eval.fid_n_samples", 2},
};

// The value of the numeric field at `path` ("field" or "block.field") of
// `root`; NaN when there is none.
double FieldValue(const Message& root, absl::string_view path) {
  const Message* message = &root;
  const FieldDescriptor* field = nullptr;
  for (absl::string_view name : absl::StrSplit(path, '.')) {
    if (field != nullptr) {
      message = &message->GetReflection()->GetMessage(*message, field);
    }
    field = message->GetDescriptor()->FindFieldByName(std::string(name));
    if (field == nullptr) return std::nan("");
  }
  const Reflection* reflection = message->GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return reflection->GetInt32(*message, field);
    case FieldDescriptor::CPPTYPE_INT64:
      return static_cast<double>(reflection->GetInt64(*message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return reflection->GetUInt32(*message, field);
    case FieldDescriptor::CPPTYPE_UINT64:
      return static_cast<double>(reflection->GetUInt64(*message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return reflection->GetDouble(*message, field);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return reflection->GetFloat(*message, field);
    default:
      return std::nan("");
  }
}

// The ranges of the fields under `prefix` ("" for all, "diffusion." for
// one block), read from `root` (an Experiment, or that block's message).
absl::Status ValidateRanges(const Message& root, absl::string_view prefix) {
  for (const FieldRange& range : kFieldRanges) {
    if (!absl::StartsWith(range.field, prefix)) continue;
    const double value =
        FieldValue(root, absl::string_view(range.field).substr(prefix.size()));
    if (std::isnan(value)) {
      return absl::InternalError(
          absl::StrCat(range.field, " is no numeric field of Experiment"));
    }
    const bool low_ok = range.low_open ? value > range.low : value >= range.low;
    const bool high_ok =
        range.high_open ? value < range.high : value <= range.high;
    if (low_ok && high_ok) continue;
    if (range.requirement != nullptr) {
      return Invalid(range.field, range.requirement, value);
    }
    if (!low_ok) {
      return Invalid(range.field,
                     range.low_open && range.low == 0
                         ? std::string("positive")
                         : absl::StrCat(range.low_open ? "above " : "at least ",
                                        range.low),
                     value);
    }
    return Invalid(range.field,
                   absl::StrCat(range.high_open ? "below " : "at most ",
                                range.high),
                   value);
  }
  return absl::OkStatus();
}

// The name a user writes for an enum value, e.g. "CLD".
template <typename Enum>
std::string EnumName(const google::protobuf::EnumDescriptor* descriptor,
                     Enum value) {
  const auto* v = descriptor->FindValueByNumber(static_cast<int>(value));
  return v ? v->name() : absl::StrCat(static_cast<int>(value));
}

absl::Status RequireSpecified(absl::string_view field, int value,
                              const google::protobuf::EnumDescriptor* type) {
  if (value != 0) return absl::OkStatus();
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) names.push_back(type->value(i)->name());
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be set to one of ", absl::StrJoin(names, ", ")));
}

// Checks a time range t_min in (0, t_max).
absl::Status RequireTimeRange(absl::string_view field, double t_min,
                              double t_max) {
  if (t_min > 0 && t_min < t_max) return absl::OkStatus();
  return Invalid(field, absl::StrCat("in (0, diffusion.t_max = ", t_max, ")"),
                 t_min);
}

// Custom-matrix checks in plain double precision: K is tiny.
double Entry(const google::protobuf::RepeatedField<double>& m, int K, int i,
             int j) {
  return m.Get(i * K + j);
}

double MaxAbs(const google::protobuf::RepeatedField<double>& m) {
  double max_abs = 0;
  for (double x : m) max_abs = std::max(max_abs, std::abs(x));
  return max_abs;
}

// Whether the symmetric K x K matrix m is positive semi-definite, to a
// tolerance relative to its largest entry: Cholesky of m + tol I.
bool IsPsd(const google::protobuf::RepeatedField<double>& m, int K) {
  const double tol = 1e-10 * std::max(1.0, MaxAbs(m));
  std::vector<double> L(K * K, 0.0);
  for (int j = 0; j < K; ++j) {
    double pivot = Entry(m, K, j, j) + tol;
    for (int k = 0; k < j; ++k) pivot -= L[j * K + k] * L[j * K + k];
    if (!(pivot > 0)) return false;
    L[j * K + j] = std::sqrt(pivot);
    for (int i = j + 1; i < K; ++i) {
      double sum = Entry(m, K, i, j);
      for (int k = 0; k < j; ++k) sum -= L[i * K + k] * L[j * K + k];
      L[i * K + j] = sum / L[j * K + j];
    }
  }
  return true;
}

absl::Status ValidateCustomMatrices(const DiffusionConfig& config, int K) {
  if (config.q_size() != K * K || config.d_size() != K * K) {
    return absl::InvalidArgumentError(absl::StrCat(
        "diffusion.q and diffusion.d must each hold n_vars^2 = ", K * K,
        " numbers (row-major) for CUSTOM, got ", config.q_size(), " and ",
        config.d_size()));
  }
  for (double x : config.q()) {
    if (!std::isfinite(x)) {
      return absl::InvalidArgumentError("diffusion.q has a non-finite entry");
    }
  }
  for (double x : config.d()) {
    if (!std::isfinite(x)) {
      return absl::InvalidArgumentError("diffusion.d has a non-finite entry");
    }
  }
  if (MaxAbs(config.d()) == 0) {
    return absl::InvalidArgumentError(
        "diffusion.d is all zeros for CUSTOM: a process without noise never "
        "reaches its prior");
  }
  const double q_tol = 1e-12 * std::max(1.0, MaxAbs(config.q()));
  const double d_tol = 1e-12 * std::max(1.0, MaxAbs(config.d()));
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j <= i; ++j) {
      const double q_sum =
          Entry(config.q(), K, i, j) + Entry(config.q(), K, j, i);
      if (std::abs(q_sum) > q_tol) {
        return absl::InvalidArgumentError(
            absl::StrCat("diffusion.q must be antisymmetric (Q^T = -Q), but Q[",
                         i, "][", j, "] + Q[", j, "][", i, "] = ", q_sum));
      }
      const double d_diff =
          Entry(config.d(), K, i, j) - Entry(config.d(), K, j, i);
      if (std::abs(d_diff) > d_tol) {
        return absl::InvalidArgumentError(
            absl::StrCat("diffusion.d must be symmetric, but D[", i, "][", j,
                         "] - D[", j, "][", i, "] = ", d_diff));
      }
    }
  }
  if (!IsPsd(config.d(), K)) {
    return absl::InvalidArgumentError(
        "diffusion.d must be positive semi-definite; it has a negative "
        "eigenvalue");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Experiment> ParseExperiment(absl::string_view text,
                                           absl::string_view source_name) {
  Experiment experiment;
  if (absl::Status s = ParseTextFormat(text, source_name, experiment);
      !s.ok()) {
    return s;
  }
  return experiment;
}

absl::StatusOr<Experiment> ReadExperimentFile(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, " is a directory"));
  }
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot open config file ", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read config file ", path));
  }
  absl::StatusOr<Experiment> experiment = ParseExperiment(text.str(), path);
  if (experiment.ok() && experiment->ByteSizeLong() == 0) {
    // An empty file (or one of comments) is almost surely a mistake: the
    // quick start is what leaving --config out gives.
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, " sets no field"));
  }
  return experiment;
}

absl::Status ApplyOverride(absl::string_view assignment,
                           Experiment& experiment) {
  const size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set=", assignment,
                     ": expected FIELD.PATH=VALUE, e.g. "
                     "diffusion.n_vars=3"));
  }
  const absl::string_view path = assignment.substr(0, eq);
  const absl::string_view value =
      absl::StripAsciiWhitespace(assignment.substr(eq + 1));
  const std::vector<std::string> parts = absl::StrSplit(path, '.');

  Message* message = &experiment;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const FieldDescriptor* field =
        message->GetDescriptor()->FindFieldByName(parts[i]);
    if (field == nullptr ||
        field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        field->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--set=", assignment, ": ", message->GetDescriptor()->name(),
          " has no message field '", parts[i], "'"));
    }
    message = message->GetReflection()->MutableMessage(message, field);
  }
  const FieldDescriptor* field =
      message->GetDescriptor()->FindFieldByName(parts.back());
  if (field == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--set=", assignment, ": ", message->GetDescriptor()->name(),
        " has no field '", parts.back(), "'"));
  }
  std::string text(value);
  const bool quoted =
      !text.empty() && (text.front() == '"' || text.front() == '\'');
  if (field->type() == FieldDescriptor::TYPE_STRING && !quoted) {
    text = absl::StrCat("\"", absl::CEscape(text), "\"");
  }
  if (field->is_repeated() && (text.empty() || text.front() != '[')) {
    text = absl::StrCat("[", text, "]");
  }
  // Replace rather than merge: an override is the field's new value.
  message->GetReflection()->ClearField(message, field);
  return ParseTextFormat(absl::StrCat(field->name(), ": ", text),
                         absl::StrCat("--set=", assignment, " (value)"),
                         *message, /*merge=*/true);
}

absl::Status ApplyOverrides(const std::vector<std::string>& assignments,
                            Experiment& experiment) {
  for (const std::string& assignment : assignments) {
    if (absl::Status s = ApplyOverride(assignment, experiment); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

void ResolveDefaults(Experiment& experiment) {
  DiffusionConfig& diffusion = *experiment.mutable_diffusion();
  diffusion.set_n_vars(ResolvedNumVars(diffusion));
  ScoreModelConfig& score_model = *experiment.mutable_score_model();
  // The original's HoUNet is narrower and shallower on 28 x 28 images
  // (ch 32, ch_mult 1, 2, 2) than on the others (ch 128, 1, 2, 2, 2).
  const DataConfig::Dataset dataset = experiment.data().dataset();
  const bool small_ho_unet =
      score_model.score_model_type() == ScoreModelConfig::HO_UNET &&
      (dataset == DataConfig::MNIST || dataset == DataConfig::FASHION_MNIST);
  if (small_ho_unet && !score_model.has_ch()) score_model.set_ch(32);
  if (score_model.ch_mult_size() == 0) {
    for (int m : small_ho_unet ? std::vector<int>{1, 2, 2}
                               : std::vector<int>{1, 2, 2, 2}) {
      score_model.add_ch_mult(m);
    }
  }
  if (score_model.attn_resolutions_size() == 0) {
    score_model.add_attn_resolutions(16);
  }
  if (score_model.fir_kernel_size() == 0) {
    for (int k : {1, 3, 3, 1}) score_model.add_fir_kernel(k);
  }
}

absl::Status ValidateDiffusionConfig(const DiffusionConfig& config) {
  absl::Status s = RequireSpecified("diffusion.sde_type", config.sde_type(),
                                    DiffusionConfig::SdeType_descriptor());
  if (!s.ok()) return s;
  const int K = ResolvedNumVars(config);
  const std::string process =
      EnumName(DiffusionConfig::SdeType_descriptor(), config.sde_type());
  if (config.sde_type() == DiffusionConfig::CUSTOM) {
    s = K >= 1 ? ValidateCustomMatrices(config, K)
               : absl::InvalidArgumentError(absl::StrCat(
                     "diffusion.q must hold K*K numbers for CUSTOM, got ",
                     config.q_size()));
  } else if (const ProcessTraits* traits =
                 FindProcess(config.sde_type())) {
    if (K < traits->min_vars ||
        (traits->max_vars > 0 && K > traits->max_vars)) {
      s = absl::InvalidArgumentError(
          absl::StrCat("diffusion.n_vars must be ",
                       AllowedVars(*traits), " for ", process,
                       ", got ", K));
    }
  }
  if (!s.ok()) return s;
  if (config.sde_type() != DiffusionConfig::CUSTOM &&
      (config.q_size() > 0 || config.d_size() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "diffusion.q and diffusion.d are only for CUSTOM, not ", process));
  }
  if (s = ValidateRanges(config, "diffusion."); !s.ok()) return s;
  if (s = RequireSpecified("diffusion.beta_fn_type", config.beta_fn_type(),
                           DiffusionConfig::BetaFnType_descriptor());
      !s.ok()) {
    return s;
  }
  if (config.d_full() && config.sde_type() != DiffusionConfig::LEARNED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "diffusion.d_full is for LEARNED processes, not ", process));
  }
  if (config.d_full_cholesky() && !config.d_full()) {
    return absl::InvalidArgumentError(
        "diffusion.d_full_cholesky needs diffusion.d_full: true");
  }
  if (config.time_bins() < 1 || config.time_bins() > kMaxTimeBins) {
    return Invalid("diffusion.time_bins",
                   absl::StrCat("1 to ", kMaxTimeBins), config.time_bins());
  }
  if (config.time_bins() > 1 && config.sde_type() != DiffusionConfig::LEARNED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "diffusion.time_bins > 1 is for LEARNED processes, not ", process));
  }
  if (config.beta_fn_type() == DiffusionConfig::INHOM &&
      !(config.beta_1() >= config.beta_0())) {
    return Invalid(
        "diffusion.beta_1",
        absl::StrCat("at least diffusion.beta_0 = ", config.beta_0()),
        config.beta_1());
  }
  return absl::OkStatus();
}

// ValidateExperiment's rules in three parts, checked in this order (the
// first violated one is reported). Every enum chosen, vector data
// untransformed, the numeric ranges, and the times within (0, t_max].
absl::Status ValidateChoicesAndRanges(const Experiment& experiment) {
  absl::Status s;
  const double t_max = experiment.diffusion().t_max();
  const DataConfig& data = experiment.data();
  if (s = RequireSpecified("data.dataset", data.dataset(),
                           DataConfig::Dataset_descriptor());
      !s.ok()) {
    return s;
  }
  if (s = RequireSpecified("data.transform", data.transform(),
                           DataConfig::Transform_descriptor());
      !s.ok()) {
    return s;
  }
  if (!data.is_image() && data.transform() != DataConfig::NONE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data.transform must be NONE for vector data (data.is_image: false), "
        "got ",
        EnumName(DataConfig::Transform_descriptor(), data.transform())));
  }
  if (s = ValidateRanges(experiment, ""); !s.ok()) return s;
  for (const auto& [field, type, descriptor] :
       std::vector<std::tuple<const char*, int,
                              const google::protobuf::EnumDescriptor*>>{
           {"score_model.score_parameterization",
            experiment.score_model().score_parameterization(),
            ScoreModelConfig::ScoreParameterization_descriptor()},
           {"score_model.score_model_type",
            experiment.score_model().score_model_type(),
            ScoreModelConfig::ScoreModelType_descriptor()},
           {"objective.train_loss_type",
            experiment.objective().train_loss_type(),
            ObjectiveConfig::LossType_descriptor()},
           {"objective.val_loss_type", experiment.objective().val_loss_type(),
            ObjectiveConfig::LossType_descriptor()},
           {"optimizer.optim_type", experiment.optimizer().optim_type(),
            OptimizerConfig::OptimType_descriptor()},
           {"sampling.sampling_method", experiment.sampling().sampling_method(),
            SamplingConfig::SamplingMethod_descriptor()},
           {"sampling.sampling_t_arr_fn",
            experiment.sampling().sampling_t_arr_fn(),
            SamplingConfig::TimeGrid_descriptor()},
       }) {
    if (s = RequireSpecified(field, type, descriptor); !s.ok()) return s;
  }
  for (const auto& [field, t_min] : std::vector<std::pair<const char*, double>>{
           {"objective.t_min_train", experiment.objective().t_min_train()},
           {"eval.t_min_eval", experiment.eval().t_min_eval()},
           {"sampling.t_min_sampling", experiment.sampling().t_min_sampling()},
       }) {
    if (s = RequireTimeRange(field, t_min, t_max); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The rules that relate optimizer and objective fields.
absl::Status ValidateOptimizerAndObjective(const Experiment& experiment) {
  absl::Status s;
  const OptimizerConfig& optimizer = experiment.optimizer();
  if (s = RequireSpecified("optimizer.lr_schedule", optimizer.lr_schedule(),
                           OptimizerConfig::LrSchedule_descriptor());
      !s.ok()) {
    return s;
  }
  if (optimizer.lr_schedule() == OptimizerConfig::ORIGINAL &&
      optimizer.lr_scheduling() && optimizer.warmup_iters() < 1) {
    return Invalid("optimizer.warmup_iters",
                   "at least 1 with lr_scheduling (the original divides by "
                   "it)",
                   optimizer.warmup_iters());
  }
  const ObjectiveConfig& objective = experiment.objective();
  if (s = RequireSpecified("objective.time_proposal",
                           objective.time_proposal(),
                           ObjectiveConfig::TimeProposal_descriptor());
      !s.ok()) {
    return s;
  }
  if (objective.time_proposal() == ObjectiveConfig::ADAPTIVE) {
    if (!objective.imp_weight_train()) {
      return absl::InvalidArgumentError(
          "objective.time_proposal ADAPTIVE needs objective.imp_weight_train: "
          "true");
    }
    if (objective.adaptive_bins() < 2 || objective.adaptive_bins() > 1000) {
      return Invalid("objective.adaptive_bins", "in [2, 1000]",
                     objective.adaptive_bins());
    }
    if (!(objective.adaptive_vp_share() > 0 &&
          objective.adaptive_vp_share() <= 1)) {
      return Invalid("objective.adaptive_vp_share", "in (0, 1]",
                     objective.adaptive_vp_share());
    }
    if (!(objective.adaptive_decay() >= 0 && objective.adaptive_decay() < 1)) {
      return Invalid("objective.adaptive_decay", "in [0, 1)",
                     objective.adaptive_decay());
    }
  }
  if (experiment.objective().val_loss_type() != ObjectiveConfig::DSM_ELBO) {
    return absl::InvalidArgumentError(absl::StrCat(
        "objective.val_loss_type must be DSM_ELBO (evaluation reports the "
        "importance-sampled DSM ELBO, as the original does), got ",
        EnumName(ObjectiveConfig::LossType_descriptor(),
                 experiment.objective().val_loss_type())));
  }
  if (experiment.objective().train_loss_type() ==
      ObjectiveConfig::CLD_NOISE_PRED) {
    const DiffusionConfig& diffusion = experiment.diffusion();
    const auto type = diffusion.sde_type();
    if (!NoiseFreeData(diffusion)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "objective.train_loss_type CLD_NOISE_PRED needs a process whose "
          "data variable gets no noise (D_00 = 0: CLD, ALDA, MALDA or such a "
          "CUSTOM one), not ",
          EnumName(DiffusionConfig::SdeType_descriptor(), type)));
    }
  }
  return absl::OkStatus();
}

// The network's multipliers, FID's data, and the outputs MDM writes.
absl::Status ValidateNetworkAndOutputs(const Experiment& experiment) {
  const DataConfig& data = experiment.data();
  for (int m : experiment.score_model().ch_mult()) {
    if (m <= 0) return Invalid("score_model.ch_mult entries", "positive", m);
  }
  if (!experiment.eval().fid_model().empty() && !data.is_image()) {
    return absl::InvalidArgumentError(
        "eval.fid_model: FID needs image data (data.is_image: true)");
  }
  if (!experiment.output().offline()) {
    return absl::InvalidArgumentError(
        "output.offline must be true: MDM writes TensorBoard files and has no "
        "W&B client (`wandb sync` imports them)");
  }
  return absl::OkStatus();
}

absl::Status ValidateExperiment(const Experiment& experiment) {
  absl::Status s = RequireFiniteNumbers(experiment, "");
  if (!s.ok()) return s;
  if (s = ValidateDiffusionConfig(experiment.diffusion()); !s.ok()) return s;
  if (s = ValidateChoicesAndRanges(experiment); !s.ok()) return s;
  if (s = ValidateOptimizerAndObjective(experiment); !s.ok()) return s;
  return ValidateNetworkAndOutputs(experiment);
}

absl::StatusOr<Experiment> LoadExperiment(
    const std::string& path, const std::vector<std::string>& overrides) {
  absl::StatusOr<Experiment> experiment = ReadExperimentFile(path);
  if (!experiment.ok()) return experiment.status();
  if (absl::Status s = ApplyOverrides(overrides, *experiment); !s.ok()) {
    return s;
  }
  ResolveDefaults(*experiment);
  if (absl::Status s = ValidateExperiment(*experiment); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return experiment;
}

std::string ExperimentToText(const Experiment& experiment) {
  std::string text;
  TextFormat::Printer printer;
  printer.PrintToString(experiment, &text);
  return text;
}

}  // namespace mdm::proto
