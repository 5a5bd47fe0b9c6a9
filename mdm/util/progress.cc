#include "mdm/util/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "mdm/util/logging.h"

namespace mdm::util {

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600)
    return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string ProgressLine(int64_t step, int64_t total_steps, double loss,
                         double examples_per_s, double eta_seconds) {
  std::string line = total_steps > 0
                         ? absl::StrFormat("step %d/%d", step, total_steps)
                         : absl::StrFormat("step %d", step);
  absl::StrAppendFormat(&line, "  loss %.4g  %.0f examples/s", loss,
                        examples_per_s);
  if (total_steps > 0)
    absl::StrAppend(&line, "  ETA ", FormatDuration(eta_seconds));
  return line;
}

ProgressReporter::Clock ProgressReporter::SteadyClock() {
  return [] {
    return std::chrono::duration<double>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
}

ProgressReporter::ProgressReporter(int64_t total_steps,
                                   double log_interval_seconds)
    : ProgressReporter(total_steps, log_interval_seconds,
                       ::isatty(STDERR_FILENO) != 0) {}

ProgressReporter::ProgressReporter(int64_t total_steps,
                                   double log_interval_seconds,
                                   bool interactive, Clock clock)
    : total_steps_(total_steps),
      log_interval_seconds_(log_interval_seconds),
      interactive_(interactive),
      clock_(std::move(clock)),
      start_(clock_()),
      last_(start_) {}

ProgressReporter::~ProgressReporter() {
  if (interactive_ && !last_line_.empty()) std::cerr << std::endl;
}

void ProgressReporter::Update(int64_t step, double loss, int64_t examples) {
  const double now = clock_();
  if (first_step_ < 0) first_step_ = step - 1;
  const double since_last = now - last_;
  if (since_last < (interactive_ ? 0.2 : log_interval_seconds_) &&
      step != total_steps_)
    return;
  const double examples_per_s =
      (examples - examples_at_last_) / std::max(since_last, 1e-9);
  last_ = now;
  examples_at_last_ = examples;
  const double steps_per_s =
      (step - first_step_) / std::max(now - start_, 1e-9);
  const double eta =
      total_steps_ > 0 ? (total_steps_ - step) / steps_per_s : -1;
  last_line_ = ProgressLine(step, total_steps_, loss, examples_per_s, eta);
  if (interactive_) {
    std::cerr << "\r" << last_line_ << "\033[K" << std::flush;
  } else {
    LOG(INFO) << last_line_;
  }
}

}  // namespace mdm::util
