// Chapter 17 — the chat server, with real clients: the application
// (examples/chat/app.h) on a real ws::Server in a thread, talked to over
// loopback with the C++ client (chapter 14); then the program itself,
// build/chat_server, started as a user starts it. Every rule of
// docs/protocols.md ("chat") has a test here.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "chat/app.h"
#include "common/program.h"
#include "openpipe/io/client.h"
#include "support/json_client.h"
#include "support/program.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using test::json;
using test::next_json;
using test::next_of_type;

// A chat server in a thread, with the rate limit of `options`.
class ChatServer {
 public:
  explicit ChatServer(chat::Options options = {})
      : server_(config(), [this, options](Server& server) {
          app_ = std::make_unique<chat::App>(server, options);
        }) {}
  uint16_t port() const { return server_.port(); }
  chat::App& app() { return *app_; }

 private:
  static ServerConfig config() {
    ServerConfig c = test::test_config();
    c.limits.max_message_size = 6 * chat::kMaxTextBytes + 1024;  // as the program sets it
    return c;
  }
  std::unique_ptr<chat::App> app_;  // declared first: the server thread stops before it goes
  test::TestServer server_;
};

// A client that joined `room` as `name` and read its welcome.
struct Member {
  Client client;
  json welcome;
};

std::unique_ptr<Member> join(uint16_t port, const std::string& room, const std::string& name) {
  auto member = std::make_unique<Member>();
  ClientStatus status = member->client.connect(
      test::local_url(port, "/chat?room=" + room + "&name=" + name), std::chrono::seconds(10));
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

// The HTTP status of a refused join: "server answered HTTP 409 Conflict" -> 409.
std::string refusal(uint16_t port, const std::string& resource) {
  Client client;
  ClientStatus status = client.connect(test::local_url(port, resource), std::chrono::seconds(10));
  return status.ok() ? "accepted" : status.error;
}

// ---- joining --------------------------------------------------------------------------------

TEST(Ch17_ChatServer, WelcomeComesFirstWithRoomNameAndMembers) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  EXPECT_EQ(ada->welcome["type"], "welcome");
  EXPECT_EQ(ada->welcome["room"], "lobby");
  EXPECT_EQ(ada->welcome["name"], "ada");
  EXPECT_EQ(ada->welcome["members"], json::array({"ada"})) << "the newcomer is a member";
  EXPECT_EQ(ada->welcome["history"], json::array());
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->welcome["members"], json::array({"ada", "bob"})) << "presence: who is here";
}

TEST(Ch17_ChatServer, OthersHearTheJoinAndTheLeave) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(ada && bob);
  std::optional<json> joined = next_json(ada->client);
  ASSERT_TRUE(joined);
  EXPECT_EQ(*joined, json::parse(R"({"type":"join","name":"bob"})"));
  ASSERT_TRUE(bob->client.close().ok());
  std::optional<json> left = next_json(ada->client);
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, json::parse(R"({"type":"leave","name":"bob"})"));
}

TEST(Ch17_ChatServer, ADroppedConnectionAlsoLeaves) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(ada && bob);
  bob->client.disconnect();  // no close frame: TCP just ends (1006)
  std::optional<json> left = next_of_type(ada->client, "leave");
  ASSERT_TRUE(left) << "a client that vanishes must leave the room too";
  EXPECT_EQ((*left)["name"], "bob");
  auto bob_again = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(bob_again) << "the name is free again after the leave";
}

TEST(Ch17_ChatServer, ADuplicateNameIs409BeforeTheUpgrade) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  EXPECT_NE(refusal(server.port(), "/chat?room=lobby&name=ada").find("409"), std::string::npos)
      << "docs/protocols.md: a name already in the room is refused with 409";
  auto other_room = join(server.port(), "kitchen", "ada");
  EXPECT_TRUE(other_room) << "the same name in another room is fine";
}

TEST(Ch17_ChatServer, BadOrMissingNamesAre400) {
  ChatServer server;
  for (const char* resource : {"/chat?room=lobby", "/chat?name=ada",
                               "/chat?room=lobby&name=", "/chat?room=lobby&name=%3Cb%3E",
                               "/chat?room=a%20b&name=ada", "/chat?room=lobby&name=%20ada",
                               "/chat?room=lobby&name=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_NE(refusal(server.port(), resource).find("400"), std::string::npos)
        << resource << ": a missing or invalid room or name is refused with 400";
  }
}

TEST(Ch17_ChatServer, APercentEncodedNameWithASpaceIsFine) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "Ada%20Lovelace");
  ASSERT_TRUE(ada);
  EXPECT_EQ(ada->welcome["name"], "Ada Lovelace");
}

// ---- messages -------------------------------------------------------------------------------

