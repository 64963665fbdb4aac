// Chapter 11 — topics: subscribe, unsubscribe, publish, and what a slow
// subscriber costs. The registry is tested alone (its costs, counted with
// steps(), never timed), then through a real server and raw clients.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "openpipe/io/topics.h"
#include "support/on_loop.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::on_loop;
using test::RawClient;
using test::TestServer;

constexpr uint8_t kText = 1, kBinary = 2, kClose = 8;

// ---- the registry alone: costs, counted ------------------------------------------------

// The registry only stores and compares socket pointers, never follows them:
// distinct addresses stand in for sockets here.
struct FakeSockets {
  std::vector<uint64_t> slots;
  explicit FakeSockets(size_t n) : slots(n) {}
  WebSocket* operator[](size_t i) { return reinterpret_cast<WebSocket*>(&slots[i]); }
};

TEST(Ch11_TopicRegistry, SubscribeAndListSubscribers) {
  FakeSockets s(3);
  TopicRegistry topics;
  EXPECT_TRUE(topics.subscribe(s[0], "room"));
  EXPECT_TRUE(topics.subscribe(s[1], "room"));
  EXPECT_TRUE(topics.subscribe(s[1], "other"));
  EXPECT_EQ(topics.subscriber_count("room"), 2u);
  EXPECT_EQ(topics.subscriber_count("other"), 1u);
  EXPECT_EQ(topics.subscriber_count("nobody"), 0u);
  EXPECT_EQ(topics.topic_count(), 2u);
  std::vector<std::string> mine = topics.topics_of(s[1]);
  std::sort(mine.begin(), mine.end());
  EXPECT_EQ(mine, (std::vector<std::string>{"other", "room"}));
  EXPECT_TRUE(topics.topics_of(s[2]).empty());
}

TEST(Ch11_TopicRegistry, SubscribeTwiceIsRefused) {
  FakeSockets s(1);
  TopicRegistry topics;
  EXPECT_TRUE(topics.subscribe(s[0], "room"));
  EXPECT_FALSE(topics.subscribe(s[0], "room")) << "a socket is in a topic once, or not at all";
  EXPECT_EQ(topics.subscriber_count("room"), 1u);
}

TEST(Ch11_TopicRegistry, NamesAreBoundedAndNotEmpty) {
  FakeSockets s(1);
  TopicRegistry topics;
  EXPECT_FALSE(topics.subscribe(s[0], "")) << "an empty topic name is refused";
  EXPECT_TRUE(topics.subscribe(s[0], std::string(kMaxTopicLength, 'a')))
      << "kMaxTopicLength bytes is allowed";
  EXPECT_FALSE(topics.subscribe(s[0], std::string(kMaxTopicLength + 1, 'a')))
      << "a name from the network is bounded by kMaxTopicLength";
}

TEST(Ch11_TopicRegistry, UnsubscribeLeavesTheOthers) {
  FakeSockets s(3);
  TopicRegistry topics;
  for (int i = 0; i < 3; ++i) topics.subscribe(s[i], "room");
  EXPECT_TRUE(topics.unsubscribe(s[0], "room"));
  EXPECT_FALSE(topics.unsubscribe(s[0], "room")) << "not subscribed any more";
  EXPECT_FALSE(topics.unsubscribe(s[0], "never")) << "no such topic";
  std::span<WebSocket* const> left = topics.subscribers("room");
  ASSERT_EQ(left.size(), 2u);
  EXPECT_TRUE((left[0] == s[1] && left[1] == s[2]) || (left[0] == s[2] && left[1] == s[1]));
  EXPECT_TRUE(topics.unsubscribe(s[1], "room"));
  EXPECT_TRUE(topics.unsubscribe(s[2], "room"));
  EXPECT_EQ(topics.topic_count(), 0u) << "a topic with no subscriber is forgotten";
}

TEST(Ch11_TopicRegistry, UnsubscribeAllLeavesEveryTopic) {
  FakeSockets s(2);
  TopicRegistry topics;
  for (const char* name : {"a", "b", "c"}) topics.subscribe(s[0], name);
  topics.subscribe(s[1], "b");
  EXPECT_EQ(topics.unsubscribe_all(s[0]), 3u);
  EXPECT_TRUE(topics.topics_of(s[0]).empty());
  EXPECT_EQ(topics.subscriber_count("b"), 1u) << "the other socket stays subscribed";
  EXPECT_EQ(topics.topic_count(), 1u);
}

