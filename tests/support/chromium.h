// Headless Chromium for tests, driven through the DevTools protocol over two
// pipes (--remote-debugging-pipe: JSON commands to its fd 3, answers from its
// fd 4, each message ending with a NUL byte), and the echo server it talks
// to, both started as child processes that are always stopped (process
// groups, killed and reaped when they go out of scope). Header-only;
// namespace ws::test. Used by the browser tests of chapters 13 and 22. The
// process, pipe and DevTools helpers are in child_process.h.
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

}  // namespace ws::test
