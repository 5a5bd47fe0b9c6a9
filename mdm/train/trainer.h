// The training loop behind //mdm/bin:train: builds the configured
// diffusion, score network, data pipeline and optimizer from an
// Experiment; trains with gradient accumulation, clipping, the learning-
// rate schedule, EMA and the objective switch; evaluates test-set bits/dim
// every eval_every_n_epoch; writes metrics.csv and atomic checkpoints
// (last and best) that resume bit-identically on CPU.
//
// Output directory:
//   config.textproto      the resolved config
//   metrics.csv           one row per logged step (ending with the
//                         training bits/dim of ELBO losses)
//   eval.csv              one row per evaluation: step, epoch, test
//                         bits/dim, its 95% interval, with offset
//   events.out.tfevents.* TensorBoard scalars (train/*, eval/*), sample
//                         images and histograms of Q and D
//   checkpoints/last.pt   written at every evaluation and at the end
//   checkpoints/best.pt   the lowest test bits/dim so far
//   checkpoints/{last,best}_weights.pt
//                         the weights alone as a dict of tensors
//                         (torch::pickle_save), which Python's torch.load
//                         opens: "network.<name>", "diffusion.<name>",
//                         "Q", "D" (EMA weights when enabled)
//   samples/step_N.png    log_image_size samples (image data), drawn
//                         with the configured sampler at every evaluation
//
// Data-parallel: with a Communicator of W ranks, training.batch_size is the
// global batch (each rank takes its 1/W slice), gradients of every trained
// parameter (Q and D included) are averaged across ranks each step, test
// bits/dim is computed on 1/W of the test set per rank and combined, and
// rank 0 alone writes the files above. All ranks share the output
// directory (it holds the checkpoint they resume from).
//
// Randomness: micro-batch m of rank r at step s draws its noise from the
// default generators seeded by (seed, s, r * accumulate_grad_batches + m).
// So a run is reproducible on CPU, a resumed run continues exactly, and W
// ranks reproduce one process with accumulate_grad_batches = W.
#ifndef MDM_TRAIN_TRAINER_H_
#define MDM_TRAIN_TRAINER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mdm/data/dataset.h"
#include "mdm/data/loader.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/nets/score_model.h"
#include "mdm/objectives/losses.h"
#include "mdm/objectives/score_parameterization.h"
#include "mdm/objectives/transforms.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/train/distributed.h"
#include "mdm/train/ema.h"
#include "mdm/util/event_writer.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace mdm::train {

struct TrainerOptions {
  std::string output_dir;  // Where everything above is written.
  // Continue from training.checkpoint_path, or else from
  // output_dir/checkpoints/last.pt when it exists.
  bool resume = false;
  std::string device = "cpu";
  int64_t log_every_n_steps = 10;  // metrics.csv rows.
  // A progress line on a terminal; otherwise a log line this often.
  double log_interval_seconds = 30;
  // The other ranks of a data-parallel run; null for a single process.
  std::shared_ptr<Communicator> communicator;
};

// Test-set bits per dimension, mean and standard error over examples.
struct EvalResult {
  double bpd = 0;
  double bpd_standard_error = 0;
  double bpd_with_offset = 0;
  int64_t examples = 0;
};

class Trainer {
 public:
  // Fails with a clear status for a config the components reject, missing
  // data, an unwritable output directory or an unusable checkpoint.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const proto::Experiment& experiment, const TrainerOptions& options);
  ~Trainer();

  // Trains until n_epochs (or training.max_steps) and evaluates at the end.
  absl::Status Run();
  // Bits/dim on the test split (at most `max_batches` batches if > 0),
  // with the EMA weights when enabled.
  absl::StatusOr<EvalResult> Evaluate(int64_t max_batches = 0);

  // Draws log_image_size samples (EMA weights when enabled) and writes
  // them to samples/step_N.png; returns the path.
  absl::StatusOr<std::string> WriteSamples();

  int64_t step() const { return step_; }
  int64_t epoch() const { return epoch_; }
  // The network's and the diffusion's trained parameters, in order.
  std::vector<at::Tensor> Parameters() const;

 private:
  Trainer() = default;
  // The network as the objectives and samplers call it.
  objectives::ScoreNetwork Score() const;
  int rank() const;
  int world_size() const;
  // Rank 0 writes every file.
  bool chief() const { return rank() == 0; }
  // Seeds the default generators for micro-batch `shard` of this step.
  void SeedMicroBatch(int64_t shard) const;
  // One micro-batch: the loss and its backward pass, divided by
  // accumulate_grad_batches.
  absl::Status TrainMicroBatch(const at::Tensor& x);
  // Averages the accumulated gradients across ranks, clips them and takes
  // an optimizer step. `loss` is the step's mean loss over micro-batches
  // and ranks.
  absl::Status OptimizerStep(double* loss, double* grad_norm);
  // Sums the gradients, the accumulated loss and the stop flag over ranks.
  absl::Status AllReduceStep();
  // Makes every rank start from rank 0's parameters.
  absl::Status BroadcastParameters();
  absl::Status SaveCheckpoint(const std::string& path) const;
  // The weights-only export next to a checkpoint.
  absl::Status ExportWeights(const std::string& path);
  absl::Status LoadCheckpoint(const std::string& path);
  // eval.csv: one row per evaluation.
  absl::Status AppendEvalRow(const EvalResult& eval) const;
  absl::Status AppendMetrics(double loss, double lr, double grad_norm,
                             double examples_per_s) const;
  // Dequantized (8-bit data) and transformed data, with log|det J|.
  at::Tensor Prepare(const at::Tensor& x, at::Tensor* log_det,
                     c10::optional<at::Generator> gen) const;

  proto::Experiment experiment_;
  TrainerOptions options_;
  at::Device device_{at::kCPU};
  diffusions::Diffusion diffusion_{nullptr};
  std::shared_ptr<nets::ScoreModel> network_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<Ema> ema_;
  std::shared_ptr<const data::Dataset> train_data_, test_data_;
  std::unique_ptr<data::DataLoader> train_loader_;
  std::unique_ptr<objectives::DataTransform> transform_;
  std::unique_ptr<util::EventWriter> events_;
  int64_t step_ = 0;
  int64_t epoch_ = 0;
  int64_t micro_batches_ = 0;  // Since the last optimizer step.
  objectives::LossType loss_type_ = objectives::LossType::kDsmElbo;
  int64_t data_dim_ = 0;       // Of a transformed example.
  double loss_sum_ = 0;        // Over those micro-batches.
  double log_det_sum_ = 0;     // The transform's, over the same.
  double train_bpd_ = 0;       // The last step's, for ELBO losses.
  int stop_signal_ = 0;        // A rank was asked to stop (e.g. SIGTERM).
  double best_bpd_ = 0;
  bool has_best_ = false;
};

}  // namespace mdm::train

#endif  // MDM_TRAIN_TRAINER_H_
