// A real redis-server for tests (chapter 20), and a tiny blocking Redis
// client to look at it. RedisServer starts Debian's redis-server on a free
// loopback port in a temporary directory, with no persistence
// (--save '' --appendonly no), and always stops it: the destructor kills it
// by pid (SIGKILL) and removes the directory. Never skipped: if redis-server
// is missing the test fails and says which package to install.
// Header-only; namespace ws::test.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "openpipe/io/socket.h"
#include "openpipe/protocol/resp.h"

namespace ws::test {

// A loopback port nobody listens on right now: bind port 0, read it, close.
// (Another process could take it before we use it; on a test machine the
// kernel hands out ephemeral ports in turn, so that does not happen in practice.)
inline uint16_t free_port() {
  Listener listener = listen_tcp("127.0.0.1", 0);
  return listener.port;
}

inline std::string redis_server_path() {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/usr/sbin/"}) {
    std::string path = std::string(dir) + "redis-server";
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

//> test.redis-guard
class RedisServer {
 public:
  // Picks the port now; start() runs the server. `password`: requirepass.
  explicit RedisServer(std::string password = "") : password_(std::move(password)) {
    port_ = free_port();
    char pattern[] = "/tmp/openpipe-redis-XXXXXX";
    if (::mkdtemp(pattern)) dir_ = pattern;
  }
  ~RedisServer() {
    stop();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts redis-server (again, after stop(): same port, same directory)
  // and waits until it answers PING. False, with a reason, if it cannot.
  ::testing::AssertionResult start() {
    const std::string path = redis_server_path();
    if (path.empty()) {
      return ::testing::AssertionFailure()
             << "redis-server not found: install it with 'apt-get install redis-server' "
                "(.ci/run does)";
    }
    std::vector<std::string> args = {
        path,     "--port",    std::to_string(port_), "--bind",      "127.0.0.1",
        "--save", "",          "--appendonly",        "no",          "--dir",
        dir_,     "--logfile", dir_ + "/redis.log",   "--daemonize", "no"};
    if (!password_.empty()) args.insert(args.end(), {"--requirepass", password_});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // If the test process dies (a crash, a kill -9), the kernel kills Redis too.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed";
    // Generous: the machine is shared; nothing here measures speed.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (command({"PING"}).has_value()) return ::testing::AssertionSuccess();
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure()
               << "redis-server exited at start; see " << dir_ << "/redis.log";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return ::testing::AssertionFailure() << "redis-server did not answer PING within 20 s";
  }

  // Kills it (by pid, SIGKILL: an outage, not a shutdown) and reaps it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // One command on a new blocking connection; the reply, or nothing if
  // Redis does not answer (down, or garbage).
  std::optional<RespValue> command(std::initializer_list<std::string_view> args) const {
    Fd fd = connect_tcp("127.0.0.1", port_);
    if (!fd) return std::nullopt;
    std::string out;
    if (!password_.empty()) resp_append_command(out, {"AUTH", password_});
    resp_append_command(out, args);
    if (send_nosignal(fd.get(), out) != static_cast<ssize_t>(out.size())) return std::nullopt;
    RespParser parser;
    int wanted = password_.empty() ? 1 : 2;
    std::string buffer;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      uint8_t chunk[4096];
      ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
      if (n == 0) return std::nullopt;
      if (n < 0) {
        if (errno != EAGAIN) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      std::span<const uint8_t> data(chunk, static_cast<size_t>(n));
      while (!data.empty()) {
        RespResult r = parser.feed(data);
        if (r.status == ParseStatus::kError) return std::nullopt;
        data = data.subspan(r.consumed);
        if (r.status == ParseStatus::kOk && --wanted == 0) return parser.take();
      }
    }
    return std::nullopt;
  }

  // Subscribers Redis counts on `channel` (PUBSUB NUMSUB), -1 if it does not answer.
  int64_t subscribers(std::string_view channel) const {
    std::optional<RespValue> reply = command({"PUBSUB", "NUMSUB", channel});
    if (!reply || reply->elements.size() != 2) return -1;
    return reply->elements[1].integer;
  }

 private:
  std::string password_;
  uint16_t port_ = 0;
  std::string dir_;  // --dir and the log file
  pid_t pid_ = -1;
};
//< test.redis-guard

}  // namespace ws::test
