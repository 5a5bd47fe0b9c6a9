// Training progress for people and for log files: a live progress line
// (step, loss, throughput, ETA) when stderr is a terminal, otherwise one
// plain log line every few seconds so Slurm logs are not flooded.
#ifndef MDM_UTIL_PROGRESS_H_
#define MDM_UTIL_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <string>

namespace mdm::util {

// "1:02:05" for 3725 s, "4:07" for 247 s, "?" when unknown (negative).
std::string FormatDuration(double seconds);

// "step 120/2000  loss 736.1  252 examples/s  ETA 7:24".
std::string ProgressLine(int64_t step, int64_t total_steps, double loss,
                         double examples_per_s, double eta_seconds);

class ProgressReporter {
 public:
  // Seconds on a monotonic clock; replaceable for tests.
  using Clock = std::function<double()>;

  // `total_steps` <= 0 means unknown (no ETA). `interactive` defaults to
  // whether stderr is a terminal.
  ProgressReporter(int64_t total_steps, double log_interval_seconds);
  ProgressReporter(int64_t total_steps, double log_interval_seconds,
                   bool interactive, Clock clock = SteadyClock());
  ~ProgressReporter();

  // Reports the state after optimizer step `step`, `examples` being all
  // examples trained on so far in this process's run (every rank's), at
  // most once per 0.2 s on a terminal and once per `log_interval_seconds`
  // otherwise. Throughput is averaged over the time since the previous
  // report, so it neither jitters from step to step nor hides a slowdown
  // behind the run's average; the ETA uses the run's average step time.
  void Update(int64_t step, double loss, int64_t examples);

  // The last line reported; empty before the first.
  const std::string& last_line() const { return last_line_; }

  static Clock SteadyClock();

 private:
  int64_t total_steps_;
  double log_interval_seconds_;
  bool interactive_;
  Clock clock_;
  int64_t first_step_ = -1;
  double start_, last_;
  int64_t examples_at_last_ = 0;
  std::string last_line_;
};

}  // namespace mdm::util

#endif  // MDM_UTIL_PROGRESS_H_
