// Fan-out through Redis (chapter 20, docs/scaling.md): S subscribers on
// /broadcast, one publisher sending 20-byte messages at a steady rate, first
// to one echo_server process with no broker, then to `--workers 2 --redis`.
// Reports deliveries per second, publish-to-delivery latency (p50, p99), and
// the CPU used by the server processes and by Redis. It starts redis-server
// and build/echo_server itself on free loopback ports, and stops them.
//   build/fanout_bench [--subscribers 10000] [--rate 50] [--seconds 5]
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "openpipe/io/socket.h"

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// fork + exec, stdout/stderr to /dev/null; the child dies with us.
pid_t spawn(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// CPU seconds (user + system) used by `pid`, from /proc.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(f.c_str());
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The pids of `pid` and its children (the workers).
std::vector<pid_t> family(pid_t pid) {
  std::vector<pid_t> out = {pid};
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  pid_t child;
  while (in >> child) out.push_back(child);
  return out;
}

double cpu_of(const std::vector<pid_t>& pids) {
  double total = 0;
  for (pid_t p : pids) total += cpu_seconds(p);
  return total;
}

bool wait_port(uint16_t port) {
  for (int i = 0; i < 200; ++i) {
    if (ws::connect_tcp("127.0.0.1", port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A WebSocket on /broadcast: blocking connect and handshake, then non-blocking.
int open_ws(uint16_t port) {
  ws::Fd fd = ws::connect_tcp("127.0.0.1", port);
  if (!fd) return -1;
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  const std::string request =
      "GET /broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return -1;
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd.get(), &c, 1, 0) == 1) head += c;
  if (head.rfind("HTTP/1.1 101", 0) != 0) return -1;
  ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  return fd.release();
}

struct Result {
  uint64_t deliveries = 0, expected = 0;
  double seconds = 0, p50_us = 0, p99_us = 0, server_cpu = 0, redis_cpu = 0;
};

// A masked text frame from the publisher (RFC 6455 §5.3: clients mask).
std::string masked_text(const std::string& payload) {
  std::string frame = {char(0x81), char(0x80 | payload.size()), 1, 2, 3, 4};
  for (size_t i = 0; i < payload.size(); ++i) frame += char(payload[i] ^ (1 + i % 4));
  return frame;
}

Result run(uint16_t port, int subscribers, int rate, int seconds, pid_t server, pid_t redis) {
  Result result;
  int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> fds;
  std::vector<std::string> pending(1 << 20);
  for (int i = 0; i < subscribers; ++i) {
    int fd = open_ws(port);
    if (fd < 0) {
      std::fprintf(stderr, "subscriber %d could not connect\n", i);
      break;
    }
    fds.push_back(fd);
    epoll_event ev{EPOLLIN, {.fd = fd}};
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
  }
  int publisher = open_ws(port);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscriptions settle
  std::vector<int64_t> latencies;
  latencies.reserve(size_t(rate) * seconds * fds.size());
  const double cpu0 = cpu_of(family(server)), redis0 = redis > 0 ? cpu_seconds(redis) : 0;
  const int64_t start = now_ns();
  const int total = rate * seconds;
  int sent = 0;
  std::vector<epoll_event> events(1024);
  int64_t last_receipt = start;
  const int64_t give_up = start + int64_t(seconds + 10) * 1'000'000'000;
  while (now_ns() < give_up && (sent < total || result.deliveries < uint64_t(sent) * fds.size())) {
    const int64_t t = now_ns();
    while (sent < total && t - start >= int64_t(sent) * 1'000'000'000 / rate) {
      char payload[21];
      std::snprintf(payload, sizeof payload, "T%019lld", static_cast<long long>(now_ns()));
      const std::string frame = masked_text(std::string(payload, 20));
      ::send(publisher, frame.data(), frame.size(), MSG_NOSIGNAL);
      ++sent;
    }
    int n = ::epoll_wait(epoll, events.data(), int(events.size()), 1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      char buffer[65536];
      ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) continue;
      const int64_t received = now_ns();
      last_receipt = received;
      std::string& data = pending[size_t(fd)];
      data.append(buffer, size_t(got));
      size_t at = 0;
      while (data.size() - at >= 2) {
        size_t len = uint8_t(data[at + 1]) & 0x7F, header = 2;
        if (len == 126) {
          if (data.size() - at < 4) break;
          len = (size_t(uint8_t(data[at + 2])) << 8) | uint8_t(data[at + 3]);
          header = 4;
        }
        if (data.size() - at < header + len) break;
        if ((data[at] & 0x0F) == 1 && len == 20 && data[at + header] == 'T') {
          latencies.push_back(received - std::atoll(data.substr(at + header + 1, 19).c_str()));
          ++result.deliveries;
        }
        at += header + len;
      }
      data.erase(0, at);
    }
  }
  result.seconds = double(last_receipt - start) / 1e9;
  result.expected = uint64_t(sent) * fds.size();
  result.server_cpu = cpu_of(family(server)) - cpu0;
  result.redis_cpu = redis > 0 ? cpu_seconds(redis) - redis0 : 0;
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    result.p50_us = double(latencies[latencies.size() / 2]) / 1e3;
    result.p99_us = double(latencies[latencies.size() * 99 / 100]) / 1e3;
  }
  for (int fd : fds) ::close(fd);
  ::close(publisher);
  ::close(epoll);
  return result;
}

void report(const char* name, const Result& r) {
  std::printf(
      "%-28s deliveries %9llu of %9llu  %10.0f deliveries/s  p50 %8.0f us  p99 %8.0f us  "
      "server CPU %5.1f%%  redis CPU %5.1f%%\n",
      name, static_cast<unsigned long long>(r.deliveries),
      static_cast<unsigned long long>(r.expected), double(r.deliveries) / r.seconds, r.p50_us,
      r.p99_us, 100 * r.server_cpu / r.seconds, 100 * r.redis_cpu / r.seconds);
  std::fflush(stdout);
}

uint16_t free_port() {
  return ws::listen_tcp("127.0.0.1", 0).port;
}

}  // namespace

