// Fd and the thin descriptor wrappers. See include/openpipe/io/fd.h.
#include "openpipe/io/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ws {

//> fd.reset
void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) {
    // close() is never retried, not even on EINTR: on Linux the descriptor is
    // released before any error is reported, so a retry could close a
    // descriptor that another part of the program has just been given.
    // errno is kept: an Fd destroyed on an error path must not hide the
    // errno its caller is about to read.
    int saved_errno = errno;
    ::close(fd_);
    errno = saved_errno;
  }
  fd_ = fd;
}
//< fd.reset

ssize_t read_some(int fd, std::span<uint8_t> into) {
  return ::read(fd, into.data(), into.size());
}

ssize_t write_some(int fd, std::span<const uint8_t> bytes) {
  return ::write(fd, bytes.data(), bytes.size());
}

//> fd.set-nonblocking
int set_nonblocking(int fd) {
  // Read the flags first: F_SETFL replaces them all, and we only add one.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  if (flags & O_NONBLOCK) return 0;
  return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
//< fd.set-nonblocking

int set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0) return -1;
  if (flags & FD_CLOEXEC) return 0;
  return ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

bool is_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

bool is_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

int make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return 0;
}

}  // namespace ws
