// Chapter 21 — the chat resumes (docs/protocols.md, "chat", resume): every
// message carries its offset, the welcome its epoch; a client back with
// offset=K&epoch=E gets "recovered":true and the missed messages in the
// welcome, then the live ones with no gap and no duplicate, or
// "recovered":false and the reason. The application on a real server in a
// thread, then the program itself, build/chat_server.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chat/app.h"
#include "openpipe/io/client.h"
#include "support/chat_member.h"
#include "support/json_client.h"
#include "support/program.h"
#include "support/stop_and_join.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::join;
using test::json;
using test::next_json;
using test::next_of_type;
using test::read_through;
using test::resume_query;
using test::say;
using test::StopAndJoin;

// A chat server in a thread; the rate limit is out of the way (these tests
// publish thousands of messages from one client).
class ChatServer {
 public:
  ChatServer()
      : server_(config(), [this](Server& server) {
          app_ = std::make_unique<chat::App>(server,
                                             chat::Options{.burst = 100000, .per_second = 100000});
        }) {}
  uint16_t port() const { return server_.port(); }

 private:
  static ServerConfig config() {
    ServerConfig c = test::test_config();
    c.limits.max_message_size = 6 * chat::kMaxTextBytes + 1024;
    return c;
  }
  std::unique_ptr<chat::App> app_;
  test::TestServer server_;
};

TEST(Ch21_ChatResume, TheWelcomeCarriesTheEpochAndEveryMessageItsOffset) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  ASSERT_TRUE(ada->welcome["epoch"].is_string());
  EXPECT_FALSE(ada->welcome["epoch"].get<std::string>().empty());
  EXPECT_EQ(ada->welcome["offset"], 0) << "no message yet: the last offset given out is 0";
  EXPECT_FALSE(ada->welcome.contains("recovered")) << "a plain join asks for no recovery";
  say(ada->client, "one");
  say(ada->client, "two");
  uint64_t last = 0;
  ASSERT_TRUE(read_through(ada->client, last, "two")) << "offsets 1, 2: one per message";
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->welcome["offset"], 2);
  EXPECT_EQ(bob->welcome["epoch"], ada->welcome["epoch"]) << "one epoch per room";
  ASSERT_EQ(bob->welcome["history"].size(), 2u);
  EXPECT_EQ(bob->welcome["history"][1]["offset"], 2) << "history messages carry offsets too";
}

TEST(Ch21_ChatResume, ADroppedClientGetsTheThousandMissedInTheWelcomeThenLiveWithoutAGap) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(ada && bob);
  const std::string epoch = bob->welcome["epoch"];
  uint64_t last = bob->welcome["offset"];
  bob->client.disconnect();  // TCP just ends: no close frame
  ASSERT_TRUE(next_of_type(ada->client, "leave")) << "the server saw the drop";
  uint64_t ada_last = last;
  for (int i = 0; i < 1000; ++i) say(ada->client, "m" + std::to_string(i));
  ASSERT_TRUE(read_through(ada->client, ada_last, "m999")) << "all 1000 published";

  auto back = join(server.port(), "lobby", "bob", resume_query(last, epoch));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->welcome["recovered"], true) << back->welcome.dump().substr(0, 300);
  const json& missed = back->welcome["missed"];
  ASSERT_EQ(missed.size(), 1000u) << "every message published while away, once";
  for (size_t i = 0; i < missed.size(); ++i) {
    ASSERT_EQ(missed[i]["offset"], last + 1)
        << "in order, no gap, no duplicate (index " << i << ")";
    ASSERT_EQ(missed[i]["text"], "m" + std::to_string(i));
    last += 1;
  }
  EXPECT_EQ(back->welcome["offset"], last);
  say(ada->client, "live");
  EXPECT_TRUE(read_through(back->client, last, "live")) << "the seam: the next live one is last+1";
}

TEST(Ch21_ChatResume, MessagesSentDuringTheReconnectsAreNeitherLostNorDoubled) {
  ChatServer server;
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(bob);
  std::string epoch = bob->welcome["epoch"];
  uint64_t last = bob->welcome["offset"];
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  // Another client in another thread talks all along until told to stop,
  // each message after the echo of the previous one: it paces itself, and
  // its own output never piles up on the server.
  std::thread talker([&] {
    Client ada;
    if (!ada.connect(test::local_url(server.port(), "/chat?room=lobby&name=ada"), 10s).ok()) {
      return;
    }
    while (!stop.load()) {
      if (!ada.send_text(json{{"type", "message"}, {"text", "t"}}.dump()).ok()) return;
      if (!next_of_type(ada, "message")) return;
      ++sent;
    }
    ada.send_text(json{{"type", "message"}, {"text", "end"}}.dump());
    next_of_type(ada, "message");
    ada.close();
  });
  StopAndJoin joiner{stop, talker};
  int replayed = 0;
  for (int round = 0; round < 10; ++round) {
    // Read a few live ones, drop, come back.
    for (int i = 0; i < 10; ++i) {
      std::optional<json> m = next_of_type(bob->client, "message");
      ASSERT_TRUE(m) << "round " << round;
      ASSERT_EQ((*m)["offset"], last + 1) << "round " << round << ": live, no gap, no duplicate";
      last += 1;
    }
    bob->client.disconnect();
    bob = join(server.port(), "lobby", "bob", resume_query(last, epoch));
    ASSERT_TRUE(bob);
    ASSERT_EQ(bob->welcome["recovered"], true) << bob->welcome.value("reason", "");
    for (const json& m : bob->welcome["missed"]) {
      ASSERT_EQ(m["offset"], last + 1) << "round " << round << ": the missed ones";
      last += 1;
      replayed += 1;
    }
  }
  stop = true;
  talker.join();  // (the joiner then has nothing to do)
  EXPECT_TRUE(read_through(bob->client, last, "end")) << "and live to the end";
  std::printf("[ figure ] chat resume under load: %d sent, 10 reconnects, %d replayed\n",
              sent.load(), replayed);
}

