// The worker supervisor (see include/openpipe/io/workers.h). The parent runs
// an EventLoop of its own: signalfd for SIGINT/SIGTERM/SIGCHLD, one pipe per
// child stream for the log, and timers for restarts. It never accepts a
// connection: the children do, each on its own SO_REUSEPORT socket.
#include "openpipe/io/workers.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "openpipe/io/event_loop.h"
#include "openpipe/io/fd.h"

namespace ws {
namespace {

using Millis = std::chrono::milliseconds;

// Bytes kept of a line that has not ended yet; longer lines are cut here.
constexpr size_t kMaxLogLine = 16 * 1024;

// One child's stdout or stderr, read by the parent and written, line by
// line, tagged with the worker's number, to the parent's own stream.
class LogPipe final : public IoHandler {
 public:
  LogPipe(EventLoop& loop, Fd fd, unsigned index, FILE* out)
      : loop_(loop), fd_(std::move(fd)), out_(out) {
    tag_ = "[worker " + std::to_string(index) + "] ";
    loop_.add(fd_.get(), EPOLLIN, this);
  }
  ~LogPipe() override { close(); }
  bool open() const { return fd_.valid(); }

  void on_io(uint32_t) override {
    uint8_t buffer[8192];
    ssize_t n = read_some(fd_.get(), buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {  // the child closed it (it ended): write what is left
      if (!partial_.empty()) emit(partial_);
      partial_.clear();
      return close();
    }
    partial_.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t lf; (lf = partial_.find('\n', start)) != std::string::npos; start = lf + 1) {
      emit(std::string_view(partial_).substr(start, lf - start));
    }
    partial_.erase(0, start);
    if (partial_.size() > kMaxLogLine) {
      emit(partial_);
      partial_.clear();
    }
  }

 private:
  void emit(std::string_view line) {
    // One fwrite per line: lines of different workers never interleave.
    std::string text = tag_ + std::string(line) + "\n";
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
  }
  void close() {
    if (!fd_) return;
    loop_.remove(fd_.get());
    fd_.reset();
  }

  EventLoop& loop_;
  Fd fd_;                // read end of the child's pipe
  FILE* out_;            // the parent's stdout or stderr
  std::string tag_;      // "[worker 3] "
  std::string partial_;  // a line not ended yet
};

//> workers.child
struct Worker {
  unsigned index = 0;                 // 1..N: stays the same across restarts
  pid_t pid = -1;                     // -1: not running
  unsigned restarts_in_a_row = 0;     // the backoff exponent
  EventLoop::TimePoint started;       // for stable_after
  std::unique_ptr<LogPipe> out, err;  // its stdout and stderr
  TimerId restart_timer = kNoTimer;
};
//< workers.child

class Supervisor {
 public:
  Supervisor(const WorkerOptions& options, const std::function<int(unsigned)>& worker)
      : options_(options), worker_(worker) {}
  int run();

 private:
  bool spawn(Worker& w);
  void on_child_exit();
  void schedule_restart(Worker& w);
  void begin_shutdown(int signo);
  void say(const std::string& line) {
    std::fprintf(stderr, "%s: %s\n", options_.name.c_str(), line.c_str());
    std::fflush(stderr);
  }
  size_t running() const {
    return static_cast<size_t>(
        std::count_if(workers_.begin(), workers_.end(), [](const Worker& w) { return w.pid > 0; }));
  }

