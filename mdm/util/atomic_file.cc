#include "mdm/util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace mdm::util {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

std::string FolderOf(const std::string& path) {
  const std::filesystem::path target(path);
  return target.has_parent_path() ? target.parent_path().string() : ".";
}

}  // namespace

absl::Status CreateFolder(const std::string& dir, absl::string_view what) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (!error) return absl::OkStatus();
  // create_directories reports a dangling link as "File exists".
  for (std::filesystem::path p(dir); !p.empty() && p != p.root_path();
       p = p.parent_path()) {
    std::error_code ignored;
    if (std::filesystem::is_symlink(p, ignored) &&
        !std::filesystem::exists(p, ignored)) {
      return absl::UnavailableError(absl::StrCat(
          "cannot create ", what, " ", dir, ": ", p.string(),
          " is a symbolic link to ",
          std::filesystem::read_symlink(p, ignored).string(),
          ", which does not exist"));
    }
  }
  return absl::UnavailableError(
      absl::StrCat("cannot create ", what, " ", dir, ": ", error.message()));
}

absl::Status CheckWritable(const std::string& path) {
  if (absl::Status s = CreateFolder(FolderOf(path)); !s.ok()) return s;
  const std::string probe = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        0644);
  if (fd < 0) return ErrnoError("write", path);
  ::close(fd);
  ::unlink(probe.c_str());
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(
    const std::string& path,
    const std::function<absl::Status(const AppendFunction& append)>& produce) {
  const std::string dir = FolderOf(path);
  if (absl::Status s = CreateFolder(dir); !s.ok()) return s;
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", tmp);
  const AppendFunction append = [&](absl::string_view piece) {
    const char* data = piece.data();
    size_t left = piece.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, data, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("write", tmp);
      }
      data += n;
      left -= static_cast<size_t>(n);
    }
    return absl::OkStatus();
  };
  absl::Status status = produce(append);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("flush", tmp);
  if (::close(fd) != 0 && status.ok()) status = ErrnoError("flush", tmp);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoError("rename into place", path);
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  return WriteFileAtomically(
      path, [contents](const AppendFunction& append) { return append(contents); });
}

}  // namespace mdm::util
