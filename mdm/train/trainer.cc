#include "mdm/train/trainer.h"

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mdm/data/factory.h"
#include "mdm/eval/fid_evaluation.h"
#include "mdm/model/checkpoint.h"
#include "mdm/objectives/elbo.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/sampling/picture.h"
#include "mdm/sampling/sample.h"
#include "mdm/train/optimizers.h"
#include "mdm/train/run_directory.h"
#include "mdm/util/atomic_file.h"
#include "mdm/util/device.h"
#include "mdm/util/logging.h"
#include "mdm/util/progress.h"
#include "mdm/util/run_lock.h"
#include "mdm/util/seed_streams.h"
#include "mdm/util/stop_signal.h"

namespace mdm::train {
namespace {

// Batches per epoch and evaluation batches under --debug_mode.
constexpr int64_t kDebugBatches = 2;
// training.on_nonfinite: SKIP ends the run after this many skipped steps in
// a row: the weights themselves are then broken, not one batch.
constexpr int64_t kMaxSkippedInARow = 100;

// Evaluation mode and the EMA weights (when kept) for a scope; training
// mode and the live weights again after it.
class EvaluationWeights {
 public:
  EvaluationWeights(const model::Model& model, model::Ema* ema)
      : model_(model), ema_(ema) {
    model_.SetTraining(false);
    if (ema_) ema_->Swap();
  }
  ~EvaluationWeights() {
    if (ema_) ema_->Swap();
    model_.SetTraining(true);
  }

 private:
  const model::Model& model_;
  model::Ema* ema_;
};

// The loader position, in batches of `batch_size`, of a checkpoint that
// had read `saved_step` batches of `saved_batch_size` (global batch sizes)
// of an epoch of `epoch_examples`: the same example, or the epoch's end. A
// position that is no whole number of the new batches is refused: a
// resumed run neither skips nor repeats an example.
absl::StatusOr<int64_t> LoaderStepFor(int64_t saved_step,
                                      int64_t saved_batch_size,
                                      int64_t batch_size,
                                      const data::DataLoader& loader,
                                      int64_t epoch_examples, bool drop_last,
                                      const std::string& checkpoint) {
  if (saved_batch_size == batch_size) return saved_step;
  const int64_t examples = saved_step * saved_batch_size;
  const bool epoch_over = drop_last
                              ? examples + saved_batch_size > epoch_examples
                              : examples >= epoch_examples;
  if (epoch_over) return loader.batches_per_epoch();
  if (examples % batch_size != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot resume ", checkpoint, " with training.batch_size = ",
        batch_size, ": it stopped ", examples,
        " examples into an epoch, no whole number of such batches (resume "
        "with training.batch_size = ",
        saved_batch_size, " until the epoch ends)"));
  }
  return examples / batch_size;
}

}  // namespace

// What Run counts for the progress line and metrics.csv's throughput.
struct Trainer::Progress {
  util::ProgressReporter reporter;
  std::chrono::steady_clock::time_point last_log;
  int64_t examples_trained = 0;  // In this run, by every rank.
  int64_t examples_at_log = 0;
};

Trainer::~Trainer() = default;

int Trainer::rank() const {
  return options_.communicator ? options_.communicator->rank() : 0;
}

int Trainer::world_size() const {
  return options_.communicator ? options_.communicator->world_size() : 1;
}

std::string Trainer::Path(const std::string& name) const {
  return options_.output_dir + "/" + name;
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const proto::Experiment& experiment, const TrainerOptions& options) {
  std::unique_ptr<Trainer> t(new Trainer());
  t->experiment_ = experiment;
  t->options_ = options;
  if (absl::Status s = t->Build(); !s.ok()) return s;
  absl::StatusOr<RunStart> start = PlanRunStart(
      options.output_dir, experiment.training().checkpoint_path(),
      options.resume, options.overwrite, t->chief());
  if (!start.ok()) return start.status();
  if (!start->checkpoint.empty()) {
    if (absl::Status s = t->Resume(*start); !s.ok()) return s;
  }
  if (absl::Status s = t->LoadFidNetwork(); !s.ok()) return s;
  // Everything is built and restored: now the output directory, written by
  // one process at a time (the lock lives as long as the trainer).
  if (t->chief()) {
    if (absl::Status s = t->OpenRunDirectory(*start); !s.ok()) return s;
  }
  t->gradient_step_ = std::make_unique<GradientStep>(
      StepParts{.experiment = &t->experiment_,
                .model = &*t->model_,
                .optimizer = t->optimizer_.get(),
                .ema = t->ema_.get(),
                .communicator = options.communicator.get(),
                .rank = t->rank(),
                .world_size = t->world_size(),
                .eight_bit_data = t->train_data_->is_8bit()});
  if (absl::Status s = t->BroadcastInitialState(); !s.ok()) return s;
  return t;
}

