// One writer per run directory: an advisory lock (flock) on DIR/.lock held
// for the life of the object, so a second `train` into a directory in use
// fails at once. The kernel releases the lock when its process exits in any
// way (kill -9 included), so a lock left by a dead process never blocks: the
// file stays, unlocked. The file holds the holder's pid and host for the
// error message.
//
// Example:
//   absl::StatusOr<std::unique_ptr<RunLock>> lock = RunLock::Acquire(dir);
//   if (!lock.ok()) return lock.status();  // "... in use by pid 123 on h1"
#ifndef MDM_UTIL_RUN_LOCK_H_
#define MDM_UTIL_RUN_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mdm::util {

class RunLock {
 public:
  // Creates `dir` if needed and locks it; FailedPrecondition naming the
  // holder when another process holds the lock.
  static absl::StatusOr<std::unique_ptr<RunLock>> Acquire(
      const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  RunLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace mdm::util

#endif  // MDM_UTIL_RUN_LOCK_H_
