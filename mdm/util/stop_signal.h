// Graceful stops for preemptible jobs and impatient users. SIGTERM, SIGUSR1
// and SIGUSR2 (what Slurm sends ahead of a kill or requeue, as its --signal
// option chooses) and SIGINT (Ctrl-C) only set a flag; long loops poll
// StopRequested() between batches of work (a training step, an evaluation
// batch, a sampler's score evaluation), save what they must and return. A
// second Ctrl-C stops at once.
//
// Loops also count the batches they begin (CountBatch), and the handler
// notes that count when the signal arrives, so a stop can say how much
// work began after it: the measure of promptness the tests assert.
#ifndef MDM_UTIL_STOP_SIGNAL_H_
#define MDM_UTIL_STOP_SIGNAL_H_

#include <cstdint>

namespace mdm::util {

// Installs the handlers for SIGTERM, SIGUSR1, SIGUSR2 and SIGINT.
void InstallStopSignalHandlers();

// The signal that asked to stop, or 0.
int StopSignal();
inline bool StopRequested() { return StopSignal() != 0; }

// One more batch of work begins.
void CountBatch();
// Batches begun since the stop signal arrived (0 without one).
int64_t BatchesSinceStopSignal();

// Sets or clears the flag as a signal arriving now would (for tests).
void SetStopSignalForTesting(int signal);

}  // namespace mdm::util

#endif  // MDM_UTIL_STOP_SIGNAL_H_
