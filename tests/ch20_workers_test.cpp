// Chapter 20 exercises, part 3: the real programs past one process. Each test
// starts a real redis-server (tests/support/redis_server.h) and the real
// build/echo_server, as one process or with --workers N, and talks to
// /broadcast with raw clients: a message published on one process reaches
// the clients of every process, exactly once, in order per publisher.

// g++ 12 at -O1 with ASan warns inside <regex> (std::function in its NFA,
// "may be used uninitialized": GCC bug 105562, a false positive), and
// -Werror makes that fatal under `make asan`. The warning is in the library
// headers, included from gtest too, so it is turned off for the whole file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/program.h"
#include "support/raw_ws.h"
#include "support/redis_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::Program;
using test::RawClient;
using test::RedisServer;

constexpr uint8_t kText = 1, kClose = 8;

// The port in "... listening on http://127.0.0.1:PORT/", or 0.
uint16_t listening_port(const std::string& out) {
  std::smatch m;
  static const std::regex kLine("listening on http://[^ ]*:([0-9]+)/");
  if (!std::regex_search(out, m, kLine)) return 0;
  return static_cast<uint16_t>(std::stoi(m[1]));
}

// "127.0.0.1:54321": the client's address as the server's log names it.
std::string local_address(const RawClient& client) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&address), &length);
  return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

// Which worker logged "open <address> /broadcast": 0 if none (yet).
int worker_of(const std::string& err, const std::string& address) {
  std::smatch m;
  const std::regex line("\\[worker ([0-9]+)\\] [0-9:]* *open +" + address + " ");
  if (!std::regex_search(err, m, line)) return 0;
  return std::stoi(m[1]);
}

// Starts build/echo_server with `args` plus --port 0, waits for the port.
uint16_t launch(Program& program, std::vector<std::string> args) {
  args.insert(args.begin(), {"--port", "0"});
  if (!program.start(test::program_path("echo_server"), args)) return 0;
  if (!program.wait_for_stdout("/\n", 30s)) return 0;
  return listening_port(program.out());
}

// Reads one text message; "" if none came (timeout, close, error).
std::string next_text(RawClient& client, std::chrono::milliseconds timeout = 10s) {
  std::optional<test::RawMessage> m = client.read_message(timeout);
  if (!m || m->opcode != kText) return "";
  return m->payload;
}

// Waits until Redis counts `n` subscribers of the /broadcast topic.
bool wait_subscribers(const RedisServer& redis, int64_t n) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (redis.subscribers("openpipe:broadcast") != n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

TEST(Ch20_Workers, SeveralWorkersWithoutRedisRefuseToStart) {
  Program program;
  ASSERT_TRUE(program.start(test::program_path("echo_server"), {"--port", "0", "--workers", "2"}));
  std::optional<int> status = program.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << test::describe(*status);
  EXPECT_NE(program.err().find("needs --redis"), std::string::npos)
      << "one line that says why and names --redis: " << program.err();
  EXPECT_EQ(std::count(program.err().begin(), program.err().end(), '\n'), 1) << program.err();
}

//> test.two-processes
TEST(Ch20_Scale, MessageOnOneProcessReachesTheOtherExactlyOnce) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program a, b;
  const uint16_t port_a = launch(a, {"--redis", redis.address()});
  const uint16_t port_b = launch(b, {"--redis", redis.address()});
  ASSERT_NE(port_a, 0) << a.err();
  ASSERT_NE(port_b, 0) << b.err();
  std::vector<std::unique_ptr<RawClient>> on_a, on_b;
  for (int i = 0; i < 3; ++i) {
    on_a.push_back(std::make_unique<RawClient>());
    on_b.push_back(std::make_unique<RawClient>());
    ASSERT_TRUE(on_a.back()->open(port_a, "/broadcast"));
    ASSERT_TRUE(on_b.back()->open(port_b, "/broadcast"));
  }
  ASSERT_TRUE(wait_subscribers(redis, 2)) << "each process SUBSCRIBEs once, however many clients";

  on_a[0]->send_text("hello from A");
  for (auto* clients : {&on_a, &on_b}) {
    for (auto& client : *clients) {
      EXPECT_EQ(next_text(*client), "hello from A") << "every /broadcast client, on A and on B";
      EXPECT_EQ(next_text(*client, 300ms), "") << "exactly once: no second copy";
    }
  }
}
//< test.two-processes

