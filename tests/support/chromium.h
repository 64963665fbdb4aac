// Headless Chromium for tests, driven through the DevTools protocol over two
// pipes (--remote-debugging-pipe: JSON commands to its fd 3, answers from its
// fd 4, each message ending with a NUL byte), and the echo server it talks
// to, both started as child processes that are always stopped (process
// groups, killed and reaped when they go out of scope). Header-only;
// namespace ws::test. Used by the browser tests of chapters 13, 17-19 and 22;
// Browser (below) opens several tabs and asks them questions. The process,
// pipe, DevTools and TempDir helpers are in child_process.h.
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

#include "child_process.h"

namespace ws::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kServerStartTimeout = 10s;  // until the "listening on" line
constexpr auto kPageTimeout = 20s;         // until the page shows the server's reply
constexpr auto kPollInterval = 100ms;      // between two looks at the page

constexpr std::string_view kListeningLine = "listening on http://";

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
