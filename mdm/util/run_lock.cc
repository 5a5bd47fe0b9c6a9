#include "mdm/util/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mdm/util/atomic_file.h"

namespace mdm::util {

absl::StatusOr<std::unique_ptr<RunLock>> RunLock::Acquire(
    const std::string& dir) {
  if (absl::Status s = CreateFolder(dir, "output directory"); !s.ok()) {
    return absl::PermissionDeniedError(s.message());
  }
  const std::string path = (std::filesystem::path(dir) / ".lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int flock_errno = errno;
    std::string holder(256, '\0');
    const ssize_t n = ::pread(fd, holder.data(), holder.size(), 0);
    holder.resize(n > 0 ? n : 0);
    ::close(fd);
    if (flock_errno != EWOULDBLOCK) {
      return absl::UnavailableError(absl::StrCat(
          "cannot lock ", path, ": ", std::strerror(flock_errno)));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is in use by another run (",
        holder.empty() ? std::string("holder unknown")
                       : std::string(absl::StripAsciiWhitespace(holder)),
        "): one writer per run directory"));
  }
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  const std::string me = absl::StrCat("pid ", ::getpid(), " on ", host, "\n");
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    const int write_errno = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(write_errno)));
  }
  return std::unique_ptr<RunLock>(new RunLock(fd, path));
}

RunLock::~RunLock() {
  // Closing the descriptor releases the lock; the file stays (unlinking it
  // could race with a process that just opened it).
  ::close(fd_);
}

}  // namespace mdm::util