TEST(Ch21_ChatResume, TooOldEpochChangedAndFutureGiveRecoveredFalseWithTheReason) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  const std::string epoch = ada->welcome["epoch"];
  // 200 messages of 3000 bytes: more than kResumeBytes (512 KiB) holds.
  uint64_t last = 0;
  for (int i = 0; i < 200; ++i) say(ada->client, std::string(2999, 'x') + std::to_string(i % 10));
  ASSERT_TRUE(read_through(ada->client, last, std::string(2999, 'x') + "9"));
  while (last < 200) ASSERT_TRUE(read_through(ada->client, last, std::string(2999, 'x') + "9"));

  struct Case {
    const char* name;
    std::string query;
    const char* reason;
  };
  const Case cases[] = {
      {"old", resume_query(0, epoch), "offset older than history"},
      {"other", resume_query(200, "0123456789abcdef"), "epoch changed"},
      {"later", resume_query(201, epoch), "offset in the future"},
  };
  for (const Case& c : cases) {
    auto member = join(server.port(), "lobby", c.name, c.query);
    ASSERT_TRUE(member) << c.name;
    EXPECT_EQ(member->welcome["recovered"], false) << c.name;
    EXPECT_EQ(member->welcome["reason"], c.reason) << c.name;
    EXPECT_FALSE(member->welcome.contains("missed")) << c.name;
    EXPECT_EQ(member->welcome["epoch"], epoch) << c.name << ": the epoch to follow from now on";
    EXPECT_EQ(member->welcome["offset"], 200) << c.name << ": where the room stands";
    EXPECT_EQ(member->welcome["history"].size(), chat::kHistorySize)
        << c.name << ": the history to reload from";
  }
}

TEST(Ch21_ChatResume, AMalformedResumeIs400BeforeTheUpgrade) {
  ChatServer server;
  for (const char* extra : {"&offset=abc&epoch=e", "&offset=1", "&epoch=e", "&offset=-1&epoch=e",
                            "&offset=99999999999999999999999&epoch=e", "&offset=1&epoch="}) {
    Client client;
    ClientStatus status = client.connect(
        test::local_url(server.port(), std::string("/chat?room=lobby&name=ada") + extra), 10s);
    EXPECT_NE(status.error.find("400"), std::string::npos)
        << extra << ": docs/protocols.md: offset and epoch, both valid, or neither";
  }
  Client client;
  ClientStatus status =
      client.connect(test::local_url(server.port(), "/chat?room=lobby&name=ada&offset=1&epoch=" +
                                                        std::string(65, 'e')),
                     10s);
  EXPECT_NE(status.error.find("400"), std::string::npos) << "an epoch is at most 64 bytes";
}

// ---- the program ------------------------------------------------------------------------------

class Ch21_ChatProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::program_path("chat_server");
    if (::access(path_.c_str(), X_OK) != 0) GTEST_SKIP() << path_ << " not built: run make";
  }
  uint16_t start(test::Program& program) {
    EXPECT_TRUE(program.start(path_, {"--port", "0", "--quiet", "--burst", "2000"}));
    EXPECT_TRUE(program.wait_for_stdout("/\n")) << program.err();
    return test::listening_port(program.out());
  }
  std::string path_;
};

TEST_F(Ch21_ChatProgram, ResumesAfterADropAndSaysEpochChangedAfterARestart) {
  auto program = std::make_unique<test::Program>();
  const uint16_t port = start(*program);
  ASSERT_NE(port, 0) << program->out();
  auto ada = join(port, "lobby", "ada");
  auto bob = join(port, "lobby", "bob");
  ASSERT_TRUE(ada && bob);
  const std::string epoch = bob->welcome["epoch"];
  uint64_t last = bob->welcome["offset"];
  bob->client.disconnect();
  ASSERT_TRUE(next_of_type(ada->client, "leave"));
  uint64_t ada_last = 0;
  for (int i = 0; i < 100; ++i) say(ada->client, "m" + std::to_string(i));
  ASSERT_TRUE(read_through(ada->client, ada_last, "m99"));
  auto back = join(port, "lobby", "bob", resume_query(last, epoch));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->welcome["recovered"], true) << back->welcome.value("reason", "");
  EXPECT_EQ(back->welcome["missed"].size(), 100u);
  last = back->welcome["offset"];

  // A restart loses the in-memory history: the new process has a new epoch.
  back->client.disconnect();
  ada->client.disconnect();
  program.reset();  // SIGKILL, reaped
  auto restarted = std::make_unique<test::Program>();
  const uint16_t new_port = start(*restarted);
  ASSERT_NE(new_port, 0) << restarted->out();
  auto again = join(new_port, "lobby", "bob", resume_query(last, epoch));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->welcome["recovered"], false);
  EXPECT_EQ(again->welcome["reason"], "epoch changed")
      << "docs/protocols.md: the page reloads instead of missing messages silently";
  EXPECT_NE(again->welcome["epoch"], epoch);
}

}  // namespace
}  // namespace ws
