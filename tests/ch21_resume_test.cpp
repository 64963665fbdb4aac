// Chapter 21 — subscribe with resume, through a real server and real
// clients: a client whose TCP connection is dropped comes back with its last
// offset and gets every missed message once, in order, then the live ones
// with no gap and no duplicate at the seam, also while another thread keeps
// publishing during the reconnect (run under ThreadSanitizer by `make tsan`).
// The route here is the smallest user of the API: it speaks no JSON, every
// message is its own offset in decimal, so a gap or a duplicate shows at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/query.h"
#include "openpipe/io/client.h"
#include "support/json_client.h"
#include "support/on_loop.h"
#include "support/stop_and_join.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::on_loop;
using test::StopAndJoin;

constexpr const char* kTopic = "feed";

// /feed subscribes to "feed". With ?offset=K&epoch=E it resumes, and the
// first message says how: "R|epoch|last|count" (then `count` missed
// messages) or "L|reason|epoch|last"; without, "S|epoch|last".
void add_feed_route(Server& server, HistoryLimits limits) {
  server.keep_history(kTopic, limits);
  Route route;
  route.on_upgrade = [](const HttpRequest& request, WebSocket& socket) {
    auto offset = app::query_value(request.query(), "offset");
    auto epoch = app::query_value(request.query(), "epoch");
    socket.set_data<std::string>(offset && epoch ? *offset + "|" + *epoch : "");
    return UpgradeDecision::accept();
  };
  route.on_open = [&server](WebSocket& socket) {
    const std::string asked = socket.data<std::string>();
    if (asked.empty()) {
      socket.subscribe(kTopic);
      const TopicHistory* history = server.history(kTopic);
      socket.send_text("S|" + history->epoch() + "|" + std::to_string(history->last_offset()));
      return;
    }
    const size_t bar = asked.find('|');
    // The seam: subscribe, snapshot and replay in this one callback.
    const Recovery recovery =
        socket.subscribe_resume(kTopic, std::stoull(asked.substr(0, bar)), asked.substr(bar + 1));
    if (!recovery.recovered) {
      socket.send_text(std::string("L|") + to_string(recovery.reason) + "|" + recovery.epoch + "|" +
                       std::to_string(recovery.last_offset));
      return;
    }
    socket.send_text("R|" + recovery.epoch + "|" + std::to_string(recovery.last_offset) + "|" +
                     std::to_string(recovery.missed.size()));
    for (const HistoryEntry* entry : recovery.missed) socket.send_text(entry->data);
  };
  server.route("/feed", std::move(route));
}

// A server with the feed; publish() runs on its loop.
class FeedServer {
 public:
  explicit FeedServer(HistoryLimits limits = {.max_messages = 100000, .max_bytes = 64 << 20})
      : server_(test::test_config(), [limits](Server& s) { add_feed_route(s, limits); }) {}
  uint16_t port() const { return server_.port(); }
  Server& server() { return server_.server(); }

  // n publishes in one loop turn; each message is its own offset.
  void publish(int n) {
    on_loop(server(), [this, n] {
      for (int i = 0; i < n; ++i) publish_one(server());
    });
  }
  static void publish_one(Server& server) {
    server.publish(kTopic, std::to_string(server.history(kTopic)->next_offset()));
  }
  uint64_t last_offset() {
    return on_loop(server(), [this] { return server().history(kTopic)->last_offset(); });
  }

 private:
  test::TestServer server_;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t bar = text.find('|', start);
    parts.push_back(text.substr(start, bar - start));
    if (bar == std::string::npos) return parts;
    start = bar + 1;
  }
}