// The cost statements of topics.h, checked by counting work.
TEST(Ch11_TopicRegistry, SubscribeCostDoesNotGrowWithTopics) {
  FakeSockets s(10001);
  TopicRegistry small, large;
  for (int i = 0; i < 10000; ++i) large.subscribe(s[i], "topic-" + std::to_string(i));
  small.subscribe(s[0], "topic-0");
  uint64_t before_small = small.steps(), before_large = large.steps();
  ASSERT_TRUE(small.subscribe(s[10000], "new"));
  ASSERT_TRUE(large.subscribe(s[10000], "new"));
  EXPECT_EQ(small.steps() - before_small, large.steps() - before_large)
      << "subscribe with 10,000 topics costs what it costs with 1 (topics.h)";
  before_small = small.steps();
  before_large = large.steps();
  ASSERT_TRUE(small.unsubscribe(s[10000], "new"));
  ASSERT_TRUE(large.unsubscribe(s[10000], "new"));
  EXPECT_EQ(small.steps() - before_small, large.steps() - before_large)
      << "unsubscribe with 10,000 topics costs what it costs with 1 (topics.h)";
}

TEST(Ch11_TopicRegistry, SubscribeCostDoesNotGrowWithSubscribers) {
  FakeSockets s(10001);
  TopicRegistry topics;
  topics.subscribe(s[0], "room");
  uint64_t before = topics.steps();
  topics.subscribe(s[1], "room");
  uint64_t one = topics.steps() - before;
  for (int i = 2; i < 10000; ++i) topics.subscribe(s[i], "room");
  before = topics.steps();
  topics.subscribe(s[10000], "room");
  EXPECT_EQ(topics.steps() - before, one) << "joining a crowded topic costs the same";
  before = topics.steps();
  topics.unsubscribe(s[5000], "room");  // from the middle: swapped with the last
  uint64_t leave = topics.steps() - before;
  before = topics.steps();
  topics.unsubscribe(s[1], "room");
  EXPECT_EQ(topics.steps() - before, leave);
  EXPECT_EQ(topics.subscriber_count("room"), 9999u);
}

TEST(Ch11_TopicRegistry, SubscribersIgnoresSocketsNotSubscribed) {
  FakeSockets s(10003);
  TopicRegistry topics;
  for (int i = 0; i < 10000; ++i) topics.subscribe(s[i], "crowd");
  for (int i = 10000; i < 10003; ++i) topics.subscribe(s[i], "few");
  uint64_t before = topics.steps();
  std::span<WebSocket* const> few = topics.subscribers("few");
  EXPECT_EQ(topics.steps() - before, 1u) << "one look-up: the 10,000 others are never visited";
  EXPECT_EQ(few.size(), 3u) << "a publish walks exactly these";
}

struct RecordingObserver : TopicObserver {
  std::vector<std::string> events;
  void on_first_subscriber(std::string_view topic) override {
    events.push_back("first " + std::string(topic));
  }
  void on_last_unsubscribed(std::string_view topic) override {
    events.push_back("last " + std::string(topic));
  }
  void on_local_publish(std::string_view topic, std::string_view data, MessageType type) override {
    events.push_back("publish " + std::string(topic) + " " + std::string(data) +
                     (type == MessageType::kBinary ? " binary" : " text"));
  }
};

TEST(Ch11_TopicRegistry, ObserverHearsFirstAndLast) {
  FakeSockets s(2);
  TopicRegistry topics;
  RecordingObserver observer;
  topics.set_observer(&observer);
  topics.subscribe(s[0], "room");
  topics.subscribe(s[1], "room");
  topics.unsubscribe(s[0], "room");
  topics.unsubscribe_all(s[1]);
  EXPECT_EQ(observer.events, (std::vector<std::string>{"first room", "last room"}))
      << "a broker hears 0 -> 1 and 1 -> 0 only";
}

// ---- through a server: raw clients on loopback ------------------------------------------

// A server with one route, /t, that remembers the id of every socket opened
// there (loop thread only: read it through on_loop), and echoes nothing.
class TopicServer {
 public:
  explicit TopicServer(Route route = {}, ServerConfig config = test::test_config())
      : server_(std::move(config), [this, route](Server& server) mutable {
          auto user_open = route.on_open;
          route.on_open = [this, user_open](WebSocket& socket) {
            ids_.push_back(socket.id());
            if (user_open) user_open(socket);
          };
          server.route("/t", route);
        }) {}

