// Chapter 20 exercises, part 4: the applications of chapters 17-19 past one
// process. Each test starts a real redis-server (tests/support/redis_server.h)
// and the real programs (build/chat_server, build/notify_server,
// build/dashboard_server) with --redis, as two processes on two ports or as
// --workers N on one, and speaks the JSON protocols of docs/protocols.md to
// them with the C++ client: what is global (chat messages, joins and leaves,
// notifications) reaches every process exactly once; what is per process
// (chat presence and history, dashboard samples) says so.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "notify/signature.h"
#include "openpipe/io/client.h"
#include "support/json_client.h"
#include "support/program.h"
#include "support/raw_ws.h"
#include "support/redis_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::json;
using test::next_json;
using test::Program;
using test::RedisServer;

constexpr const char* kSecret = "shared by every notify process";

// Every test here needs Debian's redis-server; without it they say so and
// skip (CI installs it: .ci/run).
#define REQUIRE_REDIS()                                                                       \
  if (test::redis_server_path().empty()) {                                                    \
    GTEST_SKIP() << "redis-server not found: install it with 'apt-get install redis-server'"; \
  }

// Starts build/<name> with `args` plus --port 0 (and --secret for notify),
// and waits for its listening line; the port, or 0.
uint16_t launch(Program& program, const std::string& name, std::vector<std::string> args) {
  args.insert(args.begin(), {"--port", "0"});
  if (name == "notify_server") args.insert(args.end(), {"--secret", kSecret});
  if (!program.start(test::program_path(name), args)) return 0;
  if (!program.wait_for_stdout("/\n", 30s)) return 0;
  return test::listening_port(program.out());
}

// Waits until Redis counts `n` subscribers (processes) of `channel`.
bool wait_subscribers(const RedisServer& redis, const std::string& channel, int64_t n) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (redis.subscribers(channel) != n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// ---- every program: the flags ------------------------------------------------------------

const std::vector<std::string> kPrograms = {"chat_server", "dashboard_server", "notify_server"};

TEST(Ch20_Apps, EveryProgramHelpListsWorkersAndRedis) {
  for (const std::string& name : kPrograms) {
    Program program;
    ASSERT_TRUE(program.start(test::program_path(name), {"--help"}));
    ASSERT_TRUE(program.wait_exit()) << name;
    for (const char* flag : {"--workers N", "--redis ADDR", "--help"}) {
      EXPECT_NE(program.out().find(flag), std::string::npos)
          << name << " --help names " << flag << " (ws::kScaleUsage)";
    }
  }
}

TEST(Ch20_Apps, EveryProgramRefusesWorkersWithoutRedisInOneLine) {
  for (const std::string& name : kPrograms) {
    Program program;
    std::vector<std::string> args = {"--port", "0", "--workers", "2"};
    if (name == "notify_server") args.insert(args.end(), {"--secret", kSecret});
    ASSERT_TRUE(program.start(test::program_path(name), args));
    std::optional<int> status = program.wait_exit();
    ASSERT_TRUE(status) << name;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
        << name << ": " << test::describe(*status);
    EXPECT_NE(program.err().find("needs --redis"), std::string::npos)
        << name << ": says why and names --redis: " << program.err();
    EXPECT_EQ(std::count(program.err().begin(), program.err().end(), '\n'), 1)
        << name << ": one line, no silent loss: " << program.err();
  }
}

TEST(Ch20_Apps, EveryProgramRefusesABadRedisAddress) {
  for (const std::string& name : kPrograms) {
    Program program;
    ASSERT_TRUE(program.start(test::program_path(name), {"--redis", "http://nope"}));
    std::optional<int> status = program.wait_exit();
    ASSERT_TRUE(status) << name;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
        << name << ": " << test::describe(*status);
    EXPECT_NE(program.err().find("--redis: "), std::string::npos) << name << ": " << program.err();
  }
}

// ---- chat ---------------------------------------------------------------------------------

struct Member {
  Client client;
  json welcome;
};

std::unique_ptr<Member> join(uint16_t port, const std::string& room, const std::string& name) {
  auto member = std::make_unique<Member>();
  ClientStatus status =
      member->client.connect(test::local_url(port, "/chat?room=" + room + "&name=" + name), 10s);
  EXPECT_TRUE(status.ok()) << name << " could not join " << room << ": " << status.error;
  if (!status.ok()) return nullptr;
  std::string what;
  std::optional<json> welcome = next_json(member->client, &what);
  EXPECT_TRUE(welcome) << "docs/protocols.md: the welcome comes first; got " << what;
  if (welcome) member->welcome = *welcome;
  return member;
}

void say(Client& client, const std::string& text) {
  ASSERT_TRUE(client.send_text(json{{"type", "message"}, {"text", text}}.dump()).ok());
}

// The next message of the chat, as "join bob", "leave bob" or "ada: hi"; ""
// if nothing came within `timeout`.
std::string next_event(Client& client, std::chrono::milliseconds timeout = test::kJsonTimeout) {
  std::string what;
  std::optional<json> m = next_json(client, &what, timeout);
  if (!m) return "";
  if ((*m)["type"] == "message") {
    return (*m)["name"].get<std::string>() + ": " + (*m)["text"].get<std::string>();
  }
  return (*m)["type"].get<std::string>() + " " + m->value("name", "?");
}

//> test.chat-two-processes
TEST(Ch20_Apps, ChatJoinMessagesAndLeaveReachTheOtherProcessOnceInOrder) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program a, b;
  const uint16_t port_a = launch(a, "chat_server", {"--redis", redis.address()});
  const uint16_t port_b = launch(b, "chat_server", {"--redis", redis.address()});
  ASSERT_NE(port_a, 0) << a.err();
  ASSERT_NE(port_b, 0) << b.err();

  auto ada = join(port_a, "lobby", "ada");
  ASSERT_TRUE(ada);
  ASSERT_TRUE(wait_subscribers(redis, "openpipe:chat/lobby", 1)) << "A subscribed the room";
  auto bob = join(port_b, "lobby", "bob");
  ASSERT_TRUE(bob);
  EXPECT_EQ(next_event(ada->client), "join bob") << "a join on B reaches A";
  ASSERT_TRUE(wait_subscribers(redis, "openpipe:chat/lobby", 2)) << "B subscribed the room";

  for (int i = 0; i < 5; ++i) say(ada->client, "a" + std::to_string(i));
  for (int i = 0; i < 5; ++i) say(bob->client, "b" + std::to_string(i));
  for (Member* member : {ada.get(), bob.get()}) {
    int next_a = 0, next_b = 0;
    for (int n = 0; n < 10; ++n) {
      const std::string event = next_event(member->client);
      ASSERT_FALSE(event.empty()) << member->welcome["name"] << " got only " << n << " of 10";
      int& next = event.starts_with("ada: ") ? next_a : next_b;
      EXPECT_EQ(event.substr(event.size() - 1), std::to_string(next))
          << member->welcome["name"] << ": order per sender (" << event << ")";
      ++next;
    }
    EXPECT_EQ(next_event(member->client, 300ms), "")
        << member->welcome["name"] << ": each message exactly once";
  }

  bob->client.close(1000, "bye");
  EXPECT_EQ(next_event(ada->client), "leave bob") << "a leave on B reaches A";
}
//< test.chat-two-processes

