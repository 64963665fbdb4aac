// Child processes for tests that use real programs (Chromium, nginx, the
// echo server, python3): a Child killed and reaped when it goes out of scope,
// pipes, a temporary directory removed at the end, reads with a deadline, and
// the DevTools protocol over --remote-debugging-pipe to drive Chromium.
// Extracted from tests/ch13_browser_test.cpp; header-only; namespace ws::test.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ws::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline constexpr auto kChildExitTimeout = 3s;       // SIGTERM, then SIGKILL
inline constexpr auto kDevToolsReplyTimeout = 10s;  // one DevTools command and its answer

// ---- finding the programs -------------------------------------------------------------

inline bool is_executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

// $CHROMIUM, /usr/bin/chromium, or chromium / chromium-browser on the PATH.
inline std::string find_chromium() {
  if (const char* env = std::getenv("CHROMIUM"); env != nullptr && is_executable(env)) return env;
  if (is_executable("/usr/bin/chromium")) return "/usr/bin/chromium";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string candidate = dir + "/" + name;
      if (!dir.empty() && is_executable(candidate)) return candidate;
    }
  }
  return "";
}

// ---- a child process, killed and reaped when it goes out of scope ---------------------------

// The child runs in a process group of its own, so that stopping it also stops
// whatever it started (Chromium runs a dozen helper processes).
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }

  // Starts `argv`; `fds` are (our fd, child fd) pairs to install in the child.
  // Everything else the child inherits is closed on exec (pipes are O_CLOEXEC).
  bool start(const std::vector<std::string>& argv, const std::vector<std::pair<int, int>>& fds,
             const std::string& stderr_file = "") {
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {  // the child: only async-signal-safe calls until exec
      setpgid(0, 0);
      // Move every source fd out of the way first: dup2(3, 3) would keep its
      // close-on-exec flag, and one target may be another pair's source.
      int moved[8];
      for (size_t i = 0; i < fds.size() && i < 8; ++i) moved[i] = fcntl(fds[i].first, F_DUPFD, 10);
      for (size_t i = 0; i < fds.size() && i < 8; ++i) dup2(moved[i], fds[i].second);
      for (size_t i = 0; i < fds.size() && i < 8; ++i) close(moved[i]);
      if (!stderr_file.empty()) {
        int err = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (err >= 0) dup2(err, STDERR_FILENO);
      }
      execv(args[0], args.data());
      _exit(127);
    }
    setpgid(pid_, pid_);  // also here: no race with the kill in stop()
    group_ = pid_;
    return true;
  }

  // The exit status if the child has ended (reaping it), else nullopt.
  std::optional<int> exited() {
    if (pid_ <= 0) return status_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = status;
    }
    return status_;
  }

  // SIGTERM to the whole group, SIGKILL if it is still there after
  // kChildExitTimeout; then reaps every process of the group. (The test process is
  // a subreaper, so helpers whose parent died become our children, not init's.)
  void stop() {
    if (group_ <= 0) return;
    kill(-group_, SIGTERM);
    auto deadline = Clock::now() + kChildExitTimeout;
    while (!exited() && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    kill(-group_, SIGKILL);  // helpers that outlived the main process, too
    deadline = Clock::now() + kChildExitTimeout;
    // kill(-group, 0) succeeds while any member exists, zombies included.
    while (kill(-group_, 0) == 0 && Clock::now() < deadline) {
      while (waitpid(-group_, nullptr, WNOHANG) > 0) {
      }
      std::this_thread::sleep_for(20ms);
    }
    pid_ = group_ = -1;
  }

 private:
  pid_t pid_ = -1;    // the child while it runs (-1 once reaped)
  pid_t group_ = -1;  // its process group: the same number
  std::optional<int> status_;
};

// Both ends of a pipe, closed when they go out of scope.
struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == 0) {
      read = fds[0];
      write = fds[1];
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read >= 0) close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) close(write);
    write = -1;
  }
};

// Reads what is available on `fd` into `into`, waiting at most until
// `deadline`. False on end of file, an error, or the deadline.
inline bool read_some(int fd, std::string& into, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  const int ready = poll(&p, 1, static_cast<int>(left.count()));
  if (ready <= 0) return false;  // timeout (or EINTR: the caller's deadline decides)
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n <= 0) return false;
  into.append(buffer, static_cast<size_t>(n));
  return true;
}