  Server& server() { return server_.server(); }
  uint16_t port() const { return server_.port(); }
  TestServer& test_server() { return server_; }

  // Opens a client on /t and returns the id the server gave it.
  uint64_t open(RawClient& client) {
    if (!client.open(port(), "/t")) {
      ADD_FAILURE() << "the WebSocket upgrade on /t failed";
      return 0;
    }
    // The 101 is written after on_open has run: the id is there.
    return last_id();
  }
  uint64_t last_id() {
    return on_loop(server(), [this] { return ids_.empty() ? 0 : ids_.back(); });
  }
  bool subscribe(uint64_t id, std::string_view topic) {
    return on_loop(server(), [&] {
      WebSocket* socket = server().find(id);
      return socket != nullptr && socket->subscribe(topic);
    });
  }
  size_t publish(std::string_view topic, std::string_view data,
                 MessageType type = MessageType::kText) {
    return on_loop(server(), [&] { return server().publish(topic, data, type); });
  }

 private:
  std::vector<uint64_t> ids_;
  TestServer server_;
};

TEST(Ch11_Topics, PublishReachesEverySubscriberUnchanged) {
  TopicServer server;
  RawClient a, b;
  uint64_t ia = server.open(a), ib = server.open(b);
  ASSERT_TRUE(server.subscribe(ia, "room"));
  ASSERT_TRUE(server.subscribe(ib, "room"));
  EXPECT_EQ(server.publish("room", "hello"), 2u) << "publish returns the sockets it reached";
  std::string binary("\x00\xff\x01", 3);
  EXPECT_EQ(server.publish("room", binary, MessageType::kBinary), 2u);
  for (RawClient* client : {&a, &b}) {
    std::optional<test::RawFrame> text = client->read_frame();
    ASSERT_TRUE(text) << "every subscriber gets the message";
    EXPECT_EQ(text->opcode, kText);
    EXPECT_EQ(text->payload, "hello");
    EXPECT_FALSE(text->masked) << "RFC 6455 §5.1: a server MUST NOT mask";
    std::optional<test::RawFrame> bytes = client->read_frame();
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->opcode, kBinary) << "binary stays binary";
    EXPECT_EQ(bytes->payload, binary);
  }
}

TEST(Ch11_Topics, PublishSkipsSocketsNotSubscribed) {
  TopicServer server;
  RawClient in, out;
  uint64_t id_in = server.open(in);
  uint64_t id_out = server.open(out);
  ASSERT_TRUE(server.subscribe(id_in, "room"));
  ASSERT_TRUE(server.subscribe(id_out, "elsewhere"));
  EXPECT_EQ(server.publish("room", "for room"), 1u);
  EXPECT_EQ(server.publish("nobody-here", "lost"), 0u) << "a topic with no subscriber reaches 0";
  std::optional<test::RawFrame> got = in.read_frame();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->payload, "for room");
  EXPECT_FALSE(out.read_frame(300ms)) << "a socket on another topic gets nothing";
}

TEST(Ch11_Topics, PublishIsQueuedInOrderWithTheSocketsOtherOutput) {
  TopicServer server;
  RawClient client;
  uint64_t id = server.open(client);
  ASSERT_TRUE(server.subscribe(id, "room"));
  on_loop(server.server(), [&] {
    WebSocket* socket = server.server().find(id);
    socket->send_text("before");
    server.server().publish("room", "published");
    socket->send_text("after");
  });
  for (const char* expected : {"before", "published", "after"}) {
    std::optional<test::RawFrame> frame = client.read_frame();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->payload, expected) << "a publish joins the socket's output queue in order";
  }
}

TEST(Ch11_Topics, SocketListsItsTopicsAndUnsubscribes) {
  TopicServer server;
  RawClient client;
  uint64_t id = server.open(client);
  ASSERT_TRUE(server.subscribe(id, "a"));
  ASSERT_TRUE(server.subscribe(id, "b"));
  EXPECT_FALSE(server.subscribe(id, "a")) << "subscribed already";
  std::vector<std::string> topics =
      on_loop(server.server(), [&] { return server.server().find(id)->topics(); });
  std::sort(topics.begin(), topics.end());
  EXPECT_EQ(topics, (std::vector<std::string>{"a", "b"}));
  bool left = on_loop(server.server(), [&] { return server.server().find(id)->unsubscribe("a"); });
  EXPECT_TRUE(left);
  EXPECT_EQ(server.publish("a", "x"), 0u) << "unsubscribed: no longer reached";
  EXPECT_EQ(server.publish("b", "y"), 1u);
}