TEST(Ch20_Apps, ChatWelcomeSaysItsMembersAndHistoryAreThisProcesssOnly) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program a, b, alone;
  const uint16_t port_a = launch(a, "chat_server", {"--redis", redis.address()});
  const uint16_t port_b = launch(b, "chat_server", {"--redis", redis.address()});
  const uint16_t port_alone = launch(alone, "chat_server", {});
  ASSERT_NE(port_a, 0) << a.err();
  ASSERT_NE(port_b, 0) << b.err();
  ASSERT_NE(port_alone, 0) << alone.err();

  auto ada = join(port_a, "lobby", "ada");
  ASSERT_TRUE(ada);
  say(ada->client, "said on A");
  EXPECT_EQ(next_event(ada->client), "ada: said on A");
  auto bob = join(port_b, "lobby", "bob");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->welcome.value("scope", ""), "process")
      << "docs/protocols.md: with --redis, the welcome says its lists are this process's";
  EXPECT_EQ(bob->welcome["members"], json::array({"bob"})) << "ada is on A: not in B's members";
  EXPECT_EQ(bob->welcome["history"], json::array()) << "A's history is A's";

  auto solo = join(port_alone, "lobby", "solo");
  ASSERT_TRUE(solo);
  EXPECT_FALSE(solo->welcome.contains("scope"))
      << "one process without --redis: members and history are the whole room's";
}

