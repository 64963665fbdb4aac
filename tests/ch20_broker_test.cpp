// Chapter 20 exercises, part 2: the broker link (src/io/broker.cpp) against a
// REAL redis-server that each test starts on a free port and always stops
// (tests/support/redis_server.h). Two Broker objects on one event loop stand
// for two processes: each has its own origin id and its own connections, so
// Redis treats them exactly as it treats two servers. The loop runs in the
// test's thread (run_until), so nothing here needs a lock.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "openpipe/io/broker.h"
#include "support/redis_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;

// Generous: the machine is shared. Nothing is asserted about speed.
constexpr auto kUpLimit = 20s;

// Runs the loop until `done()` or `limit`; the value of done() at the end.
template <typename Predicate>
bool run_until(EventLoop& loop, Predicate done, std::chrono::milliseconds limit = kUpLimit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    loop.run_once(10);
  }
  return true;
}

struct Received {
  std::string topic, data;
  MessageType type;
};

// One "process": a broker and what it delivered to its local subscribers.
struct Node {
  Node(EventLoop& loop, uint16_t port, std::string password = "",
       std::vector<std::string>* log = nullptr) {
    BrokerConfig config;
    config.port = port;
    config.password = std::move(password);
    config.backoff_initial = 50ms;
    config.backoff_max = 1000ms;
    if (log) config.log = [log](std::string_view line) { log->emplace_back(line); };
    broker = std::make_unique<Broker>(
        loop, config, [this](std::string_view t, std::string_view d, MessageType m) {
          received.push_back({std::string(t), std::string(d), m});
        });
  }
  std::unique_ptr<Broker> broker;
  std::vector<Received> received;
};

bool both_up(const Node& a, const Node& b) {
  return a.broker->state() == BrokerState::kUp && b.broker->state() == BrokerState::kUp;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "  " + line + "\n";
  return out;
}

// ---- basic: addresses and envelopes -----------------------------------------------------

TEST(Ch20_Broker, ParsesRedisAddresses) {
  BrokerConfig c;
  std::string error;
  ASSERT_TRUE(parse_redis_address("127.0.0.1:6380", c, error)) << error;
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 6380);
  ASSERT_TRUE(parse_redis_address("redis://:s3cret@localhost:7000", c, error)) << error;
  EXPECT_EQ(c.host, "localhost");
  EXPECT_EQ(c.port, 7000);
  EXPECT_EQ(c.password, "s3cret") << "redis://[:password@]host:port";
  ASSERT_TRUE(parse_redis_address("[::1]:6379", c, error)) << error;
  EXPECT_EQ(c.host, "::1");
  for (const char* bad : {"6379", "host:", "host:0", "host:65536", "redis://user:pw@h:1", ":1"}) {
    EXPECT_FALSE(parse_redis_address(bad, c, error)) << bad << " is not a Redis address";
  }
}

TEST(Ch20_Broker, EnvelopeCarriesOriginTypeAndData) {
  const std::string data("a\0b op1", 7);
  const std::string bytes = encode_envelope({0x0123456789abcdefULL, true, data});
  Envelope e;
  ASSERT_TRUE(decode_envelope(bytes, e));
  EXPECT_EQ(e.origin, 0x0123456789abcdefULL) << "the origin id lets a server skip its own echoes";
  EXPECT_TRUE(e.binary);
  EXPECT_EQ(e.data, data) << "the data is binary-safe";
  EXPECT_FALSE(decode_envelope("hello", e)) << "a message someone else published is not ours";
  EXPECT_FALSE(decode_envelope("op1 0123456789abcdeX t x", e));
}

// ---- with Redis -------------------------------------------------------------------------------