TEST(Ch20_Scale, ServerStartsWithRedisDownAndConnectsWhenItComesUp) {
  RedisServer redis;  // its port is chosen; it is not running
  Program server;
  const uint16_t port = launch(server, {"--redis", redis.address()});
  ASSERT_NE(port, 0) << "the server starts without Redis: " << server.err();
  EXPECT_TRUE(server.wait_for_stderr("broker: down")) << server.err();
  RawClient client;
  ASSERT_TRUE(client.open(port, "/broadcast"));
  client.send_text("local delivery goes on");
  EXPECT_EQ(next_text(client), "local delivery goes on") << "local subscribers do not need Redis";
  ASSERT_TRUE(redis.start());
  EXPECT_TRUE(server.wait_for_stderr("broker: up", 20s)) << server.err();
  EXPECT_TRUE(wait_subscribers(redis, 1)) << "the topic of its client is subscribed";
}

// Opens `count` /broadcast clients on `port` and finds which worker took each.
std::vector<int> open_clients(Program& server, uint16_t port, size_t count,
                              std::vector<std::unique_ptr<RawClient>>& clients) {
  std::vector<int> workers;
  for (size_t i = 0; i < count; ++i) {
    clients.push_back(std::make_unique<RawClient>());
    if (!clients.back()->open(port, "/broadcast")) return {};
    const std::string address = local_address(*clients.back());
    int worker = 0;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while ((worker = worker_of(server.err(), address)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      server.poll_output(20);
    }
    workers.push_back(worker);
  }
  return workers;
}

//> test.forty-clients
TEST(Ch20_Workers, FortyClientsOnFourWorkersGetEveryMessageOnceInOrder) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program server;
  const uint16_t port = launch(server, {"--workers", "4", "--redis", redis.address()});
  ASSERT_NE(port, 0) << server.err();
  std::vector<std::unique_ptr<RawClient>> clients;
  std::vector<int> workers = open_clients(server, port, 40, clients);
  ASSERT_EQ(workers.size(), 40u);
  std::map<int, int> per_worker;
  std::string served;
  for (size_t i = 0; i < workers.size(); ++i) {
    ASSERT_NE(workers[i], 0) << "client " << i << " has no [worker N] open line";
    ++per_worker[workers[i]];
    served += " " + std::to_string(i) + "->w" + std::to_string(workers[i]);
  }
  std::cout << "which worker served each client:" << served << "\n";
  ASSERT_GT(per_worker.size(), 1u) << "SO_REUSEPORT spreads connections over the workers";
  ASSERT_TRUE(wait_subscribers(redis, static_cast<int64_t>(per_worker.size())))
      << "one SUBSCRIBE per worker that has a client";

  // Two publishers, on (most likely) different workers, 20 messages each.
  const size_t p = 0;
  size_t q = 1;
  while (q < clients.size() && workers[q] == workers[p]) ++q;
  for (int i = 0; i < 20; ++i) {
    clients[p]->send_text("p-" + std::to_string(i));
    clients[q]->send_text("q-" + std::to_string(i));
  }
  for (size_t c = 0; c < clients.size(); ++c) {
    int next_p = 0, next_q = 0;
    for (int n = 0; n < 40; ++n) {
      const std::string m = next_text(*clients[c]);
      ASSERT_FALSE(m.empty()) << "client " << c << " (worker " << workers[c] << ") got only " << n
                              << " of 40";
      int& next = m[0] == 'p' ? next_p : next_q;
      EXPECT_EQ(m.substr(2), std::to_string(next)) << "client " << c << ": order per publisher";
      ++next;
    }
    EXPECT_EQ(next_text(*clients[c], 100ms), "") << "client " << c << ": nothing twice";
  }
}
//< test.forty-clients

