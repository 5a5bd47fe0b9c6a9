#include "mdm/util/stop_signal.h"

#include <csignal>

namespace mdm::util {
namespace {

volatile std::sig_atomic_t stop_signal = 0;

void Handle(int signal) {
  // A second Ctrl-C while the first is being honoured stops at once.
  if (signal == SIGINT && stop_signal != 0) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  stop_signal = signal;
}

}  // namespace

void InstallStopSignalHandlers() {
  std::signal(SIGTERM, Handle);
  std::signal(SIGUSR1, Handle);
  std::signal(SIGINT, Handle);
}

int StopSignal() { return stop_signal; }

void SetStopSignalForTesting(int signal) { stop_signal = signal; }

}  // namespace mdm::util