// A client of the feed that checks every message is the one after the last.
class Follower {
 public:
  // Connects (resuming if it has an epoch); returns the header's fields.
  std::vector<std::string> connect(uint16_t port, bool resume) {
    std::string resource = "/feed";
    if (resume) resource += "?offset=" + std::to_string(last_) + "&epoch=" + epoch_;
    client_ = std::make_unique<Client>();
    ClientStatus status = client_->connect(test::local_url(port, resource), 10s);
    EXPECT_TRUE(status.ok()) << status.error;
    if (!status.ok()) return {};
    ClientEvent header = client_->receive(10s);
    EXPECT_EQ(header.type, ClientEventType::kText) << to_string(header.type);
    std::vector<std::string> fields = split(header.data);
    if (fields[0] == "S") {
      epoch_ = fields[1];
      last_ = std::stoull(fields[2]);
    } else if (fields[0] == "R") {
      EXPECT_EQ(fields[1], epoch_) << "a recovery stays in the client's epoch";
    }
    return fields;
  }
  // Reads until the last offset seen is `target`; every message must be the
  // one right after the previous. False (and a failure) otherwise.
  bool read_until(uint64_t target) {
    while (last_ < target) {
      ClientEvent event = client_->receive(10s);
      if (event.type != ClientEventType::kText) {
        ADD_FAILURE() << "waiting for offset " << last_ + 1 << " of " << target << ": got "
                      << to_string(event.type) << " " << event.data;
        return false;
      }
      const uint64_t offset = std::stoull(event.data);
      if (offset != last_ + 1) {
        ADD_FAILURE() << "after offset " << last_ << " came " << offset
                      << (offset <= last_ ? ": a duplicate" : ": a gap (a lost message)");
        return false;
      }
      last_ = offset;
    }
    return true;
  }
  // The TCP connection ends, no close frame: a phone losing its signal.
  void drop() { client_->disconnect(); }
  uint64_t last() const { return last_; }
  const std::string& epoch() const { return epoch_; }
  void set_epoch(std::string epoch) { epoch_ = std::move(epoch); }
  void set_last(uint64_t last) { last_ = last; }

 private:
  std::unique_ptr<Client> client_;
  uint64_t last_ = 0;  // the last offset seen
  std::string epoch_;  // the epoch it was seen in
};

TEST(Ch21_Resume, ADroppedClientGetsTheThousandMissedOnceInOrderThenTheLiveOnes) {
  FeedServer feed;
  Follower follower;
  ASSERT_EQ(follower.connect(feed.port(), false)[0], "S");
  feed.publish(5);
  ASSERT_TRUE(follower.read_until(5));
  follower.drop();
  feed.publish(1000);  // while it is away
  std::vector<std::string> header = follower.connect(feed.port(), true);
  ASSERT_EQ(header[0], "R") << "recovered: the history holds all 1000";
  EXPECT_EQ(header[3], "1000") << "exactly the messages after offset 5";
  ASSERT_TRUE(follower.read_until(1005)) << "the missed ones: once each, in order";
  feed.publish(10);
  EXPECT_TRUE(follower.read_until(1015)) << "then live, with no gap and no duplicate";
}

