// The logs of a training run, written by rank 0 into its output directory:
//   metrics.csv            one row per logged step: step, epoch, loss, lr,
//                          grad_norm, examples_per_s, Q_ij and D_ij (row
//                          major), train_bpd (ELBO losses; nan otherwise)
//   eval.csv               one row per evaluation: step, epoch, split
//                          (test, or validation when a held-out split is
//                          configured), bpd, bpd_ci95, bpd_with_offset
//                          (nan without eval.elbo_offset_eval), examples
//   events.out.tfevents.*  TensorBoard: train/loss, train/lr,
//                          train/grad_norm, train/examples_per_s,
//                          train/bpd, eval/<split>/bpd,
//                          eval/<split>/bpd_with_offset, histograms
//                          diffusion/Q and diffusion/D, images `samples`,
//                          eval/<split>/fid, texts run/config, run/project
//                          and run/entity
//   fid.csv                with eval.fid_model: one row per FID
//                          evaluation: step, epoch, split, fid,
//                          generated_samples, reference_samples
// A resumed run keeps the rows up to its checkpoint's step and drops any
// written after it (by a run that stopped before its next checkpoint), and
// the evaluation rows it will write again (ResumePoint), so no evaluation
// appears twice.
#ifndef MDM_TRAIN_RUN_LOGGER_H_
#define MDM_TRAIN_RUN_LOGGER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mdm/eval/elbo_evaluation.h"
#include "mdm/eval/fid.h"
#include "mdm/util/event_writer.h"
#include "mdm/util/image_grid.h"

namespace mdm::train {

struct StepRecord {
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;
  double examples_per_s = 0;
  double train_bpd = 0;  // NaN for noise-prediction losses.
  at::Tensor Q, D;       // [K, K] or [time_bins, K, K].
};

// Where a resumed run continues, and so which rows it keeps.
struct ResumePoint {
  int64_t step = 0;  // Rows of later steps are dropped.
  // The evaluation cycle of `step` is redone: its eval.csv and fid.csv rows
  // are dropped too.
  bool evaluation_owed = false;
  // eval.csv rows of this split are dropped whatever their step: the
  // held-out protocol's final test of the best weights ("test" when a
  // validation split picks them), which the run's end writes again.
  std::string final_split;
};

// One row of eval.csv.
struct EvaluationRow {
  int64_t step = 0;
  std::string split;
  double bpd = 0, bpd_ci95 = 0;
};

// The rows of OUTPUT_DIR/eval.csv in order; none when there is no file.
absl::StatusOr<std::vector<EvaluationRow>> ReadEvaluations(
    const std::string& output_dir);

// The lines a run ends with: `ending` ("finished", "stopped by SIGTERM"),
// its steps and this process's wall time; per split evaluated, the last and
// the best bits/dim with their 95% intervals and steps; where the
// checkpoints, the latest sample picture and the TensorBoard files are; the
// command that shows them.
std::vector<std::string> RunSummary(const std::string& output_dir,
                                    const std::string& ending, int64_t steps,
                                    double seconds,
                                    const std::vector<EvaluationRow>& rows);

class RunLogger {
 public:
  // Opens the logs of a run with K variables in `output_dir` (which exists):
  // new files, or with `resume` the existing ones cut back to the rows the
  // resumed run does not write again.
  // `fid`: the run evaluates FID (fid.csv is kept). A process with
  // `time_bins` > 1 logs every bin's Q and D (columns Q_bin<k>_<ij>).
  static absl::StatusOr<std::unique_ptr<RunLogger>> Open(
      const std::string& output_dir, int64_t num_vars,
      const std::optional<ResumePoint>& resume, bool fid = false,
      int64_t time_bins = 1);

  absl::Status LogStep(const StepRecord& record);
  absl::Status LogEvaluation(int64_t step, int64_t epoch,
                             const std::string& split,
                             const eval::ElboEvaluation& evaluation);
  absl::Status LogFid(int64_t step, int64_t epoch, const std::string& split,
                      const eval::FidResult& fid);
  // The resolved config and the names a sweep files the run under, as
  // TensorBoard text (W&B's import shows them too).
  absl::Status LogRunInfo(const std::string& config_text,
                          const std::string& project,
                          const std::string& entity, int64_t step);
  // The sample picture as TensorBoard image "samples", and its legend
  // (what the picture shows, e.g. a histogram's extent) as text
  // "samples/legend" when not empty.
  absl::Status LogSamples(const util::EncodedImage& image,
                          const std::string& legend, int64_t step);

 private:
  RunLogger(std::string output_dir, std::unique_ptr<util::EventWriter> events)
      : output_dir_(std::move(output_dir)), events_(std::move(events)) {}
  absl::Status AppendRow(const std::string& file, const std::string& row);

  std::string output_dir_;
  std::unique_ptr<util::EventWriter> events_;
};

}  // namespace mdm::train

#endif  // MDM_TRAIN_RUN_LOGGER_H_