// ---- the DevTools protocol over a pipe ---------------------------------------------------

// Sends commands as JSON and waits for the answer with the same id; events
// (messages without an id) that arrive meanwhile are kept in `events`.
class DevTools {
 public:
  DevTools(int to_browser, int from_browser) : to_(to_browser), from_(from_browser) {}

  // The answer to `method` (a JSON object as text), or "" on a timeout.
  std::string call(const std::string& method, const std::string& params = "{}",
                   const std::string& session = "") {
    const int id = ++last_id_;
    std::string message = "{\"id\":" + std::to_string(id) + ",";
    if (!session.empty()) message += "\"sessionId\":\"" + session + "\",";
    message += "\"method\":\"" + method + "\",\"params\":" + params + "}";
    message += '\0';  // --remote-debugging-pipe: each message ends with a NUL
    if (!write_all(message)) return "";
    const std::string prefix = "{\"id\":" + std::to_string(id) + ",";
    const auto deadline = Clock::now() + kDevToolsReplyTimeout;
    while (true) {
      for (size_t end; (end = input_.find('\0')) != std::string::npos;) {
        std::string received = input_.substr(0, end);
        input_.erase(0, end + 1);
        if (received.starts_with(prefix)) return received;
        events.push_back(std::move(received));
      }
      if (!read_some(from_, input_, deadline)) return "";
    }
  }

  std::vector<std::string> events;

 private:
  bool write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(to_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // EPIPE: the browser is gone (SIGPIPE is ignored)
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  int to_, from_;
  int last_id_ = 0;
  std::string input_;  // bytes read, not yet split into messages
};

// The value of a "name":"value" field in a JSON message (no escapes in it).
inline std::string json_string(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = json.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return json.substr(from, json.find('"', from) - from);
}

// The end of a log, without Chromium's complaints about the missing D-Bus.
inline std::string tail_of_log(const fs::path& path, size_t max_bytes = 2000) {
  std::ifstream in(path);
  std::string text;
  for (std::string line; std::getline(in, line);) {
    if (line.find("dbus") == std::string::npos) text += line + '\n';
  }
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

// Deletes the temporary directory when the test ends, however it ends.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& prefix = "openpipe-test") {
    std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) != nullptr) path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

// A program on the PATH (or at an absolute path), "" if none.
inline std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return is_executable(name) ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && is_executable(dir + "/" + name)) return dir + "/" + name;
  }
  return "";
}

// A program built by make: $OPENPIPE_BUILD/NAME (make test sets it), else build/NAME.
inline std::string built_program(const std::string& name) {
  fs::path build = OPENPIPE_SOURCE_DIR "/build";
  if (const char* env = std::getenv("OPENPIPE_BUILD"); env != nullptr && *env != '\0') {
    build = fs::path(env).is_absolute() ? fs::path(env) : fs::path(OPENPIPE_SOURCE_DIR) / env;
  }
  return (build / name).string();
}

// What a program printed (stdout and stderr together) and how it ended.
struct RunResult {
  int exit_code = -1;      // -1: killed, or did not end in time
  std::string output;      // stdout and stderr, interleaved
  bool timed_out = false;  // still running at the deadline (then killed)
};

// Runs `argv` to its end (at most `timeout`), with `env` added ("NAME=value").
inline RunResult run_program(const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout = 20s,
                             const std::vector<std::string>& env = {}) {
  RunResult result;
  Pipe out;
  Child child;
  std::vector<std::string> command = argv;
  if (!env.empty()) {  // through env(1): the child's environment, not ours
    command.insert(command.begin(), env.begin(), env.end());
    command.insert(command.begin(), "/usr/bin/env");
  }
  if (!child.start(command, {{out.write, STDOUT_FILENO}, {out.write, STDERR_FILENO}})) {
    return result;
  }
  out.close_write();
  const auto deadline = Clock::now() + timeout;
  while (read_some(out.read, result.output, deadline)) {
  }
  while (!child.exited() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  std::optional<int> status = child.exited();
  if (!status) {
    result.timed_out = true;
    return result;  // ~Child kills it
  }
  if (WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  return result;
}

}  // namespace ws::test