TEST(Ch20_Apps, ChatNamesAreUniquePerProcessOnly) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program a, b;
  const uint16_t port_a = launch(a, "chat_server", {"--redis", redis.address()});
  const uint16_t port_b = launch(b, "chat_server", {"--redis", redis.address()});
  ASSERT_NE(port_a, 0) << a.err();
  ASSERT_NE(port_b, 0) << b.err();
  auto first = join(port_a, "lobby", "ada");
  ASSERT_TRUE(first);
  Client again;
  ClientStatus status = again.connect(test::local_url(port_a, "/chat?room=lobby&name=ada"), 10s);
  EXPECT_NE(status.error.find("409"), std::string::npos) << "same process: 409 as ever";
  auto second = join(port_b, "lobby", "ada");
  EXPECT_TRUE(second) << "docs/protocols.md: names are unique per process, not across processes";
}

// How many distinct workers took these connections (--workers: the kernel
// picks), from the "[worker N] ... open ADDR" log lines; 0 if a line is missing.
size_t workers_used(Program& server, const std::vector<Client*>& clients) {
  std::set<std::string> workers;
  for (const Client* client : clients) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    ::getsockname(client->fd(), reinterpret_cast<sockaddr*>(&address), &length);
    const std::string needle = " 127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + " ";
    auto deadline = std::chrono::steady_clock::now() + 10s;
    size_t at = std::string::npos;
    while ((at = server.err().find(needle)) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      server.poll_output(20);
    }
    if (at == std::string::npos) return 0;
    const size_t tag = server.err().rfind("[worker ", at);
    if (tag == std::string::npos) return 0;
    workers.insert(server.err().substr(tag, server.err().find(']', tag) - tag));
  }
  return workers.size();
}

TEST(Ch20_Apps, ChatOnTwoWorkersDeliversEveryMessageOnce) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program server;
  const uint16_t port =
      launch(server, "chat_server", {"--workers", "2", "--redis", redis.address()});
  ASSERT_NE(port, 0) << server.err();
  std::vector<std::unique_ptr<Member>> members;
  for (int i = 0; i < 8; ++i) {
    members.push_back(join(port, "lobby", "m" + std::to_string(i)));
    ASSERT_TRUE(members.back()) << server.err();
  }
  std::vector<Client*> clients;
  for (const auto& member : members) clients.push_back(&member->client);
  const size_t workers = workers_used(server, clients);
  ASSERT_NE(workers, 0u) << "every open has a [worker N] log line: " << server.err();
  ASSERT_TRUE(wait_subscribers(redis, "openpipe:chat/lobby", static_cast<int64_t>(workers)))
      << "each worker with a member subscribed the room";
  // Joins that raced the other worker's SUBSCRIBE may or may not have
  // arrived: read until the first message.
  say(members[0]->client, "hello everyone");
  for (size_t i = 0; i < members.size(); ++i) {
    std::string event;
    do {
      event = next_event(members[i]->client);
    } while (event.starts_with("join "));
    EXPECT_EQ(event, "m0: hello everyone") << "member " << i << " (of " << workers << " workers)";
    EXPECT_EQ(next_event(members[i]->client, 300ms), "") << "member " << i << ": exactly once";
  }
}

// ---- notify -------------------------------------------------------------------------------

std::string signed_post(uint16_t port, const std::string& topic, const std::string& body) {
  test::RawClient client;
  if (!client.connect(port)) return "connect failed";
  client.send_raw("POST /notify/" + topic + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                  "Content-Length: " + std::to_string(body.size()) + "\r\n" + "X-Signature-256: " +
                  notify::signature_header(kSecret, body) + "\r\n\r\n" + body);
  return client.read_all();
}

std::unique_ptr<Client> subscribe(uint16_t port, const std::string& topic) {
  auto client = std::make_unique<Client>();
  ClientStatus status = client->connect(test::local_url(port, "/subscribe?topic=" + topic), 10s);
  EXPECT_TRUE(status.ok()) << topic << ": " << status.error;
  return status.ok() ? std::move(client) : nullptr;
}

// The body of the next notification, or "" if none came within `timeout`.
std::string next_body(Client& client, std::chrono::milliseconds timeout = test::kJsonTimeout) {
  std::optional<json> m = next_json(client, nullptr, timeout);
  if (!m || (*m)["type"] != "notification") return "";
  return (*m)["body"].get<std::string>();
}