TEST(Ch17_ChatServer, AMessageReachesEveryoneInTheRoomWithTheServersTime) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(ada && bob);
  ASSERT_TRUE(next_of_type(ada->client, "join"));
  const int64_t before = app::unix_ms();
  say(ada->client, "hello, bob");
  for (Member* member : {bob.get(), ada.get()}) {
    std::optional<json> m = next_of_type(member->client, "message");
    ASSERT_TRUE(m) << "the sender gets its own message too";
    EXPECT_EQ((*m)["name"], "ada");
    EXPECT_EQ((*m)["text"], "hello, bob");
    ASSERT_TRUE((*m)["ts"].is_number_integer());
    EXPECT_GE((*m)["ts"].get<int64_t>(), before) << "ts: the server's clock, ms since the epoch";
    EXPECT_LE((*m)["ts"].get<int64_t>(), app::unix_ms());
  }
}

TEST(Ch17_ChatServer, OtherRoomsHearNothing) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  auto carol = join(server.port(), "kitchen", "carol");
  ASSERT_TRUE(ada && carol);
  say(ada->client, "lobby only");
  ASSERT_TRUE(next_of_type(ada->client, "message"));
  say(carol->client, "kitchen only");
  std::optional<json> m = next_json(carol->client);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["text"], "kitchen only") << "a room is a topic: nothing crosses rooms";
}

TEST(Ch17_ChatServer, MarkupIsCarriedAsText) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  say(ada->client, "<img src=x onerror=alert(1)>");
  std::optional<json> m = next_of_type(ada->client, "message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["text"], "<img src=x onerror=alert(1)>")
      << "the server neither strips nor escapes: rendering as text is the page's job";
}

TEST(Ch17_ChatServer, NewcomersGetTheLast50MessagesOldestFirst) {
  ChatServer server(chat::Options{.burst = 100, .per_second = 100});
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  for (int i = 0; i < 55; ++i) say(ada->client, "m" + std::to_string(i));
  for (int i = 0; i < 55; ++i) ASSERT_TRUE(next_of_type(ada->client, "message")) << i;
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(bob);
  const json& history = bob->welcome["history"];
  ASSERT_EQ(history.size(), 50u) << "docs/protocols.md: the last 50 messages";
  EXPECT_EQ(history.front()["text"], "m5") << "oldest first; m0..m4 are forgotten";
  EXPECT_EQ(history.back()["text"], "m54");
  EXPECT_EQ(history.back()["type"], "message") << "history holds message objects";
  EXPECT_TRUE(history.back()["ts"].is_number_integer());
}

TEST(Ch17_ChatServer, HistoryOutlivesAnEmptyRoom) {
  ChatServer server;
  {
    auto ada = join(server.port(), "lobby", "ada");
    ASSERT_TRUE(ada);
    say(ada->client, "anyone?");
    ASSERT_TRUE(next_of_type(ada->client, "message"));
    ASSERT_TRUE(ada->client.close().ok());
  }
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(bob);
  ASSERT_EQ(bob->welcome["history"].size(), 1u) << "the room kept its history while empty";
  EXPECT_EQ(bob->welcome["members"], json::array({"bob"})) << "ada has left";
}

TEST(Ch17_ChatServer, TextOf4KiBPassesOneByteMoreIsAnError) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  say(ada->client, std::string(chat::kMaxTextBytes, 'x'));
  std::optional<json> m = next_json(ada->client);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "message") << "4096 bytes is the limit, inclusive";
  say(ada->client, std::string(chat::kMaxTextBytes + 1, 'x'));
  m = next_json(ada->client);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, json::parse(R"({"type":"error","reason":"text is longer than 4096 bytes"})"));
  EXPECT_TRUE(ada->client.is_open()) << "an error, not a disconnection";
}

TEST(Ch17_ChatServer, AMessageBeyondTheFrameLimitCloses1009) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  ASSERT_TRUE(ada->client.send_text(std::string(6 * chat::kMaxTextBytes + 1025, 'x')).ok());
  ClientEvent event = ada->client.receive(std::chrono::seconds(10));
  EXPECT_EQ(event.type, ClientEventType::kClose);
  EXPECT_EQ(event.code, 1009) << "RFC 6455 §7.4.1: 1009, a message too big to process";
}