//> test.broker-exactly-once
TEST(Ch20_Broker, MessageReachesTheOtherProcessExactlyOnce) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  EventLoop loop;
  Node a(loop, redis.port()), b(loop, redis.port());
  a.broker->subscribe("room");
  b.broker->subscribe("room");
  a.broker->start();
  b.broker->start();
  ASSERT_TRUE(run_until(loop, [&] { return both_up(a, b); })) << "both brokers connect";
  ASSERT_TRUE(run_until(loop, [&] { return redis.subscribers("openpipe:room") == 2; }));

  for (int i = 0; i < 100; ++i)
    a.broker->publish("room", "m" + std::to_string(i), MessageType::kText);
  ASSERT_TRUE(run_until(
      loop, [&] { return b.received.size() >= 100 && a.broker->stats().echoes_skipped >= 100; }))
      << "b got " << b.received.size() << " of 100";
  loop.run_once(100);  // anything extra would arrive now
  ASSERT_EQ(b.received.size(), 100u) << "exactly once: no message twice";
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(b.received[i].data, "m" + std::to_string(i)) << "order is kept per publisher";
    EXPECT_EQ(b.received[i].topic, "room");
  }
  EXPECT_TRUE(a.received.empty()) << "a's own messages come back from Redis and are skipped: "
                                     "its local subscribers already had them";
  EXPECT_EQ(a.broker->stats().echoes_skipped, 100u);
  EXPECT_EQ(a.broker->stats().published, 100u) << "every PUBLISH was answered";
}
//< test.broker-exactly-once

TEST(Ch20_Broker, BinaryMessagesStayBinary) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  EventLoop loop;
  Node a(loop, redis.port()), b(loop, redis.port());
  b.broker->subscribe("bin");
  a.broker->start();
  b.broker->start();
  ASSERT_TRUE(
      run_until(loop, [&] { return both_up(a, b) && redis.subscribers("openpipe:bin") == 1; }));
  const std::string payload("\x00\xff\r\n", 4);
  a.broker->publish("bin", payload, MessageType::kBinary);
  ASSERT_TRUE(run_until(loop, [&] { return !b.received.empty(); }));
  EXPECT_EQ(b.received[0].data, payload);
  EXPECT_EQ(b.received[0].type, MessageType::kBinary);
}

TEST(Ch20_Broker, SubscribesInRedisOnlyWhileNeeded) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  EventLoop loop;
  Node a(loop, redis.port());
  a.broker->start();
  ASSERT_TRUE(run_until(loop, [&] { return a.broker->state() == BrokerState::kUp; }));
  EXPECT_EQ(redis.subscribers("openpipe:news"), 0);
  a.broker->subscribe("news");
  EXPECT_TRUE(run_until(loop, [&] { return redis.subscribers("openpipe:news") == 1; }))
      << "the first local subscriber makes the process SUBSCRIBE";
  a.broker->unsubscribe("news");
  EXPECT_TRUE(run_until(loop, [&] { return redis.subscribers("openpipe:news") == 0; }))
      << "the last one leaving makes it UNSUBSCRIBE: Redis sends nothing nobody here reads";
}

TEST(Ch20_Broker, AuthenticatesWithThePassword) {
  RedisServer redis("s3cret");
  ASSERT_TRUE(redis.start());
  EventLoop loop;
  std::vector<std::string> good_log, bad_log;
  Node good(loop, redis.port(), "s3cret", &good_log), bad(loop, redis.port(), "wrong", &bad_log);
  good.broker->start();
  bad.broker->start();
  EXPECT_TRUE(run_until(loop, [&] { return good.broker->state() == BrokerState::kUp; }))
      << joined(good_log);
  EXPECT_TRUE(run_until(loop, [&] { return bad.broker->state() == BrokerState::kDown; }));
  EXPECT_NE(joined(bad_log).find("redis answered:"), std::string::npos)
      << "a refused AUTH is logged with Redis's own words:\n"
      << joined(bad_log);
}