//> test.notify-two-processes
TEST(Ch20_Apps, NotifyWebhookOnOneProcessReachesSubscribersOfTheOther) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program a, b;
  const uint16_t port_a = launch(a, "notify_server", {"--redis", redis.address()});
  const uint16_t port_b = launch(b, "notify_server", {"--redis", redis.address()});
  ASSERT_NE(port_a, 0) << a.err();
  ASSERT_NE(port_b, 0) << b.err();
  auto on_b = subscribe(port_b, "deploys");
  ASSERT_TRUE(on_b);
  ASSERT_TRUE(wait_subscribers(redis, "openpipe:deploys", 1)) << "B subscribed the topic";

  const std::string reply = signed_post(port_a, "deploys", "v1.4 is live");
  EXPECT_NE(reply.find("200 OK"), std::string::npos) << reply;
  EXPECT_NE(reply.find(R"("delivered":0)"), std::string::npos)
      << "docs/protocols.md: delivered counts the subscribers of the process that took the POST";
  EXPECT_EQ(next_body(*on_b), "v1.4 is live") << "the POST on A reaches B's subscriber";
  EXPECT_EQ(next_body(*on_b, 300ms), "") << "exactly once";
}
//< test.notify-two-processes

TEST(Ch20_Apps, NotifyOnTwoWorkersReachesEverySubscriberOnce) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program server;
  const uint16_t port =
      launch(server, "notify_server", {"--workers", "2", "--redis", redis.address()});
  ASSERT_NE(port, 0) << server.err();
  std::vector<std::unique_ptr<Client>> subscribers;
  for (int i = 0; i < 8; ++i) {
    subscribers.push_back(subscribe(port, "deploys"));
    ASSERT_TRUE(subscribers.back());
  }
  std::vector<Client*> clients;
  for (const auto& subscriber : subscribers) clients.push_back(subscriber.get());
  const size_t workers = workers_used(server, clients);
  ASSERT_NE(workers, 0u) << "every open has a [worker N] log line: " << server.err();
  ASSERT_TRUE(wait_subscribers(redis, "openpipe:deploys", static_cast<int64_t>(workers)))
      << "each worker with a subscriber subscribed the topic";
  EXPECT_NE(signed_post(port, "deploys", "v1.4 is live").find("200 OK"), std::string::npos);
  for (size_t i = 0; i < subscribers.size(); ++i) {
    EXPECT_EQ(next_body(*subscribers[i]), "v1.4 is live")
        << "subscriber " << i << " (of " << workers << " workers)";
    EXPECT_EQ(next_body(*subscribers[i], 300ms), "") << "subscriber " << i << ": exactly once";
  }
}

// ---- dashboard ----------------------------------------------------------------------------

//> test.dashboard-per-process
TEST(Ch20_Apps, DashboardSamplesStayInTheProcessTheyDescribe) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program a, b;
  const uint16_t port_a =
      launch(a, "dashboard_server", {"--interval", "50", "--redis", redis.address()});
  const uint16_t port_b =
      launch(b, "dashboard_server", {"--interval", "50", "--redis", redis.address()});
  ASSERT_NE(port_a, 0) << a.err();
  ASSERT_NE(port_b, 0) << b.err();
  Client on_a, on_b;
  ASSERT_TRUE(on_a.connect(test::local_url(port_a, "/metrics"), 10s).ok());
  ASSERT_TRUE(on_b.connect(test::local_url(port_b, "/metrics"), 10s).ok());
  ASSERT_TRUE(wait_subscribers(redis, "openpipe:metrics", 2));
  for (auto [client, program] : {std::pair{&on_a, &a}, std::pair{&on_b, &b}}) {
    for (int i = 0; i < 10; ++i) {
      std::string what;
      std::optional<json> sample = next_json(*client, &what);
      ASSERT_TRUE(sample) << what;
      EXPECT_EQ((*sample)["pid"], program->pid())
          << "docs/protocols.md: a client sees the samples of its own process, tagged with it";
      EXPECT_FALSE((*sample)["host"].get<std::string>().empty());
    }
  }
}
//< test.dashboard-per-process

TEST(Ch20_Apps, DashboardOnTwoWorkersServesSamplesOfAWorker) {
  REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Program server;
  const uint16_t port = launch(server, "dashboard_server",
                               {"--workers", "2", "--interval", "50", "--redis", redis.address()});
  ASSERT_NE(port, 0) << server.err();
  Client client;
  ASSERT_TRUE(client.connect(test::local_url(port, "/metrics"), 10s).ok());
  std::string what;
  std::optional<json> first = next_json(client, &what);
  ASSERT_TRUE(first) << what;
  EXPECT_NE((*first)["pid"], server.pid()) << "a worker took it, not the supervising parent";
  for (int i = 0; i < 5; ++i) {
    std::optional<json> sample = next_json(client, &what);
    ASSERT_TRUE(sample) << what;
    EXPECT_EQ((*sample)["pid"], (*first)["pid"]) << "one connection, one worker, one process";
  }
}

}  // namespace
}  // namespace ws
