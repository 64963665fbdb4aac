// A program under test (build/echo_server, build/chat_server...), started
// with fork/exec, its stdout and stderr read through pipes, killed (SIGKILL,
// by pid) and reaped when the test ends, so a failed assertion never leaves
// a process running. Shared by the chapters that test real programs (12,
// 17-20). Header-only; namespace ws::test.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ws::test {

using Millis = std::chrono::milliseconds;

// Generous bounds, so a broken build fails instead of hanging; nothing is
// asserted about how fast anything is.
inline constexpr Millis kStartLimit =
    std::chrono::seconds(20);  // the listening line (ASan, workers: slower)
inline constexpr Millis kExitLimit = std::chrono::seconds(20);  // for the process to end
inline constexpr Millis kLogLimit = std::chrono::seconds(10);   // for a log line to appear

// Where the program is: $OPENPIPE_BUILD (set by `make test`: "build" or
// "build/asan"), relative to the source tree, else the source tree's build/.
inline std::string program_path(std::string_view name) {
  const char* env = std::getenv("OPENPIPE_BUILD");
  std::string dir = (env && *env) ? env : "build";
  if (dir.front() != '/') dir = std::string(OPENPIPE_SOURCE_DIR) + "/" + dir;
  return dir + "/" + std::string(name);
}

// "exited with status 0", "killed by signal 15": for failure messages.
inline std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// A child process with its stdout and stderr read through pipes. The
// destructor kills (SIGKILL) and reaps it if it is still there, so a failed
// assertion never leaves a server running. Output is read only while a
// wait_*() call runs: enough for the few lines these tests produce (a pipe
// holds 64 KiB before the child would block).
class Program {
 public:
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    for (int fd : {out_fd_, err_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // fork + exec `path args...`, stdin on /dev/null. False if it cannot start.
  bool start(const std::string& path, const std::vector<std::string>& args) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return false;
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // The child: only async-signal-safe calls until exec.
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      // Whatever this process inherited, the server starts with the default
      // dispositions and no blocked signals (a shell may ignore SIGINT in
      // background jobs).
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    return pid_ > 0;
  }

  // Reads output until `text` appears on stdout (or stderr); false on timeout
  // or if the program ended first.
  bool wait_for_stdout(std::string_view text, Millis timeout = kStartLimit) {
    return wait_for(out_, text, timeout);
  }
  bool wait_for_stderr(std::string_view text, Millis timeout = kLogLimit) {
    return wait_for(err_, text, timeout);
  }

  // Waits for the program to end, reading its output meanwhile. The status
  // as waitpid() reports it, or nothing on timeout.
  std::optional<int> wait_exit(Millis timeout = kExitLimit) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!status_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      read_output(20);
    }
    if (status_) read_output(0);  // what it printed last
    return status_;
  }

  void signal(int signo) { ::kill(pid_, signo); }
  pid_t pid() const { return pid_; }
  // Reads whatever output is there, waiting at most `timeout_ms`.
  void poll_output(int timeout_ms) { read_output(timeout_ms); }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  bool wait_for(const std::string& stream, std::string_view text, Millis timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (stream.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      if (!read_output(20)) return false;  // both pipes closed: the program ended
    }
    return true;
  }

  // One poll() on both pipes (at most `timeout_ms`); appends what arrived.
  // False once both pipes reached end of file.
  bool read_output(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (out_fd_ < 0 && err_fd_ < 0) {
      ::poll(nullptr, 0, timeout_ms);  // nothing to read: just wait (no busy loop)
      return false;
    }
    if (::poll(fds, 2, timeout_ms) <= 0) return true;
    drain(out_fd_, fds[0].revents, out_);
    drain(err_fd_, fds[1].revents, err_);
    return true;
  }

  static void drain(int& fd, short revents, std::string& into) {
    if (fd < 0 || !(revents & (POLLIN | POLLHUP | POLLERR))) return;
    char buffer[4096];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      ::close(fd);
      fd = -1;  // end of file: poll() ignores negative descriptors
    }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;  // read ends of the child's stdout and stderr
  std::string out_, err_;          // everything read so far
  std::optional<int> status_;      // set once reaped
};

// The port in "openpipe ... listening on http://127.0.0.1:PORT/", or 0.
inline uint16_t listening_port(const std::string& out) {
  size_t url = out.find("listening on http://");
  if (url == std::string::npos) return 0;
  size_t slash = out.find('/', url + 20);
  size_t colon = out.rfind(':', slash);
  if (slash == std::string::npos || colon == std::string::npos || colon < url + 20) return 0;
  return static_cast<uint16_t>(std::atoi(out.substr(colon + 1, slash - colon - 1).c_str()));
}

}  // namespace ws::test