//> test.resume-under-load
TEST(Ch21_Resume, PublishesContinuingDuringReconnectsLeaveNoGapAndNoDuplicate) {
  FeedServer feed;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> posted{0};
  std::atomic<uint64_t> slowest{0};  // the lowest offset a follower has read
  // Another thread publishes all along, through post(): each runs on the
  // loop's thread, before or after a resume, never in the middle of one. It
  // stays within half the history of the slowest follower, so that a slow
  // machine (TSan) tests the seam, not the history's bound.
  std::thread publisher([&] {
    Server& server = feed.server();
    while (!stop.load()) {
      if (posted.load() > slowest.load() + 50000) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      if (!server.post([&server] { FeedServer::publish_one(server); })) break;
      if (++posted % 100 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  StopAndJoin joiner{stop, publisher};
  std::vector<Follower> followers(3);
  for (Follower& f : followers) ASSERT_EQ(f.connect(feed.port(), false)[0], "S");
  int recovered = 0;
  uint64_t replayed = 0;  // messages sent by replays (one unread before a drop is sent again)
  for (int round = 0; round < 10; ++round) {
    for (Follower& f : followers) {
      ASSERT_TRUE(f.read_until(f.last() + 50)) << "round " << round;
      uint64_t lowest = f.last();
      for (const Follower& other : followers) lowest = std::min(lowest, other.last());
      slowest = lowest;
      f.drop();
      std::vector<std::string> header = f.connect(feed.port(), true);
      ASSERT_FALSE(header.empty());
      ASSERT_EQ(header[0], "R") << "round " << round << ": " << header[1];
      recovered += 1;
      replayed += std::stoull(header[3]);
    }
  }
  stop = true;
  publisher.join();  // (the joiner then has nothing to do)
  const uint64_t last = feed.last_offset();
  for (Follower& f : followers) {
    EXPECT_TRUE(f.read_until(last)) << "every follower ends with every message, once";
  }
  EXPECT_EQ(recovered, 30);
  std::printf(
      "[ figure ] resume under load: %llu publishes, 30 reconnects, %llu messages sent in replays, "
      "no gap (%llu posted)\n",
      static_cast<unsigned long long>(last), static_cast<unsigned long long>(replayed),
      static_cast<unsigned long long>(posted.load()));
}
//< test.resume-under-load

TEST(Ch21_Resume, TooOldEpochChangedAndFutureAreRefusedWithTheReason) {
  FeedServer feed({.max_messages = 10});
  Follower follower;
  ASSERT_EQ(follower.connect(feed.port(), false)[0], "S");
  const std::string epoch = follower.epoch();
  feed.publish(20);
  ASSERT_TRUE(follower.read_until(20));
  follower.drop();

  follower.set_last(1);  // message 2 was dropped: only 11..20 are kept
  std::vector<std::string> old = follower.connect(feed.port(), true);
  ASSERT_EQ(old[0], "L");
  EXPECT_EQ(old[1], "offset older than history");
  EXPECT_EQ(old[3], "20") << "the client learns where the topic stands";
  follower.drop();

  follower.set_last(20);
  follower.set_epoch("not-the-epoch");
  std::vector<std::string> other = follower.connect(feed.port(), true);
  ASSERT_EQ(other[0], "L");
  EXPECT_EQ(other[1], "epoch changed");
  EXPECT_EQ(other[2], epoch) << "the epoch to follow from now on";
  follower.drop();

  follower.set_epoch(epoch);
  follower.set_last(25);
  std::vector<std::string> future = follower.connect(feed.port(), true);
  ASSERT_EQ(future[0], "L");
  EXPECT_EQ(future[1], "offset in the future");
  follower.set_last(20);
  feed.publish(1);
  EXPECT_TRUE(follower.read_until(21)) << "a refused resume still subscribes: live messages come";
}

// A broker (chapter 20) carries other processes' messages, which this
// process's history does not hold: resuming must say so, not hand out a list
// with holes in it.
struct NullObserver final : TopicObserver {
  void on_first_subscriber(std::string_view) override {}
  void on_last_unsubscribed(std::string_view) override {}
  void on_local_publish(std::string_view, std::string_view, MessageType) override {}
};

TEST(Ch21_Resume, WithABrokerTheHistoryIsPerProcessAndResumeSaysSo) {
  FeedServer feed;
  NullObserver observer;
  Follower follower;
  ASSERT_EQ(follower.connect(feed.port(), false)[0], "S");
  feed.publish(3);
  ASSERT_TRUE(follower.read_until(3));
  follower.drop();
  on_loop(feed.server(), [&] { feed.server().set_topic_observer(&observer); });
  std::vector<std::string> header = follower.connect(feed.port(), true);
  ASSERT_EQ(header[0], "L");
  EXPECT_EQ(header[1], "no history");
  on_loop(feed.server(), [&] { feed.server().set_topic_observer(nullptr); });
}

}  // namespace
}  // namespace ws