absl::Status Trainer::Build() {
  absl::StatusOr<c10::Device> device = util::ParseDevice(options_.device);
  if (!device.ok()) return device.status();
  const uint64_t seed = experiment_.seed();
  const proto::TrainingConfig& training = experiment_.training();
  if (training.batch_size() % world_size() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("training.batch_size = ", training.batch_size(),
                     " is the global batch and must be divisible by the ",
                     world_size(), " data-parallel ranks"));
  }
  absl::StatusOr<model::Model> model =
      model::Model::Create(experiment_, *device);
  if (!model.ok()) return model.status();
  model_.emplace(*std::move(model));

  eval_split_ =
      experiment_.data().validation_examples() > 0 ? "validation" : "test";
  absl::StatusOr<std::shared_ptr<const data::Dataset>> train =
      data::CreateDataset(experiment_.data(), "train", seed);
  if (!train.ok()) return train.status();
  train_data_ = *train;
  // The evaluation split must load too, before any training.
  if (absl::StatusOr<std::shared_ptr<const data::Dataset>> split =
          Split(eval_split_);
      !split.ok()) {
    return split.status();
  }
  if (train_data_->size() < training.batch_size() &&
      experiment_.data().drop_last()) {
    return absl::InvalidArgumentError(absl::StrCat(
        train_data_->name(), " has ", train_data_->size(),
        " examples, fewer than one batch of training.batch_size = ",
        training.batch_size(), " (with data.drop_last)"));
  }
  train_loader_ = std::make_unique<data::DataLoader>(
      train_data_, data::LoaderOptionsFor(
                       experiment_.data(), "train",
                       training.batch_size() / world_size(), seed, rank(),
                       world_size()));
  absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> optimizer =
      CreateOptimizer(experiment_.optimizer(), model_->Parameters());
  if (!optimizer.ok()) return optimizer.status();
  optimizer_ = *std::move(optimizer);
  if (experiment_.optimizer().use_ema()) {
    ema_ = std::make_unique<model::Ema>(model_->NamedParameters(),
                                        experiment_.optimizer().ema_decay());
  }
  return absl::OkStatus();
}

absl::Status Trainer::Resume(const RunStart& start) {
  if (absl::Status s = Restore(start.checkpoint); !s.ok()) return s;
  LOG(INFO) << "resumed from " << start.checkpoint << " at step " << step_
            << ", epoch " << epoch_
            << (owed_ == model::Owed::kNothing
                    ? ""
                    : "; what a stop cut off at this step comes first");
  if (start.own_checkpoint &&
      !experiment_.training().checkpoint_path().empty()) {
    LOG(INFO) << "rolling " << options_.output_dir << " back to step "
              << step_
              << ": its logs and sample pictures of later steps are removed";
  }
  return absl::OkStatus();
}

absl::Status Trainer::LoadFidNetwork() {
  const proto::EvalConfig& eval = experiment_.eval();
  if (!eval.fid_model().empty() && chief()) {
    absl::StatusOr<eval::FeatureNetwork> net =
        eval::FeatureNetwork::Load(eval.fid_model(), options_.device);
    if (!net.ok()) return net.status();
    fid_net_.emplace(*std::move(net));
  } else if (eval.fid_model().empty() && eval.has_val_fid_epoch()) {
    LOG(WARNING) << "eval.val_fid_epoch = " << eval.val_fid_epoch()
                 << ": no FID during training without eval.fid_model (the "
                    "original computes none either)";
  }
  return absl::OkStatus();
}

