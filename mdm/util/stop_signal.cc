#include "mdm/util/stop_signal.h"

#include <atomic>
#include <csignal>
#include <initializer_list>

namespace mdm::util {
namespace {

// Read and written by the handler, so lock-free.
static_assert(std::atomic<int64_t>::is_always_lock_free);
volatile std::sig_atomic_t stop_signal = 0;
std::atomic<int64_t> batches{0};
std::atomic<int64_t> batches_at_signal{0};

void Handle(int signal) {
  // A second Ctrl-C while the first is being honoured stops at once.
  if (signal == SIGINT && stop_signal != 0) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  if (stop_signal == 0) batches_at_signal.store(batches.load());
  stop_signal = signal;
}

}  // namespace

void InstallStopSignalHandlers() {
  for (int signal : {SIGTERM, SIGUSR1, SIGUSR2, SIGINT}) {
    std::signal(signal, Handle);
  }
}

int StopSignal() { return stop_signal; }

void CountBatch() { batches.fetch_add(1); }

int64_t BatchesSinceStopSignal() {
  return stop_signal == 0 ? 0 : batches.load() - batches_at_signal.load();
}

void SetStopSignalForTesting(int signal) {
  batches_at_signal.store(batches.load());
  stop_signal = signal;
}

}  // namespace mdm::util
