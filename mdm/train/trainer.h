// The training loop behind //mdm/bin:train. Create() builds the configured
// model (mdm/model), data, optimizer and EMA from an Experiment and, when
// resuming, restores them from the run's checkpoint before anything is
// written; Run() takes gradient steps (gradient_step.h: accumulation,
// clipping, the learning-rate and objective schedules, the EMA), and every
// eval_every_n_epoch epochs writes the checkpoint, evaluates the ELBO
// bits/dim (eval/elbo_evaluation.h), draws samples and, with
// eval.fid_model, measures FID every val_fid_epoch epochs
// (eval/fid_evaluation.h).
//
// What it writes into the output directory is documented once, in the
// table of docs/tools.md under //mdm/bin:train (the log formats in
// run_logger.h, the checkpoint in model/checkpoint.h).
//
// Data-parallel: with a Communicator of W ranks, training.batch_size is the
// global batch (each rank takes its 1/W slice), gradients of every trained
// parameter (Q and D included) are averaged across ranks each step,
// evaluation is sharded and combined, and rank 0 alone writes files.
//
// Randomness (util/seed_streams.h): micro-batch m of rank r at step s
// draws its noise from the training stream (s, r * accumulate_grad_batches
// + m); evaluation and sample grids have streams of their own. So a run is
// reproducible on CPU, a resumed run continues exactly, and W ranks
// reproduce one process with accumulate_grad_batches = W.
#ifndef MDM_TRAIN_TRAINER_H_
#define MDM_TRAIN_TRAINER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mdm/data/dataset.h"
#include "mdm/data/loader.h"
#include "mdm/eval/elbo_evaluation.h"
#include "mdm/eval/fid.h"
#include "mdm/model/checkpoint.h"
#include "mdm/model/ema.h"
#include "mdm/model/model.h"
#include "mdm/objectives/losses.h"
#include "mdm/objectives/transforms.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/train/distributed.h"
#include "mdm/train/gradient_step.h"
#include "mdm/train/run_directory.h"
#include "mdm/train/run_logger.h"
#include "mdm/util/run_lock.h"
#include "mdm/util/state_dict.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace mdm::train {

// Points drawn for the histogram of a 2-D run's sample picture.
inline constexpr int64_t kToySamples = 4096;

struct TrainerOptions {
  std::string output_dir;  // Where everything above is written.
  // Continue from training.checkpoint_path, or else from
  // output_dir/checkpoints/last.pt (when it exists). The checkpoint's
  // diffusion, network, data shape and optimizer type must be the config's
  // (run_directory.h); other changes are logged.
  bool resume = false;
  // An output directory that already holds a run (and is not being
  // resumed) is refused unless `overwrite`, which removes that run first.
  bool overwrite = false;
  std::string device = "cpu";
  int64_t log_every_n_steps = 10;  // metrics.csv rows.
  // A progress line on a terminal; otherwise a log line this often.
  double log_interval_seconds = 30;
  // The other ranks of a data-parallel run; null for a single process.
  std::shared_ptr<Communicator> communicator;
};

// What one optimizer step did.
class Trainer {
 public:
  // Fails with one clear status for a config the components reject,
  // missing data, an output directory that holds another run, an
  // unwritable output directory or a checkpoint that cannot be resumed;
  // writes nothing until everything was built and restored.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const proto::Experiment& experiment, const TrainerOptions& options);
  ~Trainer();

  // Trains until n_epochs (or training.max_steps), evaluates at the end.
  // A stop signal (util/stop_signal.h) is acted on after the step, or the
  // evaluation or sample batch, in progress: last.pt keeps the work and
  // what the step still owes (model::Owed), and Run returns OK with
  // stopped_by_signal() set. A resumed run does what it owes first.
  absl::Status Run();

  // One optimizer step on the batch `x` (raw data [batch, ...], as the
  // data set returns it) as Run() takes it with accumulate_grad_batches = 1:
  // the loss, backward, gradient averaging, clipping and the update.
  absl::StatusOr<StepStats> TrainStep(const at::Tensor& x);

  // ELBO bits/dim of a split ("test", "validation", "train") with the
  // evaluation weights (EMA when kept), at most `max_batches` if > 0.
  absl::StatusOr<eval::ElboEvaluation> Evaluate(const std::string& split,
                                                int64_t max_batches = 0);
  // Draws the sample picture for the current step into samples/; returns
  // its path.
  absl::StatusOr<std::string> WriteSamples();

  int64_t step() const { return step_; }
  int64_t epoch() const { return epoch_; }
  int stopped_by_signal() const { return stopped_by_signal_; }
  const model::Model& model() const { return *model_; }
  // The trained parameters, in the optimizer's order.
  std::vector<at::Tensor> Parameters() const { return model_->Parameters(); }

 private:
  Trainer() = default;
  int rank() const;
  int world_size() const;
  bool chief() const { return rank() == 0; }  // Rank 0 writes every file.
  std::string Path(const std::string& name) const;

