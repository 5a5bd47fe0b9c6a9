// The training loop behind //mdm/bin:train: builds the configured
// diffusion, score network, data pipeline and optimizer from an
// Experiment; trains with gradient accumulation, clipping, the learning-
// rate schedule, EMA and the objective switch; evaluates test-set bits/dim
// every eval_every_n_epoch; writes metrics.csv and atomic checkpoints
// (last and best) that resume bit-identically on CPU.
//
// Output directory:
//   config.textproto      the resolved config
//   metrics.csv           one row per logged step
//   events.out.tfevents.* TensorBoard scalars (train/*, eval/*), sample
//                         images and histograms of Q and D
//   checkpoints/last.pt   written at every evaluation and at the end
//   checkpoints/best.pt   the lowest test bits/dim so far
//   checkpoints/{last,best}_weights.pt
//                         the weights alone as a dict of tensors
//                         (torch::pickle_save), which Python's torch.load
//                         opens: "network.<name>", "diffusion.<name>",
//                         "Q", "D" (EMA weights when enabled)
//   samples/step_N.png    log_image_size^2 samples (image data), drawn
//                         with Euler-Maruyama at every evaluation
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
#include "mdm/objectives/score_parameterization.h"
#include "mdm/objectives/transforms.h"
#include "mdm/proto/experiment.pb.h"
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

  // Draws log_image_size^2 samples (EMA weights when enabled) and writes
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
  absl::Status TrainStep(const at::Tensor& x, double* loss, double* grad_norm);
  absl::Status SaveCheckpoint(const std::string& path) const;
  // The weights-only export next to a checkpoint.
  absl::Status ExportWeights(const std::string& path);
  absl::Status LoadCheckpoint(const std::string& path);
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
  double best_bpd_ = 0;
  bool has_best_ = false;
};

}  // namespace mdm::train

#endif  // MDM_TRAIN_TRAINER_H_
