// Fd: one open file descriptor, owned (closed on destruction), move-only.
// Also the thinnest wrappers over read/write/fcntl/pipe2: they return what the
// kernel returns (-1 with errno set on failure) and never throw; the caller
// switches on errno (EAGAIN: wait for the loop, EINTR: retry, ...).
// Owns nothing but the descriptor; sockets are in socket.h. No RFC 6455 here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>

namespace ws {

//> fd.class
// An owned descriptor. Exactly one Fd closes a given descriptor: copying is
// forbidden, moving hands ownership over and leaves the source empty (-1).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() { reset(); }

  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives the descriptor away: the caller now closes it. The Fd becomes empty.
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;  // the descriptor, or -1 when empty
};
//< fd.class

// ---- thin wrappers: the kernel's return value, errno untouched ----

// read(2) into `into`: bytes read, 0 at end of file, -1 with errno.
ssize_t read_some(int fd, std::span<uint8_t> into);
// write(2) from `bytes`: bytes written (maybe fewer), -1 with errno. On a
// socket, use send_nosignal() (socket.h) instead: write() can raise SIGPIPE.
ssize_t write_some(int fd, std::span<const uint8_t> bytes);

// Adds O_NONBLOCK / FD_CLOEXEC to the descriptor: 0, or -1 with errno.
int set_nonblocking(int fd);
int set_cloexec(int fd);
// The same flags, read back (false if fcntl fails): for tests and asserts.
bool is_nonblocking(int fd);
bool is_cloexec(int fd);

// pipe2(O_NONBLOCK | O_CLOEXEC): 0 and both ends filled, or -1 with errno.
int make_pipe(Fd& read_end, Fd& write_end);

}  // namespace ws