  // Create's steps, in order. The model, data, loader, optimizer and EMA.
  absl::Status Build();
  // Restore from start.checkpoint, and say so.
  absl::Status Resume(const RunStart& start);
  // eval.fid_model's network, on rank 0.
  absl::Status LoadFidNetwork();
  // Rank 0: the run directory prepared (run_directory.h) and its logger.
  absl::Status OpenRunDirectory(const RunStart& start);
  // Several ranks: rank 0's weights and EMA to every rank.
  absl::Status BroadcastInitialState();
  // Restores the model, optimizer, EMA and position from `path`.
  absl::Status Restore(const std::string& path);
  // Ends the gradient step (GradientStep::Finish) with this rank's stop
  // signal, agreed across ranks into stop_signal_.
  absl::StatusOr<StepStats> OptimizerStep();
  // The checkpoint of the current state under checkpoints/<name>.pt.
  absl::Status SaveCheckpoint(const std::string& name) const;
  // After an epoch (or at the end): last.pt owing the evaluation, then
  // EvaluateAndRecord, then last.pt owing nothing. Cancelled when stopped.
  absl::Status EvaluationCycle(bool final);
  // The evaluation, and on rank 0 its row, best.pt, the sample picture and
  // FID when due; at the end of a held-out run the best weights' test.
  absl::Status EvaluateAndRecord(bool final);
  // Rank 0's part of EvaluateAndRecord.
  absl::Status RecordEvaluation(const eval::ElboEvaluation& evaluation,
                                bool best, bool final);
  // The sample picture sampling.log_image_step asks for now (rank 0), and
  // the stop agreement after it: Cancelled, with last.pt saved, on a stop.
  absl::Status SampleStep();
  // FID of the evaluation weights' samples against the evaluation split
  // (eval.fid_model), logged to fid.csv. Rank 0.
  absl::Status EvaluateFid();
  absl::StatusOr<std::shared_ptr<const data::Dataset>> Split(
      const std::string& split);
  // This rank's share of an evaluation (a few batches under --debug_mode),
  // stopping on a stop signal.
  eval::ElboEvaluationOptions EvaluationOptions(bool debug);
  // Polled before a batch of work rank 0 does alone (samples, FID): true
  // to stop instead; otherwise the batch counts as begun
  // (util::CountBatch).
  bool BeginBatch();
  // The same before a batch every rank does at once (an evaluation batch,
  // or a point where the ranks must agree): every rank gets one answer.
  absl::StatusOr<bool> BeginBatchTogether();
  // OK, logging where and how promptly the run stopped, for a Cancelled
  // `status` after a stop signal; `status` itself otherwise.
  absl::Status Stopped(const absl::Status& status, absl::string_view where);
  // What a stop or a crash cut off at the restored step, done first (the
  // evaluation ends the run when `finished`).
  absl::Status DoOwedWork(bool finished);
  // After an optimizer step: OK when it was finite, or skipped under
  // training.on_nonfinite: SKIP (counted in `nonfinite_in_a_row`);
  // otherwise nonfinite.pt is saved and the status names the values.
  absl::Status CheckFinite(const StepStats& stats, int64_t& nonfinite_in_a_row);
  // A stop signal after a step: last.pt saved with what the step owes.
  absl::Status StopAfterStep(bool reached_max_steps, bool picture_due);
  struct Progress;
  // The progress line, and a metrics.csv row every log_every_n_steps.
  absl::Status LogProgress(const StepStats& stats, Progress& progress);
  // A metrics.csv row (and TensorBoard scalars) for the step just taken.
  absl::Status LogStep(const StepStats& stats, double examples_per_s);
  // Image data or 2-D points: the run draws sample pictures.
  bool Drawable() const;

  proto::Experiment experiment_;
  TrainerOptions options_;
  std::optional<model::Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<model::Ema> ema_;
  std::shared_ptr<const data::Dataset> train_data_;
  std::unique_ptr<data::DataLoader> train_loader_;
  std::unique_ptr<util::RunLock> lock_;  // Rank 0: one writer per run.
  std::unique_ptr<RunLogger> logger_;     // Rank 0 only.
  // eval.fid_model's network (rank 0) and, once computed, the evaluation
  // split's feature statistics.
  std::optional<eval::FeatureNetwork> fid_net_;
  std::optional<eval::FeatureStatistics> fid_reference_;
  std::string eval_split_;  // "validation" when held out, else "test".
  int64_t step_ = 0;
  int64_t epoch_ = 0;
  model::Owed owed_ = model::Owed::kNothing;  // Work due at step_ not done.
  std::optional<double> best_bpd_;
  // With a validation split: the evaluation weights of the best step.
  util::TensorDict best_weights_;
  int64_t best_step_ = 0;
  // The optimizer step being accumulated (after the model, optimizer and
  // EMA it points to).
  std::unique_ptr<GradientStep> gradient_step_;
  int stop_signal_ = 0;  // A rank was asked to stop (-1: another rank).
  int stopped_by_signal_ = 0;
};

}  // namespace mdm::train

#endif  // MDM_TRAIN_TRAINER_H_
