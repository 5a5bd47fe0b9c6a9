#include "mdm/train/run_logger.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mdm/train/run_directory.h"
#include "mdm/util/atomic_file.h"

namespace mdm::train {
namespace {

constexpr char kMetrics[] = "metrics.csv";
constexpr char kEval[] = "eval.csv";
constexpr char kEvalHeader[] =
    "step,epoch,split,bpd,bpd_ci95,bpd_with_offset,examples";
constexpr char kFid[] = "fid.csv";
constexpr char kFidHeader[] =
    "step,epoch,split,fid,generated_samples,reference_samples";

std::string MetricsHeader(int64_t K, int64_t time_bins) {
  std::vector<std::string> header = {"step", "epoch",     "loss",
                                     "lr",   "grad_norm", "examples_per_s"};
  for (const char* m : {"Q", "D"}) {
    for (int64_t k = 0; k < time_bins; ++k) {
      const std::string bin =
          time_bins > 1 ? absl::StrCat("_bin", k) : std::string();
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < K; ++j)
          header.push_back(absl::StrCat(m, bin, "_", i, j));
    }
  }
  header.push_back("train_bpd");
  return absl::StrJoin(header, ",");
}

std::vector<double> Entries(const at::Tensor& m) {
  const at::Tensor cpu = m.detach().to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(cpu.data_ptr<double>(),
                             cpu.data_ptr<double>() + cpu.numel());
}

// Rewrites `path` (atomically) with its header and the rows `keep` accepts
// (given the row's first column, its step, and its third, the split); a
// missing file gets the header.
absl::Status CutBack(
    const std::string& path, const std::string& header,
    const std::function<bool(int64_t step, absl::string_view split)>& keep) {
  std::ifstream in(path);
  std::string kept = header + "\n";
  if (in) {
    std::string line;
    std::getline(in, line);  // The old header.
    while (std::getline(in, line)) {
      const std::vector<absl::string_view> columns = absl::StrSplit(line, ',');
      int64_t row_step = 0;
      if (absl::SimpleAtoi(columns[0], &row_step) &&
          keep(row_step, columns.size() > 2 ? columns[2] : "")) {
        kept += line + "\n";
      }
    }
  }
  return util::WriteFileAtomically(path, kept);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunLogger>> RunLogger::Open(
    const std::string& output_dir, int64_t num_vars,
    const std::optional<ResumePoint>& resume, bool fid, int64_t time_bins) {
  const auto keep_step = [&](int64_t step, absl::string_view) {
    return step <= resume->step;
  };
  const auto keep_evaluation = [&](int64_t step, absl::string_view split) {
    return (resume->evaluation_owed ? step < resume->step
                                    : step <= resume->step) &&
           split != resume->final_split;
  };
  struct Log {
    std::string path, header;
    std::function<bool(int64_t, absl::string_view)> keep;
  };
  std::vector<Log> logs = {
      {output_dir + "/" + kMetrics, MetricsHeader(num_vars, time_bins),
       keep_step},
      {output_dir + "/" + kEval, kEvalHeader, keep_evaluation}};
  if (fid) {
    logs.push_back({output_dir + "/" + kFid, kFidHeader, keep_evaluation});
  }
  for (const Log& log : logs) {
    const absl::Status s =
        resume ? CutBack(log.path, log.header, log.keep)
               : util::WriteFileAtomically(log.path, log.header + "\n");
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<util::EventWriter>> events =
      util::EventWriter::Create(output_dir);
  if (!events.ok()) return events.status();
  return std::unique_ptr<RunLogger>(
      new RunLogger(output_dir, *std::move(events)));
}

absl::Status RunLogger::AppendRow(const std::string& file,
                                  const std::string& row) {
  const std::string path = output_dir_ + "/" + file;
  std::ofstream out(path, std::ios::app);
  out << row << "\n";
  out.flush();
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot append to ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status RunLogger::LogStep(const StepRecord& r) {
  std::vector<std::string> row = {
      absl::StrCat(r.step),      absl::StrCat(r.epoch),
      absl::StrCat(r.loss),      absl::StrCat(r.lr),
      absl::StrCat(r.grad_norm), absl::StrCat(r.examples_per_s)};
  for (const at::Tensor& m : {r.Q, r.D}) {
    for (double x : Entries(m)) row.push_back(absl::StrCat(x));
  }
  row.push_back(absl::StrCat(r.train_bpd));
  if (absl::Status s = AppendRow(kMetrics, absl::StrJoin(row, ",")); !s.ok())
    return s;
  std::vector<std::pair<const char*, double>> scalars = {
      {"train/loss", r.loss},
      {"train/lr", r.lr},
      {"train/grad_norm", r.grad_norm},
      {"train/examples_per_s", r.examples_per_s}};
  if (std::isfinite(r.train_bpd)) scalars.push_back({"train/bpd", r.train_bpd});
  for (const auto& [tag, value] : scalars) {
    if (absl::Status s = events_->AddScalar(tag, value, r.step); !s.ok())
      return s;
  }
  for (const auto& [tag, m] :
       std::vector<std::pair<const char*, at::Tensor>>{{"diffusion/Q", r.Q},
                                                       {"diffusion/D", r.D}}) {
    if (absl::Status s = events_->AddHistogram(tag, Entries(m), r.step);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RunLogger::LogEvaluation(int64_t step, int64_t epoch,
                                      const std::string& split,
                                      const eval::ElboEvaluation& evaluation) {
  const double with_offset = evaluation.bpd_with_offset
                                 ? evaluation.bpd_with_offset->mean
                                 : std::nan("");
  if (absl::Status s = AppendRow(
          kEval, absl::StrJoin(
                     std::vector<std::string>{
                         absl::StrCat(step), absl::StrCat(epoch), split,
                         absl::StrCat(evaluation.bpd.mean),
                         absl::StrCat(1.96 * evaluation.bpd.standard_error),
                         absl::StrCat(with_offset),
                         absl::StrCat(evaluation.examples)},
                     ","));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = events_->AddScalar(absl::StrCat("eval/", split, "/bpd"),
                                          evaluation.bpd.mean, step);
      !s.ok()) {
    return s;
  }
  if (evaluation.bpd_with_offset) {
    return events_->AddScalar(absl::StrCat("eval/", split, "/bpd_with_offset"),
                              with_offset, step);
  }
  return absl::OkStatus();
}

absl::Status RunLogger::LogFid(int64_t step, int64_t epoch,
                               const std::string& split,
                               const eval::FidResult& fid) {
  if (absl::Status s = AppendRow(
          kFid, absl::StrJoin(std::vector<std::string>{
                                  absl::StrCat(step), absl::StrCat(epoch),
                                  split, absl::StrCat(fid.fid),
                                  absl::StrCat(fid.generated_samples),
                                  absl::StrCat(fid.reference_samples)},
                              ","));
      !s.ok()) {
    return s;
  }
  return events_->AddScalar(absl::StrCat("eval/", split, "/fid"), fid.fid,
                            step);
}

absl::Status RunLogger::LogRunInfo(const std::string& config_text,
                                   const std::string& project,
                                   const std::string& entity, int64_t step) {
  // Four spaces: a Markdown code block in TensorBoard's text plugin.
  std::string config;
  for (absl::string_view line : absl::StrSplit(config_text, '\n')) {
    absl::StrAppend(&config, "    ", line, "\n");
  }
  std::vector<std::pair<const char*, std::string>> texts = {
      {"run/config", config}};
  if (!project.empty()) texts.emplace_back("run/project", project);
  if (!entity.empty()) texts.emplace_back("run/entity", entity);
  for (const auto& [tag, text] : texts) {
    if (absl::Status s = events_->AddText(tag, text, step); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RunLogger::LogSamples(const util::EncodedImage& image,
                                   const std::string& legend, int64_t step) {
  if (!legend.empty()) {
    if (absl::Status s = events_->AddText("samples/legend", legend, step);
        !s.ok()) {
      return s;
    }
  }
  return events_->AddImage("samples", image.png, image.height, image.width,
                           image.channels, step);
}

absl::StatusOr<std::vector<EvaluationRow>> ReadEvaluations(
    const std::string& output_dir) {
  const std::string path = absl::StrCat(output_dir, "/", kEval);
  std::ifstream in(path);
  if (!in) return std::vector<EvaluationRow>();
  std::vector<EvaluationRow> rows;
  std::string line;
  std::getline(in, line);  // The header.
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const std::vector<std::string> fields = absl::StrSplit(line, ',');
    EvaluationRow row;
    if (fields.size() < 5 || !absl::SimpleAtoi(fields[0], &row.step) ||
        !absl::SimpleAtod(fields[3], &row.bpd) ||
        !absl::SimpleAtod(fields[4], &row.bpd_ci95)) {
      return absl::DataLossError(
          absl::StrCat(path, ": malformed row '", line, "'"));
    }
    row.split = fields[2];
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> RunSummary(const std::string& output_dir,
                                    const std::string& ending, int64_t steps,
                                    double seconds,
                                    const std::vector<EvaluationRow>& rows) {
  const int64_t whole = std::llround(seconds);
  std::vector<std::string> lines = {absl::StrFormat(
      "%s: %d steps in %d min %02d s", ending, steps, whole / 60, whole % 60)};
  auto format = [](const EvaluationRow& row) {
    return absl::StrFormat("%.3f +- %.3f (step %d)", row.bpd, row.bpd_ci95,
                           row.step);
  };
  std::vector<std::string> splits;
  for (const EvaluationRow& row : rows) {
    if (std::find(splits.begin(), splits.end(), row.split) == splits.end())
      splits.push_back(row.split);
  }
  int64_t last_step = -1;
  for (const std::string& split : splits) {
    const EvaluationRow *last = nullptr, *best = nullptr;
    int count = 0;
    for (const EvaluationRow& row : rows) {
      if (row.split != split) continue;
      ++count;
      last = &row;
      if (best == nullptr || row.bpd < best->bpd) best = &row;
      last_step = std::max(last_step, row.step);
    }
    lines.push_back(count == 1
                        ? absl::StrCat(split, " bits/dim ", format(*last))
                        : absl::StrCat(split, " bits/dim: last ",
                                       format(*last), ", best ",
                                       format(*best)));
  }
  lines.push_back(absl::StrCat("checkpoints: ", output_dir, "/checkpoints"));
  if (last_step >= 0) {
    const std::string picture = SamplePicturePath(output_dir, last_step);
    if (std::filesystem::exists(picture)) {
      lines.push_back(absl::StrCat("samples: ", picture));
    }
  }
  lines.push_back(absl::StrCat("TensorBoard: tensorboard --logdir ",
                               output_dir));
  return lines;
}

}  // namespace mdm::train
