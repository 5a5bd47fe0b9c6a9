// Graceful stops for preemptible jobs: SIGTERM and SIGUSR1 (what Slurm
// sends before killing or requeueing a job) only set a flag; the training
// loop checks it after each step, writes a checkpoint and exits cleanly.
#ifndef MDM_UTIL_STOP_SIGNAL_H_
#define MDM_UTIL_STOP_SIGNAL_H_

namespace mdm::util {

// Installs the handlers for SIGTERM and SIGUSR1.
void InstallStopSignalHandlers();

// The signal that asked to stop, or 0.
int StopSignal();

// Sets or clears the flag as a signal would (for tests).
void SetStopSignalForTesting(int signal);

}  // namespace mdm::util

#endif  // MDM_UTIL_STOP_SIGNAL_H_