TEST(Ch20_Broker, StartsWithRedisDownAndConnectsWhenItComesUp) {
  RedisServer redis;  // port chosen, not started
  EventLoop loop;
  std::vector<std::string> log;
  Node a(loop, redis.port(), "", &log);
  a.broker->subscribe("later");
  a.broker->start();
  ASSERT_TRUE(run_until(loop, [&] { return a.broker->state() == BrokerState::kDown; }))
      << "no Redis: the broker says it is down, and the program goes on";
  a.broker->publish("later", "into the void", MessageType::kText);
  EXPECT_EQ(a.broker->stats().lost, 1u)
      << "at most once: a publish while down is lost, and counted";
  ASSERT_TRUE(redis.start());
  EXPECT_TRUE(run_until(loop, [&] { return a.broker->state() == BrokerState::kUp; }))
      << "it connects once Redis is up:\n"
      << joined(log);
  EXPECT_TRUE(run_until(loop, [&] { return redis.subscribers("openpipe:later") == 1; }))
      << "and subscribes the topics its local subscribers wanted meanwhile";
  // One line per state change: connecting, down, up. Not one per attempt.
  ASSERT_EQ(log.size(), 3u) << joined(log);
  EXPECT_NE(log[1].find("broker: down"), std::string::npos) << log[1];
  EXPECT_NE(log[2].find("broker: up"), std::string::npos) << log[2];
  EXPECT_NE(log[2].find("1 publish(es) lost"), std::string::npos) << log[2];
}

//> test.broker-outage
TEST(Ch20_Broker, RedisRestartedMidRunLosesOnlyWhatWasPublishedWhileDown) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  EventLoop loop;
  std::vector<std::string> log;
  Node a(loop, redis.port(), "", &log), b(loop, redis.port());
  b.broker->subscribe("room");
  a.broker->start();
  b.broker->start();
  ASSERT_TRUE(
      run_until(loop, [&] { return both_up(a, b) && redis.subscribers("openpipe:room") == 1; }));
  a.broker->publish("room", "before", MessageType::kText);
  ASSERT_TRUE(run_until(loop, [&] { return b.received.size() == 1; }));

  redis.stop();  // kill -9: an outage
  ASSERT_TRUE(run_until(loop, [&] { return a.broker->state() == BrokerState::kDown; }));
  for (int i = 0; i < 10; ++i) a.broker->publish("room", "during", MessageType::kText);
  EXPECT_EQ(a.broker->stats().lost, 10u)
      << "while Redis is down, remote delivery is lost and counted";

  ASSERT_TRUE(redis.start());  // same port
  // Backoff max is 1 s here: 20 s is many times that, for a loaded machine.
  ASSERT_TRUE(run_until(loop, [&] { return both_up(a, b); })) << joined(log);
  ASSERT_TRUE(run_until(loop, [&] { return redis.subscribers("openpipe:room") == 1; }))
      << "b subscribed again after the reconnect";
  for (int i = 0; i < 50; ++i)
    a.broker->publish("room", "after" + std::to_string(i), MessageType::kText);
  ASSERT_TRUE(run_until(loop, [&] { return b.received.size() >= 51; }));
  loop.run_once(100);
  ASSERT_EQ(b.received.size(), 51u) << "every message after recovery, once; none from the outage";
  for (int i = 0; i < 50; ++i) EXPECT_EQ(b.received[1 + i].data, "after" + std::to_string(i));
  EXPECT_NE(joined(log).find("10 publish(es) lost meanwhile"), std::string::npos) << joined(log);
}
//< test.broker-outage

TEST(Ch20_Broker, GarbageFromTheBrokerDropsTheConnectionAndReconnects) {
  // A fake "Redis": a plain listening socket that answers anything with HTTP.
  Listener fake = listen_tcp("127.0.0.1", 0);
  EventLoop loop;
  std::vector<std::string> log;
  Node a(loop, fake.port, "", &log);
  a.broker->start();
  int accepted = 0;
  std::vector<Fd> clients;
  ASSERT_TRUE(run_until(loop,
                        [&] {
                          while (Fd client = accept_connection(fake.fd.get())) {
                            ++accepted;
                            send_nosignal(client.get(),
                                          std::string_view("HTTP/1.1 400 Bad Request\r\n\r\n"));
                            clients.push_back(std::move(client));
                          }
                          return accepted >= 4 && a.broker->stats().protocol_errors >= 2;
                        }))
      << "accepted " << accepted << "\n"
      << joined(log);
  EXPECT_EQ(a.broker->state(), BrokerState::kDown);
  EXPECT_NE(joined(log).find("protocol error from redis: resp-unknown-type"), std::string::npos)
      << joined(log);
}

}  // namespace
}  // namespace ws