absl::Status Trainer::OpenRunDirectory(const RunStart& start) {
  const std::string config_text = proto::ExperimentToText(experiment_);
  absl::StatusOr<std::unique_ptr<util::RunLock>> lock =
      PrepareRunDirectory(options_.output_dir, start, config_text);
  if (!lock.ok()) return lock.status();
  lock_ = *std::move(lock);
  std::optional<ResumePoint> resume_point;
  if (!start.checkpoint.empty()) {
    resume_point = ResumePoint{
        .step = step_,
        .evaluation_owed = owed_ == model::Owed::kEvaluation,
        .final_split = eval_split_ == "validation" ? "test" : ""};
    RemoveSamplePicturesAfter(options_.output_dir, step_);
  }
  absl::StatusOr<std::unique_ptr<RunLogger>> logger = RunLogger::Open(
      options_.output_dir, model_->diffusion().num_vars(), resume_point,
      fid_net_.has_value(), model_->diffusion().time_bins());
  if (!logger.ok()) return logger.status();
  logger_ = *std::move(logger);
  return logger_->LogRunInfo(config_text, experiment_.output().project(),
                             experiment_.output().entity(), step_);
}

absl::Status Trainer::BroadcastInitialState() {
  if (world_size() == 1) return absl::OkStatus();
  // Every rank starts from rank 0's state.
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> state;
  for (auto& [name, tensor] : model_->StateDict()) state.push_back(tensor);
  if (ema_) {
    for (const auto& [name, shadow] : ema_->shadows()) state.push_back(shadow);
  }
  for (at::Tensor& tensor : state) {
    if (absl::Status s = options_.communicator->Broadcast(tensor, 0); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

absl::Status Trainer::Restore(const std::string& path) {
  absl::StatusOr<model::Checkpoint> checkpoint = model::ReadCheckpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  if (absl::Status s =
          CheckResumable(checkpoint->experiment, experiment_, path);
      !s.ok()) {
    return s;
  }
  for (const ConfigChange& change :
       ConfigChanges(checkpoint->experiment, experiment_)) {
    LOG(INFO) << "resuming with " << change.field << " = " << change.after
              << " (was " << change.before << ")";
  }
  const std::string what = absl::StrCat("checkpoint ", path);
  if (absl::StatusOr<bool> loaded =
          model::LoadWeights(*checkpoint, what, /*prefer_ema=*/false, *model_);
      !loaded.ok()) {
    return loaded.status();
  }
  if (absl::Status s = LoadOptimizerState(
          *optimizer_, model_->NamedParameters(), checkpoint->optimizer, what);
      !s.ok()) {
    return s;
  }
  if (ema_) {
    if (checkpoint->ema.empty()) {
      LOG(WARNING) << what << " has no EMA; it starts from the weights";
      ema_ = std::make_unique<model::Ema>(model_->NamedParameters(),
                                          experiment_.optimizer().ema_decay());
    } else if (absl::Status s = ema_->Load(checkpoint->ema, what); !s.ok()) {
      return s;
    }
  }
  const model::RunState& state = checkpoint->state;
  step_ = state.step;
  epoch_ = state.epoch;
  owed_ = state.owed;
  absl::StatusOr<int64_t> loader_step = LoaderStepFor(
      state.loader_step, checkpoint->experiment.training().batch_size(),
      experiment_.training().batch_size(), *train_loader_,
      train_data_->size() / world_size() * world_size(),
      checkpoint->experiment.data().drop_last(), path);
  if (!loader_step.ok()) return loader_step.status();
  train_loader_->Seek({.epoch = state.loader_epoch, .step = *loader_step});
  // The best evaluation so far is best.pt's.
  best_bpd_ = std::nullopt;
  const std::string best = Path("checkpoints/best.pt");
  std::error_code error;
  if (std::filesystem::exists(best, error)) {
    absl::StatusOr<model::Checkpoint> best_checkpoint =
        model::ReadCheckpoint(best);
    if (best_checkpoint.ok()) {
      best_bpd_ = best_checkpoint->state.best_bpd;
      if (eval_split_ == "validation") {
        absl::StatusOr<model::Model> best_model =
            model::Model::Create(experiment_, model_->device());
        if (!best_model.ok()) return best_model.status();
        absl::StatusOr<bool> loaded = model::LoadWeights(
            *best_checkpoint, best, /*prefer_ema=*/true, *best_model);
        if (!loaded.ok()) return loaded.status();
        for (const auto& [name, tensor] : best_model->StateDict())
          best_weights_.emplace(name, tensor.detach().clone());
        best_step_ = best_checkpoint->state.step;
      }
    } else {
      LOG(WARNING) << best_checkpoint.status().message()
                   << "; the next evaluation replaces it";
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const data::Dataset>> Trainer::Split(
    const std::string& split) {
  if (split == "train") return train_data_;
  return data::CreateDataset(experiment_.data(), split, experiment_.seed());
}

absl::StatusOr<StepStats> Trainer::OptimizerStep() {
  stop_signal_ = util::StopSignal();
  return gradient_step_->Finish(step_, stop_signal_);
}

absl::StatusOr<StepStats> Trainer::TrainStep(const at::Tensor& x) {
  if (absl::Status s = gradient_step_->AddMicroBatch(x, step_, epoch_);
      !s.ok()) {
    return s;
  }
  return OptimizerStep();
}

absl::Status Trainer::SaveCheckpoint(const std::string& name) const {
  model::RunState state;
  state.step = step_;
  state.epoch = epoch_;
  const data::LoaderPosition position = train_loader_->position();
  state.loader_epoch = position.epoch;
  state.loader_step = position.step;
  state.best_bpd = best_bpd_;
  state.owed = owed_;
  return model::WriteCheckpoint(
      Path("checkpoints/" + name + ".pt"),
      model::Snapshot(experiment_, *model_, ema_.get(),
                      OptimizerState(*optimizer_, model_->NamedParameters()),
                      state));
}

eval::ElboEvaluationOptions Trainer::EvaluationOptions(bool debug) {
  eval::ElboEvaluationOptions options;
  options.stop_requested = [this] { return BeginBatchTogether(); };
  options.max_batches = debug ? kDebugBatches : 0;
  options.rank = rank();
  options.world_size = world_size();
  if (options_.communicator) {
    options.all_reduce_sum = [communicator =
                                  options_.communicator](at::Tensor& t) {
      return communicator->AllReduceSum(t);
    };
  }
  return options;
}

absl::StatusOr<eval::ElboEvaluation> Trainer::Evaluate(const std::string& split,
                                                       int64_t max_batches) {
  absl::StatusOr<std::shared_ptr<const data::Dataset>> dataset = Split(split);
  if (!dataset.ok()) return dataset.status();
  eval::ElboEvaluationOptions options = EvaluationOptions(false);
  options.max_batches = max_batches;
  const EvaluationWeights weights(*model_, ema_.get());
  return eval::EvaluateElbo(*model_, experiment_, *dataset, options);
}

absl::StatusOr<std::string> Trainer::WriteSamples() {
  const proto::DataConfig& data = experiment_.data();
  const bool debug = experiment_.training().debug_mode();
  std::vector<int64_t> shape;
  if (data.is_image()) {
    // A square of log_image_size samples a side; 2 x 2 under --debug_mode.
    const int64_t side = debug ? 2 : experiment_.sampling().log_image_size();
    shape = {side * side,
             model_->diffusion().num_vars(), data.in_channels(), data.height(),
             data.width()};
  } else {
    shape = {debug ? 256 : kToySamples, model_->diffusion().num_vars(),
             data.vector_dim()};
  }
  sampling::SampleOptions options = sampling::SampleOptionsFor(experiment_);
  options.stop_requested = [this] { return BeginBatch(); };
  if (debug) {
    options.steps = std::min<int64_t>(options.steps, 4);
    options.adaptive.rtol = options.adaptive.atol = 1e-2;
  }
  at::Generator gen = util::StreamGenerator(
      experiment_.seed(), util::Stream::kSampling, step_, 0, model_->device());
  absl::StatusOr<sampling::SamplerResult> result;
  {
    const EvaluationWeights weights(*model_, ema_.get());
    result = sampling::Sample(
        model_->diffusion(), model_->Score(), shape,
        at::TensorOptions(model_->device()).dtype(at::kFloat), options, gen);
  }
  if (!result.ok()) return result.status();
  absl::StatusOr<util::EncodedImage> png =
      sampling::DrawSamples(result->u.select(1, 0), data);
  if (!png.ok()) return png.status();
  const std::string path = SamplePicturePath(options_.output_dir, step_);
  if (absl::Status s = util::WriteFileAtomically(path, png->png); !s.ok())
    return s;
  if (absl::Status s =
          logger_->LogSamples(*png, sampling::PictureLegend(data), step_);
      !s.ok()) {
    return s;
  }
  return path;
}

absl::Status Trainer::EvaluateFid() {
  const proto::EvalConfig& config = experiment_.eval();
  const bool debug = experiment_.training().debug_mode();
  if (!fid_reference_) {
    const std::string cache = config.fid_stats().empty()
                                  ? Path("fid_reference.pt")
                                  : config.fid_stats();
    absl::StatusOr<eval::FeatureStatistics> reference = eval::SplitStatistics(
        *fid_net_, experiment_, eval_split_, cache, config.test_batch_size(),
        [this] { return BeginBatch(); });
    if (!reference.ok()) return reference.status();
    fid_reference_ = *std::move(reference);
  }
  eval::FidEvaluationOptions options{
      .samples = debug ? std::min<int64_t>(config.fid_n_samples(), 8)
                       : config.fid_n_samples(),
      .batch_size = config.test_batch_size()};
  options.sampler = sampling::SampleOptionsFor(experiment_);
  options.sampler.stop_requested = [this] { return BeginBatch(); };
  if (debug) options.sampler.steps = std::min<int64_t>(options.sampler.steps, 4);
  at::Generator gen = util::StreamGenerator(
      experiment_.seed(), util::Stream::kFid, step_, 0, model_->device());
  absl::StatusOr<eval::FidResult> fid;
  {
    const EvaluationWeights weights(*model_, ema_.get());
    fid = eval::EvaluateFid(*model_, experiment_, *fid_net_, *fid_reference_,
                            options, gen);
  }
  if (!fid.ok()) return fid.status();
  LOG(INFO) << "epoch " << epoch_ << " step " << step_ << " "
            << eval::FormatFid(*fid);
  return logger_->LogFid(step_, epoch_, eval_split_, *fid);
}

bool Trainer::BeginBatch() {
  if (util::StopRequested()) {
    stop_signal_ = util::StopSignal();
    return true;
  }
  util::CountBatch();
  return false;
}

absl::StatusOr<bool> Trainer::BeginBatchTogether() {
  bool stop = util::StopRequested();
  if (world_size() > 1) {
    at::Tensor flag =
        at::full({1}, stop ? 1.0 : 0.0,
                 at::TensorOptions(model_->device()).dtype(at::kFloat));
    if (absl::Status s = options_.communicator->AllReduceSum(flag); !s.ok())
      return s;
    stop = flag.item<double>() > 0;
  }
  if (!stop) {
    util::CountBatch();
    return false;
  }
  if (stop_signal_ == 0)
    stop_signal_ = util::StopRequested() ? util::StopSignal() : -1;
  return true;
}

absl::Status Trainer::Stopped(const absl::Status& status,
                              absl::string_view where) {
  if (!absl::IsCancelled(status) || stop_signal_ == 0) return status;
  stopped_by_signal_ = stop_signal_;
  LOG(INFO) << (stop_signal_ > 0
                    ? absl::StrCat("stopped by signal ", stop_signal_)
                    : std::string("stopped with another rank"))
            << " " << where << " at step " << step_ << " ("
            << util::BatchesSinceStopSignal()
            << " batches begun after the signal); last.pt saved"
            << (owed_ == model::Owed::kNothing
                    ? ""
                    : owed_ == model::Owed::kEvaluation
                          ? " owing this step's evaluation"
                          : " owing this step's sample picture")
            << ", --resume continues";
  return absl::OkStatus();
}

absl::Status Trainer::SampleStep() {
  absl::Status drawn = absl::OkStatus();
  if (chief()) drawn = WriteSamples().status();
  if (!drawn.ok() && !absl::IsCancelled(drawn)) return drawn;
  absl::StatusOr<bool> stop = BeginBatchTogether();
  if (!stop.ok()) return stop.status();
  if (!*stop) return absl::OkStatus();
  owed_ = drawn.ok() ? model::Owed::kNothing : model::Owed::kSamplePicture;
  if (chief()) {
    if (absl::Status s = SaveCheckpoint("last"); !s.ok()) return s;
  }
  return absl::CancelledError("stopped while drawing samples");
}

absl::Status Trainer::EvaluationCycle(bool final) {
  // last.pt first: the work is kept whatever happens next, and it records
  // that this step's evaluation is owed until the cycle is done.
  owed_ = model::Owed::kEvaluation;
  if (chief()) {
    if (absl::Status s = SaveCheckpoint("last"); !s.ok()) return s;
  }
  if (absl::Status s = EvaluateAndRecord(final); !s.ok()) return s;
  owed_ = model::Owed::kNothing;
  return chief() ? SaveCheckpoint("last") : absl::OkStatus();
}

absl::Status Trainer::EvaluateAndRecord(bool final) {
  const bool debug = experiment_.training().debug_mode();
  absl::StatusOr<eval::ElboEvaluation> evaluation =
      Evaluate(eval_split_, debug ? kDebugBatches : 0);
  if (!evaluation.ok()) return evaluation.status();
  const bool best = !best_bpd_ || evaluation->bpd.mean < *best_bpd_;
  if (best) best_bpd_ = evaluation->bpd.mean;
  // Rank 0's records; a stop during its samples or FID is acted on by
  // every rank below.
  absl::Status recorded = absl::OkStatus();
  if (chief()) recorded = RecordEvaluation(*evaluation, best, final);
  if (!recorded.ok() && !absl::IsCancelled(recorded)) return recorded;
  absl::StatusOr<bool> stop = BeginBatchTogether();
  if (!stop.ok()) return stop.status();
  if (*stop) return absl::CancelledError("stopped during the evaluation");
  if (best && eval_split_ == "validation") {
    // Kept for the test evaluation at the end (every rank has them).
    const EvaluationWeights weights(*model_, ema_.get());
    best_weights_.clear();
    for (const auto& [name, tensor] : model_->StateDict())
      best_weights_.emplace(name, tensor.detach().clone());
    best_step_ = step_;
  }
  if (!final || eval_split_ != "validation") return absl::OkStatus();
  // The held-out protocol: the test set once, with the best weights.
  absl::StatusOr<model::Model> best_model =
      model::Model::Create(experiment_, model_->device());
  if (!best_model.ok()) return best_model.status();
  if (absl::Status s = best_model->Load(best_weights_, "the best weights");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<const data::Dataset>> test = Split("test");
  if (!test.ok()) return test.status();
  absl::StatusOr<eval::ElboEvaluation> test_evaluation = eval::EvaluateElbo(
      *best_model, experiment_, *test, EvaluationOptions(debug));
  if (!test_evaluation.ok()) return test_evaluation.status();
  if (!chief()) return absl::OkStatus();
  LOG(INFO) << "test bits/dim of the best checkpoint (step " << best_step_
            << "): " << test_evaluation->bpd.mean << " +- "
            << 1.96 * test_evaluation->bpd.standard_error;
  return logger_->LogEvaluation(best_step_, epoch_, "test", *test_evaluation);
}

absl::Status Trainer::RecordEvaluation(const eval::ElboEvaluation& evaluation,
                                       bool best, bool final) {
  if (absl::Status s =
          logger_->LogEvaluation(step_, epoch_, eval_split_, evaluation);
      !s.ok()) {
    return s;
  }
  LOG(INFO) << "epoch " << epoch_ << " step " << step_ << " " << eval_split_
            << " bits/dim " << evaluation.bpd.mean << " +- "
            << 1.96 * evaluation.bpd.standard_error
            << (evaluation.bpd_with_offset
                    ? absl::StrCat(" (with offset ",
                                   evaluation.bpd_with_offset->mean, ")")
                    : std::string())
            << ", " << evaluation.examples << " examples";
  if (best) {
    if (absl::Status s = SaveCheckpoint("best"); !s.ok()) return s;
  }
  if (Drawable()) {
    absl::StatusOr<std::string> samples = WriteSamples();
    if (!samples.ok()) return samples.status();
    const std::string legend = sampling::PictureLegend(experiment_.data());
    LOG(INFO) << "samples: " << *samples
              << (legend.empty() ? "" : " (" + legend + ")");
  }
  if (fid_net_ && (final || epoch_ % experiment_.eval().val_fid_epoch() == 0)) {
    return EvaluateFid();
  }
  return absl::OkStatus();
}

bool Trainer::Drawable() const {
  return experiment_.data().is_image() || experiment_.data().vector_dim() == 2;
}

absl::Status Trainer::Run() {
  const proto::TrainingConfig& training = experiment_.training();
  const bool debug = training.debug_mode();
  const int64_t n_epochs = debug ? 1 : training.n_epochs();
  const int64_t max_steps = training.max_steps();
  const int64_t accumulate = training.accumulate_grad_batches();
  const int64_t batches_per_epoch =
      debug ? std::min(kDebugBatches, train_loader_->batches_per_epoch())
            : train_loader_->batches_per_epoch();
  const int64_t steps_per_epoch =
      (batches_per_epoch + accumulate - 1) / accumulate;
  int64_t total_steps = n_epochs * steps_per_epoch;
  if (max_steps > 0) total_steps = std::min(total_steps, max_steps);
  Progress progress{
      .reporter = util::ProgressReporter(total_steps,
                                         options_.log_interval_seconds),
      .last_log = std::chrono::steady_clock::now()};
  int64_t nonfinite_in_a_row = 0;
  auto reached_max_steps = [&] { return max_steps > 0 && step_ >= max_steps; };
  auto finished = [&] { return epoch_ >= n_epochs || reached_max_steps(); };
  const int64_t image_step = experiment_.sampling().log_image_step();
  auto picture_due = [&] {
    return image_step > 0 && step_ % image_step == 0 && Drawable();
  };
  model_->SetTraining(true);
  if (absl::Status s = DoOwedWork(finished()); !s.ok()) return s;
  while (!finished()) {
    int64_t batches = 0;
    while (!reached_max_steps()) {
      if (debug && batches >= kDebugBatches) break;
      absl::StatusOr<std::optional<data::Examples>> batch =
          train_loader_->Next();
      if (!batch.ok()) return batch.status();
      if (!batch->has_value()) break;
      ++batches;
      util::CountBatch();
      if (absl::Status s =
              gradient_step_->AddMicroBatch((*batch)->x, step_, epoch_);
          !s.ok()) {
        return s;
      }
      progress.examples_trained += (*batch)->x.size(0) * world_size();
      // An optimizer step after accumulate_grad_batches micro-batches, or
      // at the epoch's last batch (Lightning's behaviour).
      const bool last_batch =
          debug ? batches >= batches_per_epoch
                : train_loader_->position().step >= batches_per_epoch;
      if (gradient_step_->micro_batches() < accumulate && !last_batch) {
        continue;
      }
      absl::StatusOr<StepStats> stats = OptimizerStep();
      if (!stats.ok()) return stats.status();
      if (absl::Status s = CheckFinite(*stats, nonfinite_in_a_row); !s.ok())
        return s;
      if (stop_signal_ != 0) {
        return StopAfterStep(reached_max_steps(), picture_due());
      }
      if (stats->nonfinite) continue;  // Skipped: nothing to log or draw.
      if (chief()) {
        if (absl::Status s = LogProgress(*stats, progress); !s.ok()) return s;
      }
      if (picture_due()) {
        if (absl::Status s = SampleStep(); !s.ok())
          return Stopped(s, "while drawing samples");
      }
    }
    if (debug || !reached_max_steps()) {
      // The epoch ended (or was cut short by --debug_mode).
      if (debug) train_loader_->Seek({.epoch = epoch_ + 1, .step = 0});
      ++epoch_;
    }
    if (finished() || epoch_ % training.eval_every_n_epoch() == 0) {
      if (absl::Status s = EvaluationCycle(finished()); !s.ok())
        return Stopped(s, "during the evaluation");
    }
  }
  return absl::OkStatus();
}

absl::Status Trainer::DoOwedWork(bool finished) {
  if (owed_ == model::Owed::kSamplePicture) {
    if (absl::Status s = SampleStep(); !s.ok())
      return Stopped(s, "while drawing samples");
  } else if (owed_ == model::Owed::kEvaluation) {
    if (absl::Status s = EvaluationCycle(finished); !s.ok())
      return Stopped(s, "during the evaluation");
  }
  return absl::OkStatus();
}

absl::Status Trainer::CheckFinite(const StepStats& stats,
                                  int64_t& nonfinite_in_a_row) {
  const bool skip = experiment_.training().on_nonfinite() ==
                    proto::TrainingConfig::SKIP;
  if (!stats.nonfinite) {
    nonfinite_in_a_row = 0;
    return absl::OkStatus();
  }
  if (skip && ++nonfinite_in_a_row < kMaxSkippedInARow) {
    LOG(WARNING) << "the loss (" << stats.loss << ") or gradient norm ("
                 << stats.grad_norm << ") is not finite after step " << step_
                 << ": that step is skipped (training.on_nonfinite: SKIP)";
    return absl::OkStatus();
  }
  std::string saved;
  if (chief() && SaveCheckpoint("nonfinite").ok()) {
    saved = absl::StrCat("; its weights are in ",
                         Path("checkpoints/nonfinite.pt"),
                         ", last.pt untouched");
  }
  return absl::InternalError(absl::StrCat(
      "the loss (", stats.loss, ") or gradient norm (", stats.grad_norm,
      ") is not finite at step ", step_,
      skip ? absl::StrCat(", ", kMaxSkippedInARow, " steps in a row") : "",
      saved));
}

absl::Status Trainer::StopAfterStep(bool reached_max_steps, bool picture_due) {
  // Preemption: keep the work done so far and stop cleanly; every rank
  // stops at this same step. What the step still owes (its sample picture,
  // or the evaluation that ends a run at max_steps) is done on resume; an
  // epoch's end is found again by the loader.
  owed_ = reached_max_steps ? model::Owed::kEvaluation
          : picture_due     ? model::Owed::kSamplePicture
                            : model::Owed::kNothing;
  if (chief()) {
    if (absl::Status s = SaveCheckpoint("last"); !s.ok()) return s;
  }
  return Stopped(absl::CancelledError("stopped"), "after a step");
}

absl::Status Trainer::LogProgress(const StepStats& stats, Progress& progress) {
  progress.reporter.Update(step_, stats.loss, progress.examples_trained);
  if (step_ % options_.log_every_n_steps != 0) return absl::OkStatus();
  const auto now = std::chrono::steady_clock::now();
  const double rate =
      (progress.examples_trained - progress.examples_at_log) /
      std::max(std::chrono::duration<double>(now - progress.last_log).count(),
               1e-9);
  progress.last_log = now;
  progress.examples_at_log = progress.examples_trained;
  return LogStep(stats, rate);
}

absl::Status Trainer::LogStep(const StepStats& stats, double examples_per_s) {
  at::NoGradGuard no_grad;
  return logger_->LogStep(
      {.step = step_,
       .epoch = epoch_,
       .loss = stats.loss,
       .lr = LearningRateAt(experiment_.optimizer(), step_ - 1),
       .grad_norm = stats.grad_norm,
       .examples_per_s = examples_per_s,
       .train_bpd = stats.train_bpd,
       .Q = model_->diffusion().BinnedQ(),
       .D = model_->diffusion().BinnedD()});
}

}  // namespace mdm::train