TEST(Ch11_Topics, ClosingUnsubscribesEverywhere) {
  TopicServer server;
  RawClient client, other;
  uint64_t id = server.open(client);
  uint64_t other_id = server.open(other);
  for (const char* topic : {"a", "b", "c"}) ASSERT_TRUE(server.subscribe(id, topic));
  ASSERT_TRUE(server.subscribe(other_id, "b"));
  client.send_close(1000);
  ASSERT_TRUE(client.wait_for_eof()) << "the closing handshake completes";
  for (const char* topic : {"a", "c"}) {
    EXPECT_EQ(on_loop(server.server(), [&] { return server.server().subscriber_count(topic); }), 0u)
        << "a closed socket is in no topic: " << topic;
  }
  EXPECT_EQ(on_loop(server.server(), [&] { return server.server().subscriber_count("b"); }), 1u);
  EXPECT_EQ(on_loop(server.server(), [&] { return server.server().topic_count(); }), 1u)
      << "topics left with nobody are forgotten";
}

TEST(Ch11_Topics, DroppedConnectionUnsubscribesToo) {
  TopicServer server;
  {
    RawClient client;
    uint64_t id = server.open(client);
    ASSERT_TRUE(server.subscribe(id, "room"));
  }  // TCP closed with no close frame: 1006
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = on_loop(server.server(), [&] { return server.server().subscriber_count("room"); }) == 0;
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(gone) << "a connection that vanished leaves its topics";
}

TEST(Ch11_Topics, FindReachesOneSocket) {
  TopicServer server;
  RawClient a, b;
  uint64_t ia = server.open(a);
  server.open(b);
  bool sent = on_loop(server.server(), [&] {
    WebSocket* socket = server.server().find(ia);
    return socket != nullptr && socket->send_text("just you");
  });
  ASSERT_TRUE(sent);
  std::optional<test::RawFrame> got = a.read_frame();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->payload, "just you");
  EXPECT_FALSE(b.read_frame(300ms)) << "find(id) reaches that socket only";
  EXPECT_EQ(on_loop(server.server(), [&] { return server.server().find(999999); }), nullptr)
      << "an unknown id gives nullptr";
  a.send_close(1000);
  ASSERT_TRUE(a.wait_for_eof());
  EXPECT_EQ(on_loop(server.server(), [&] { return server.server().find(ia); }), nullptr)
      << "a closed socket is not found";
}

TEST(Ch11_Topics, BroadcastSendsTextAndBinary) {
  TopicServer server;
  RawClient a, b;
  server.open(a);
  server.open(b);
  EXPECT_EQ(on_loop(server.server(), [&] { return server.server().broadcast("all"); }), 2u);
  EXPECT_EQ(on_loop(server.server(),
                    [&] { return server.server().broadcast("\x01\x02", MessageType::kBinary); }),
            2u);
  for (RawClient* client : {&a, &b}) {
    std::optional<test::RawFrame> text = client->read_frame();
    ASSERT_TRUE(text);
    EXPECT_EQ(text->opcode, kText);
    EXPECT_EQ(text->payload, "all");
    std::optional<test::RawFrame> binary = client->read_frame();
    ASSERT_TRUE(binary);
    EXPECT_EQ(binary->opcode, kBinary) << "broadcast can send binary";
    EXPECT_EQ(binary->payload, "\x01\x02");
  }
}

TEST(Ch11_Topics, ObserverHearsPublishButNotDeliverLocal) {
  TopicServer server;
  RecordingObserver observer;
  on_loop(server.server(), [&] { server.server().set_topic_observer(&observer); });
  RawClient client;
  uint64_t id = server.open(client);
  ASSERT_TRUE(server.subscribe(id, "room"));
  EXPECT_EQ(server.publish("room", "mine"), 1u);
  size_t delivered = on_loop(server.server(), [&] {
    return server.server().deliver_local("room", "theirs", MessageType::kText);
  });
  EXPECT_EQ(delivered, 1u);
  client.send_close(1000);
  ASSERT_TRUE(client.wait_for_eof());
  std::vector<std::string> events = on_loop(server.server(), [&] {
    server.server().set_topic_observer(nullptr);
    return observer.events;
  });
  EXPECT_EQ(events, (std::vector<std::string>{"first room", "publish room mine text", "last room"}))
      << "deliver_local (a message from the broker) is not handed back to the broker";
}

// ---- slow subscribers -------------------------------------------------------------------