TEST(Ch20_Workers, KilledWorkerIsRestartedAndTheOthersSeeNothing) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program server;
  const uint16_t port = launch(server, {"--workers", "2", "--redis", redis.address()});
  ASSERT_NE(port, 0) << server.err();
  std::vector<std::unique_ptr<RawClient>> clients;
  std::vector<int> workers = open_clients(server, port, 16, clients);
  ASSERT_EQ(std::set<int>(workers.begin(), workers.end()).size(), 2u)
      << "16 connections land on both workers";
  std::smatch m;
  const std::string err = server.err();
  ASSERT_TRUE(std::regex_search(err, m, std::regex("worker 2 started, pid ([0-9]+)"))) << err;
  const pid_t victim = std::stoi(m[1]);

  ::kill(victim, SIGKILL);
  ASSERT_TRUE(server.wait_for_stderr("killed by signal 9")) << server.err();
  ASSERT_TRUE(server.wait_for_stderr("restarting worker 2")) << server.err();
  auto deadline = std::chrono::steady_clock::now() + 20s;
  auto starts = [&] {
    const std::string& e = server.err();
    size_t n = 0;
    for (size_t at = 0; (at = e.find("worker 2 started", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  while (starts() < 2 && std::chrono::steady_clock::now() < deadline) server.poll_output(20);
  ASSERT_EQ(starts(), 2u) << "the supervisor starts worker 2 again:\n" << server.err();

  // Worker 1's clients: still open, still served.
  size_t survivor = 0;
  while (workers[survivor] != 1) ++survivor;
  clients[survivor]->send_text("still here");
  for (size_t c = 0; c < clients.size(); ++c) {
    if (workers[c] == 1) {
      EXPECT_EQ(next_text(*clients[c]), "still here") << "client " << c << " of worker 1";
    } else {
      std::optional<test::RawMessage> gone = clients[c]->read_message(5s);
      EXPECT_TRUE(!gone || gone->opcode == kClose) << "client " << c << " of the killed worker";
    }
  }
  // The killed worker's clients reconnect: new connections reach both
  // workers, once the new worker 2 listens ("started" is printed at the
  // fork, before it binds: until then the kernel gives worker 1 everything).
  auto listening = [&] {
    const std::string& o = server.out();
    size_t n = 0;
    for (size_t at = 0; (at = o.find("listening on", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  while (listening() < 3 && std::chrono::steady_clock::now() < deadline) server.poll_output(20);
  ASSERT_EQ(listening(), 3u) << "two workers, then the new worker 2:\n" << server.out();
  std::vector<std::unique_ptr<RawClient>> again;
  std::vector<int> now = open_clients(server, port, 16, again);
  EXPECT_EQ(std::set<int>(now.begin(), now.end()), (std::set<int>{1, 2}))
      << "the restarted worker 2 accepts again";
}

TEST(Ch20_Workers, SigtermClosesEveryClientOnEveryWorkerWith1001) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program server;
  const uint16_t port = launch(server, {"--workers", "2", "--redis", redis.address()});
  ASSERT_NE(port, 0) << server.err();
  std::vector<std::unique_ptr<RawClient>> clients;
  std::vector<int> workers = open_clients(server, port, 12, clients);
  ASSERT_EQ(std::set<int>(workers.begin(), workers.end()).size(), 2u);
  server.signal(SIGTERM);
  for (size_t c = 0; c < clients.size(); ++c) {
    std::optional<test::RawFrame> close = clients[c]->read_frame(10s);
    ASSERT_TRUE(close && close->opcode == kClose) << "client " << c;
    EXPECT_EQ(close->close_code(), 1001) << "RFC 6455 §7.4.1: 1001 going away, on every worker";
    clients[c]->send_close(1001);
  }
  std::optional<int> status = server.wait_exit(30s);
  ASSERT_TRUE(status) << "the parent waits for every worker, then ends";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << test::describe(*status);
  EXPECT_NE(server.err().find("all workers stopped"), std::string::npos) << server.err();
}

}  // namespace
}  // namespace ws