  WorkerOptions options_;
  const std::function<int(unsigned)>& worker_;
  EventLoop loop_;
  std::vector<Worker> workers_;
  bool shutting_down_ = false;
  bool failed_ = false;  // a worker ended badly during shutdown
};

//> workers.spawn
// fork(): the child drops everything of the parent's it does not need (the
// parent's loop, the other workers' pipes), sends its output into its pipes,
// and runs the program's worker function. It never returns from here.
bool Supervisor::spawn(Worker& w) {
  Fd out_read, out_write, err_read, err_write;
  if (make_pipe(out_read, out_write) != 0 || make_pipe(err_read, err_write) != 0) {
    say("cannot create a pipe for worker " + std::to_string(w.index) + ": " + std::strerror(errno));
    return false;
  }
  std::fflush(nullptr);  // nothing buffered by the parent is printed twice
  pid_t pid = ::fork();
  if (pid < 0) {
    say("cannot fork worker " + std::to_string(w.index) + ": " + std::strerror(errno));
    return false;
  }
  if (pid == 0) {
    // The child. If the parent dies (even by kill -9), the kernel sends
    // SIGTERM: no worker outlives its supervisor.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() == 1) ::_exit(1);  // the parent died before prctl
    ::dup2(out_write.get(), STDOUT_FILENO);
    ::dup2(err_write.get(), STDERR_FILENO);
    // Close every other descriptor: the parent's epoll and signalfd, the
    // other workers' pipes. Only 0, 1 and 2 stay, as after an exec.
    ::close_range(3, ~0U, 0);
    // The parent's loop blocked these signals for its signalfd: unblock
    // them, so the worker's own loop (or the default action) gets them.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int status = worker_(w.index);
    std::fflush(nullptr);
    ::_exit(status);  // not exit(): the parent's objects are not ours to destroy
  }
  w.pid = pid;
  w.started = loop_.now();
  w.out = std::make_unique<LogPipe>(loop_, std::move(out_read), w.index, stdout);
  w.err = std::make_unique<LogPipe>(loop_, std::move(err_read), w.index, stderr);
  say("worker " + std::to_string(w.index) + " started, pid " + std::to_string(pid));
  return true;
}
//< workers.spawn

//> workers.restart
// A worker that dies is started again, alone: the others keep their
// clients. A worker that keeps dying waits longer each time (100 ms, 200 ms,
// ... up to restart_max), so a crash at start-up does not become a fork loop.
void Supervisor::schedule_restart(Worker& w) {
  if (loop_.now() - w.started >= options_.stable_after) w.restarts_in_a_row = 0;
  const unsigned exponent = std::min(w.restarts_in_a_row, 16u);
  const Millis delay = std::min(options_.restart_max, options_.restart_initial * (1 << exponent));
  ++w.restarts_in_a_row;
  say("restarting worker " + std::to_string(w.index) + " in " + std::to_string(delay.count()) +
      " ms");
  w.restart_timer = loop_.add_timer(delay, [this, &w] {
    w.restart_timer = kNoTimer;
    if (!shutting_down_ && !spawn(w)) schedule_restart(w);
  });
}
//< workers.restart

void Supervisor::on_child_exit() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // no more children have ended
    auto it = std::find_if(workers_.begin(), workers_.end(),
                           [pid](const Worker& w) { return w.pid == pid; });
    if (it == workers_.end()) continue;
    Worker& w = *it;
    w.pid = -1;
    std::string how = WIFEXITED(status)
                          ? "exited with status " + std::to_string(WEXITSTATUS(status))
                      : WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                            : "ended";
    say("worker " + std::to_string(w.index) + " (pid " + std::to_string(pid) + ") " + how);
    if (shutting_down_) {
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed_ = true;
    } else {
      schedule_restart(w);
    }
  }
}

//> workers.shutdown
// SIGINT/SIGTERM: every worker gets the same signal and shuts down as a
// single server does (close 1001 to each client, wait for the replies);
// the parent waits for all of them, and kills any that is still there
// after shutdown_timeout.
void Supervisor::begin_shutdown(int signo) {
  if (shutting_down_) return;
  shutting_down_ = true;
  say("shutting down " + std::to_string(running()) + " worker(s)");
  for (Worker& w : workers_) {
    if (w.restart_timer != kNoTimer) loop_.cancel_timer(w.restart_timer);
    if (w.pid > 0) ::kill(w.pid, signo);
  }
  loop_.add_timer(options_.shutdown_timeout, [this] {
    for (Worker& w : workers_) {
      if (w.pid > 0) {
        say("worker " + std::to_string(w.index) + " did not stop in time: SIGKILL");
        ::kill(w.pid, SIGKILL);
      }
    }
  });
}
//< workers.shutdown

int Supervisor::run() {
  workers_.resize(options_.workers);
  for (unsigned i = 0; i < options_.workers; ++i) workers_[i].index = i + 1;
  loop_.on_signal(SIGCHLD, [this](int) { on_child_exit(); });
  loop_.on_signal(SIGINT, [this](int signo) { begin_shutdown(signo); });
  loop_.on_signal(SIGTERM, [this](int signo) { begin_shutdown(signo); });
  for (Worker& w : workers_) {
    if (!spawn(w)) schedule_restart(w);
  }
  // Until every worker has ended and said its last words.
  while (!shutting_down_ || running() > 0 ||
         std::any_of(workers_.begin(), workers_.end(), [](const Worker& w) {
           return (w.out && w.out->open()) || (w.err && w.err->open());
         })) {
    if (loop_.run_once(200) < 0 && errno != EINTR) break;
  }
  say("all workers stopped");
  return failed_ ? 1 : 0;
}

}  // namespace

int run_workers(const WorkerOptions& options, const std::function<int(unsigned index)>& worker) {
  Supervisor supervisor(options, worker);
  return supervisor.run();
}

}  // namespace ws