// A subscriber that never reads, a small receive buffer so the kernel holds
// little for it, and 1,000 messages of 4 KiB published one at a time while a
// second subscriber reads every one.
struct SlowRun {
  size_t fast_received = 0;   // messages the reading subscriber got, in order
  size_t max_slow_queue = 0;  // the most bytes the server held for the slow one
  uint64_t slow_dropped = 0;  // dropped_messages() of the slow socket
  uint64_t server_dropped = 0;
};

constexpr size_t kSlowMark = 64 * 1024;
constexpr size_t kSlowMessage = 4096;
constexpr int kSlowMessages = 1000;

SlowRun publish_to_a_slow_subscriber(TopicServer& server, RawClient& fast, RawClient& slow) {
  SlowRun run;
  int small = 4096;
  EXPECT_TRUE(slow.connect(server.port()));
  setsockopt(slow.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  EXPECT_TRUE(slow.handshake("/t").starts_with("HTTP/1.1 101"));
  uint64_t slow_id = server.last_id();
  uint64_t fast_id = server.open(fast);
  EXPECT_TRUE(server.subscribe(slow_id, "feed"));
  EXPECT_TRUE(server.subscribe(fast_id, "feed"));
  for (int i = 0; i < kSlowMessages; ++i) {
    std::string message = std::to_string(i);
    message.resize(kSlowMessage, '.');
    size_t queued = on_loop(server.server(), [&] {
      server.server().publish("feed", message);
      WebSocket* socket = server.server().find(slow_id);
      return socket ? socket->buffered_amount() : 0;
    });
    run.max_slow_queue = std::max(run.max_slow_queue, queued);
    std::optional<test::RawFrame> got = fast.read_frame();
    if (!got || got->payload != message) break;
    ++run.fast_received;
  }
  run.slow_dropped = on_loop(server.server(), [&] {
    WebSocket* socket = server.server().find(slow_id);
    return socket ? socket->dropped_messages() : 0;
  });
  run.server_dropped = on_loop(server.server(), [&] { return server.server().dropped_messages(); });
  return run;
}

TEST(Ch11_SlowSubscriber, DropPolicyBoundsMemoryAndSparesTheOthers) {
  Route route;
  route.high_water_mark = kSlowMark;
  route.slow_subscriber = SlowSubscriberPolicy::kDrop;
  TopicServer server(route);
  RawClient fast, slow;
  SlowRun run = publish_to_a_slow_subscriber(server, fast, slow);
  EXPECT_EQ(run.fast_received, size_t(kSlowMessages))
      << "the subscriber that reads gets every message, in order";
  EXPECT_LE(run.max_slow_queue, kSlowMark + kSlowMessage + 16)
      << "a client that never reads costs at most the mark plus one message";
  EXPECT_GT(run.slow_dropped, 0u) << "4 MB cannot fit: messages were dropped and counted";
  EXPECT_EQ(run.server_dropped, run.slow_dropped) << "only the slow socket missed messages";
}

TEST(Ch11_SlowSubscriber, ClosePolicyCloses1008) {
  Route route;
  route.high_water_mark = kSlowMark;
  route.slow_subscriber = SlowSubscriberPolicy::kClose;
  ServerConfig config = test::test_config();
  config.close_timeout = Millis{20000};  // time for the test to read the backlog
  TopicServer server(route, config);
  RawClient fast, slow;
  SlowRun run = publish_to_a_slow_subscriber(server, fast, slow);
  EXPECT_EQ(run.fast_received, size_t(kSlowMessages)) << "the other subscriber gets everything";
  EXPECT_LE(run.max_slow_queue, kSlowMark + kSlowMessage + 16);
  // Now read the slow client: what was queued, then the close frame. A
  // receive buffer of 4 KiB would crawl (TCP's small-window avoidance), so
  // it grows back first.
  int large = 1 << 20;
  setsockopt(slow.fd(), SOL_SOCKET, SO_RCVBUF, &large, sizeof large);
  std::optional<test::RawFrame> frame;
  do {  // generous: under ThreadSanitizer on a loaded machine the backlog crawls
    frame = slow.read_frame(std::chrono::seconds(15));
  } while (frame && frame->opcode != kClose);
  ASSERT_TRUE(frame) << "the slow subscriber gets a close frame";
  EXPECT_EQ(frame->close_code(), 1008) << "RFC 6455 §7.4.1: 1008, policy violation";
}

}  // namespace
}  // namespace ws