int main(int argc, char** argv) {
  int subscribers = 10000, rate = 50, seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--subscribers") subscribers = value;
    if (flag == "--rate") rate = value;
    if (flag == "--seconds") seconds = value;
  }
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  const std::string dir =
      argc > 0 ? std::string(argv[0]).substr(0, std::string(argv[0]).rfind('/') + 1) : "";
  const std::string server_path = dir + "echo_server";
  const std::string max = std::to_string(subscribers + 100);
  std::printf(
      "fan-out: %d subscribers on /broadcast, 1 publisher, %d messages/s of 20 bytes, %d s\n",
      subscribers, rate, seconds);

  uint16_t port = free_port();
  pid_t one =
      spawn({server_path, "--port", std::to_string(port), "--quiet", "--max-connections", max});
  if (!wait_port(port)) return 1;
  report("1 process, no broker", run(port, subscribers, rate, seconds, one, -1));
  stop(one);

  char tmp[] = "/tmp/fanout-redis-XXXXXX";
  ::mkdtemp(tmp);
  uint16_t redis_port = free_port();
  pid_t redis = spawn({"/usr/bin/redis-server", "--port", std::to_string(redis_port), "--bind",
                       "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp});
  if (!wait_port(redis_port)) return 1;
  port = free_port();
  pid_t two = spawn({server_path, "--port", std::to_string(port), "--quiet", "--max-connections",
                     max, "--workers", "2", "--redis", "127.0.0.1:" + std::to_string(redis_port)});
  if (!wait_port(port)) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Result r = run(port, subscribers, rate, seconds, two, redis);
  report("2 workers + redis", r);
  stop(two);
  stop(redis);
  std::string cleanup = std::string("rm -rf ") + tmp;
  return std::system(cleanup.c_str()) == 0 ? 0 : 1;
}
