// Headless Chromium for tests, driven through the DevTools protocol over two
// pipes (--remote-debugging-pipe: JSON commands to its fd 3, answers from its
// fd 4, each message ending with a NUL byte), and the echo server it talks
// to, both started as child processes that are always stopped (process
// groups, killed and reaped when they go out of scope). Header-only;
// namespace ws::test. Used by the browser tests of chapters 13, 17-19 and 22;
// Browser (below) opens several tabs and asks them questions.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
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

constexpr auto kServerStartTimeout = 10s;  // until the "listening on" line
constexpr auto kReplyTimeout = 10s;        // one DevTools command and its answer
constexpr auto kPageTimeout = 20s;         // until the page shows the server's reply
constexpr auto kPollInterval = 100ms;      // between two looks at the page
constexpr auto kExitTimeout = 3s;          // SIGTERM, then SIGKILL

constexpr std::string_view kListeningLine = "listening on http://";

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

inline std::string find_server() {
  if (const char* env = std::getenv("OPENPIPE_ECHO_SERVER"); env != nullptr && *env != '\0') {
    return env;
  }
  fs::path build = OPENPIPE_SOURCE_DIR "/build";
  if (const char* env = std::getenv("OPENPIPE_BUILD"); env != nullptr && *env != '\0') {
    build = fs::path(env).is_absolute() ? fs::path(env) : fs::path(OPENPIPE_SOURCE_DIR) / env;
  }
  return (build / "echo_server").string();
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
  // kExitTimeout; then reaps every process of the group. (The test process is
  // a subreaper, so helpers whose parent died become our children, not init's.)
  void stop() {
    if (group_ <= 0) return;
    kill(-group_, SIGTERM);
    auto deadline = Clock::now() + kExitTimeout;
    while (!exited() && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    kill(-group_, SIGKILL);  // helpers that outlived the main process, too
    deadline = Clock::now() + kExitTimeout;
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
    const auto deadline = Clock::now() + kReplyTimeout;
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

// Starts the echo server on a port the kernel picks and returns that port
// (0 if no "listening on http://HOST:PORT/" line came in time).
// `extra` flags are added to the server's command line.
inline int start_server(Child& server, Pipe& out, const std::string& binary, std::string& said,
                        const fs::path& log, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {binary, "--port", "0", "--host", "127.0.0.1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!server.start(argv, {{out.write, STDOUT_FILENO}}, log.string())) {
    return 0;
  }
  out.close_write();  // ours: so that end of file means the server is gone
  const auto deadline = Clock::now() + kServerStartTimeout;
  while (said.find('\n', said.find(kListeningLine)) == std::string::npos) {
    if (!read_some(out.read, said, deadline)) return 0;
  }
  const size_t host = said.find(kListeningLine) + kListeningLine.size();
  const size_t colon = said.find(':', host);
  return colon == std::string::npos ? 0 : std::atoi(said.c_str() + colon + 1);
}

// Deletes the temporary directory when the test ends, however it ends.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& prefix = "openpipe-test-") {
    std::string pattern = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (mkdtemp(pattern.data()) != nullptr) path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

// ---- a browser with tabs -----------------------------------------------------------------

// JSON string literal for `text` (quotes, backslashes and control characters escaped).
inline std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Headless Chromium with its own profile in `dir`, stopped (with every helper
// process) when the object goes. open() gives a tab; evaluate() runs
// JavaScript in it; wait_until() asks a yes/no question until it is true.
class Browser {
 public:
  // False if Chromium cannot be started; why() then says more.
  bool start(const std::string& chromium, const fs::path& dir) {
    signal(SIGPIPE, SIG_IGN);          // a browser that died must not kill the test
    prctl(PR_SET_CHILD_SUBREAPER, 1);  // its helpers become our children: Child::stop() reaps them
    log_ = dir / "chromium.log";
    if (!child_.start({chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                       "--no-first-run", "--disable-background-networking",
                       "--disable-component-update", "--disable-sync",
                       "--user-data-dir=" + (dir / "profile").string(), "--remote-debugging-pipe"},
                      {{to_.read, 3}, {from_.write, 4}}, log_.string())) {
      return false;
    }
    to_.close_read();
    from_.close_write();
    devtools_.emplace(to_.write, from_.read);
    return true;
  }

  // A new tab showing `url`; returns its session ("" if Chromium did not answer).
  std::string open(const std::string& url) {
    const std::string target =
        json_string(devtools_->call("Target.createTarget", R"({"url":"about:blank"})"), "targetId");
    if (target.empty()) return "";
    const std::string session =
        json_string(devtools_->call("Target.attachToTarget",
                                    R"({"targetId":")" + target + R"(","flatten":true})"),
                    "sessionId");
    if (session.empty()) return "";
    devtools_->call("Runtime.enable", "{}", session);
    devtools_->call("Page.enable", "{}", session);  // dialogs (alert) become events
    const std::string navigated =
        devtools_->call("Page.navigate", R"({"url":)" + json_quote(url) + "}", session);
    if (navigated.empty() || !json_string(navigated, "errorText").empty()) return "";
    return session;
  }

  // The DevTools answer to evaluating `expression` in the tab (JSON text;
  // the value is in "result":{"type":...,"value":...}), "" on a timeout.
  std::string evaluate(const std::string& session, const std::string& expression) {
    return devtools_->call("Runtime.evaluate",
                           R"({"expression":)" + json_quote(expression) +
                               R"(,"returnByValue":true,"awaitPromise":true})",
                           session);
  }

  // Evaluates the boolean `expression` every 100 ms until it is true or
  // `timeout` passed.
  bool wait_until(const std::string& session, const std::string& expression,
                  std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      const std::string answer = evaluate(session, expression);
      if (answer.empty()) return false;  // the browser stopped answering
      if (answer.find(R"("value":true)") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // True if the boolean `expression` is true now.
  bool is_true(const std::string& session, const std::string& expression) {
    return evaluate(session, expression).find(R"("value":true)") != std::string::npos;
  }

  // The page's visible text, for failure messages.
  std::string page_text(const std::string& session) {
    return evaluate(session, "document.body.innerText");
  }
  // Events received so far (console calls, dialogs...), as JSON texts.
  const std::vector<std::string>& events() const { return devtools_->events; }
  std::string log_tail() const { return tail_of_log(log_); }

 private:
  Pipe to_, from_;                    // declared first: closed after the child is stopped
  Child child_;                       // Chromium and its helpers
  std::optional<DevTools> devtools_;  // the protocol over to_/from_
  fs::path log_;                      // Chromium's stderr
};

// Skips the test (with a message) when Chromium is absent: the one reason a
// browser test may skip.
#define OPENPIPE_REQUIRE_CHROMIUM(path_variable)                                               \
  const std::string path_variable = ::ws::test::find_chromium();                               \
  if (path_variable.empty()) {                                                                 \
    GTEST_SKIP() << "Chromium not installed: apt-get install chromium (browser test skipped)"; \
  }

}  // namespace ws::test