TEST(Ch17_ChatServer, TheRateLimitAnswersWithAnErrorAndDeliversNothing) {
  ChatServer server(chat::Options{.burst = 3, .per_second = 0.001});
  auto ada = join(server.port(), "lobby", "ada");
  auto bob = join(server.port(), "lobby", "bob");
  ASSERT_TRUE(ada && bob);
  ASSERT_TRUE(next_of_type(ada->client, "join"));
  for (int i = 0; i < 5; ++i) say(ada->client, "m" + std::to_string(i));
  int messages = 0, errors = 0;
  for (int i = 0; i < 5; ++i) {
    std::optional<json> m = next_json(ada->client);
    ASSERT_TRUE(m) << "every message gets an answer: its echo or an error";
    if ((*m)["type"] == "message") ++messages;
    if ((*m)["type"] == "error") {
      ++errors;
      EXPECT_EQ((*m)["reason"], "rate limit: slow down");
    }
  }
  EXPECT_EQ(messages, 3) << "a burst of 3 passes";
  EXPECT_EQ(errors, 2) << "the excess gets an error event back, not silence";
  say(bob->client, "bob's turn");  // bob's own bucket: unaffected by ada's
  std::optional<json> m = next_of_type(bob->client, "message", std::chrono::seconds(10));
  int seen = 0;
  while (m && (*m)["name"] == "ada") {
    ++seen;
    m = next_of_type(bob->client, "message");
  }
  EXPECT_EQ(seen, 3) << "bob saw ada's 3 messages, not the 2 refused ones";
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["text"], "bob's turn") << "each connection has its own bucket";
}

TEST(Ch17_ChatServer, UnknownTypesNonJsonAndBinaryGetErrors) {
  ChatServer server(chat::Options{.burst = 100, .per_second = 100});
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type":"typing"})", "unknown type: typing"},
      {"hello", "not JSON"},
      {"[]", "not a JSON object"},
      {R"({"type":"message"})", "no \"text\" string"},
  };
  for (const auto& [sent, reason] : cases) {
    ASSERT_TRUE(ada->client.send_text(sent).ok());
    std::optional<json> m = next_json(ada->client);
    ASSERT_TRUE(m) << sent;
    EXPECT_EQ(*m, (json{{"type", "error"}, {"reason", reason}})) << "sent: " << sent;
  }
  const uint8_t bytes[] = {1, 2, 3};
  ASSERT_TRUE(ada->client.send_binary(bytes).ok());
  std::optional<json> m = next_json(ada->client);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "error") << "binary is not part of the chat protocol";
  say(ada->client, "still here");
  m = next_json(ada->client);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["text"], "still here") << "errors leave the connection open";
}

TEST(Ch17_ChatServer, UnknownFieldsAreIgnored) {
  ChatServer server;
  auto ada = join(server.port(), "lobby", "ada");
  ASSERT_TRUE(ada);
  ASSERT_TRUE(ada->client.send_text(R"({"type":"message","text":"hi","color":"red"})").ok());
  std::optional<json> m = next_json(ada->client);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "message");
  EXPECT_FALSE(m->contains("color")) << "the server sends only documented fields";
}

// ---- the program ------------------------------------------------------------------------------

class Ch17_ChatProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::program_path("chat_server");
    if (::access(path_.c_str(), X_OK) != 0) GTEST_SKIP() << path_ << " not built: run make";
  }
  std::string path_;
  test::Program program_;
};

TEST_F(Ch17_ChatProgram, HelpNamesThePortAndTheRateLimitFlags) {
  ASSERT_TRUE(program_.start(path_, {"--help"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << test::describe(*status);
  for (const char* flag : {"--host", "--port", "8001", "--burst", "--rate", "--quiet"}) {
    EXPECT_NE(program_.out().find(flag), std::string::npos) << "--help mentions " << flag;
  }
}

TEST_F(Ch17_ChatProgram, AnUnknownFlagExitsTwo) {
  ASSERT_TRUE(program_.start(path_, {"--shout"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << test::describe(*status);
  EXPECT_NE(program_.err().find("unknown option --shout"), std::string::npos) << program_.err();
}

TEST_F(Ch17_ChatProgram, ServesThePageAndTheChat) {
  ASSERT_TRUE(program_.start(path_, {"--port", "0", "--quiet"}));
  ASSERT_TRUE(program_.wait_for_stdout("/\n")) << program_.err();
  const uint16_t port = test::listening_port(program_.out());
  ASSERT_NE(port, 0) << program_.out();
  EXPECT_NE(program_.out().find("openpipe chat server listening on http://127.0.0.1:"),
            std::string::npos);
  test::RawClient http;
  ASSERT_TRUE(http.connect(port));
  http.send_raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string page = http.read_all();
  EXPECT_NE(page.find("200 OK"), std::string::npos) << page.substr(0, 200);
  EXPECT_NE(page.find("<title>openpipe chat</title>"), std::string::npos) << "GET / is the page";
  auto ada = join(port, "lobby", "ada");
  ASSERT_TRUE(ada);
  EXPECT_EQ(ada->welcome["type"], "welcome");
  program_.signal(SIGTERM);
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << test::describe(*status);
}

}  // namespace
}  // namespace ws
