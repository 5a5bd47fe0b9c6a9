// Graceful stops for preemptible jobs and impatient users: SIGTERM and
// SIGUSR1 (what Slurm sends before killing or requeueing a job) and SIGINT
// (Ctrl-C) only set a flag; the training loop checks it after each step,
// writes a checkpoint and exits cleanly. A second Ctrl-C stops at once.
#ifndef MDM_UTIL_STOP_SIGNAL_H_
#define MDM_UTIL_STOP_SIGNAL_H_

namespace mdm::util {

// Installs the handlers for SIGTERM, SIGUSR1 and SIGINT.
void InstallStopSignalHandlers();

// The signal that asked to stop, or 0.
int StopSignal();

// Sets or clears the flag as a signal would (for tests).
void SetStopSignalForTesting(int signal);

}  // namespace mdm::util

#endif  // MDM_UTIL_STOP_SIGNAL_H_
