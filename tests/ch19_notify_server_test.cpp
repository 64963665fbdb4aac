// Chapter 19 — the notify service, with real clients: the application
// (examples/notify/app.h) on a real ws::Server in a thread; subscribers
// are the C++ client (chapter 14), publishers are raw HTTP requests over
// loopback (tests/support/raw_ws.h); then the program, build/notify_server.
// Every rule of docs/protocols.md ("notify") has a test here.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/program.h"
#include "notify/app.h"
#include "notify/signature.h"
#include "openpipe/io/client.h"
#include "support/json_client.h"
#include "support/program.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::json;
using test::next_json;

constexpr const char* kSecret = "it's a secret";

class NotifyServer {
 public:
  NotifyServer()
      : server_(test::test_config(),
                [this](Server& server) { app_ = std::make_unique<notify::App>(server, kSecret); }) {
  }
  uint16_t port() const { return server_.port(); }

 private:
  std::unique_ptr<notify::App> app_;  // declared first: outlives the server's thread
  test::TestServer server_;
};

std::unique_ptr<Client> subscribe(uint16_t port, const std::string& query) {
  auto client = std::make_unique<Client>();
  ClientStatus status = client->connect(test::local_url(port, "/subscribe?" + query), 10s);
  EXPECT_TRUE(status.ok()) << query << ": " << status.error;
  return status.ok() ? std::move(client) : nullptr;
}

// One HTTP request on its own connection; the whole response.
std::string http(uint16_t port, const std::string& request) {
  test::RawClient client;
  if (!client.connect(port)) return "connect failed";
  client.send_raw(request);
  return client.read_all();
}

// POST /notify/<topic> with Content-Length and `headers` (full lines).
std::string post(uint16_t port, const std::string& topic, const std::string& body,
                 const std::string& headers) {
  return http(port, "POST /notify/" + topic + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n" + headers +
                        "\r\n" + body);
}

std::string signed_post(uint16_t port, const std::string& topic, const std::string& body) {
  return post(port, topic, body,
              "X-Signature-256: " + notify::signature_header(kSecret, body) + "\r\n");
}

// "HTTP/1.1 401 Unauthorized\r\n..." -> 401.
int status_of(const std::string& response) {
  return response.starts_with("HTTP/1.1 ") ? std::atoi(response.c_str() + 9) : 0;
}

// The next notification's body, or why there was none.
std::string next_body(Client& client) {
  std::string what;
  std::optional<json> m = next_json(client, &what);
  if (!m) return "(nothing: " + what + ")";
  if ((*m)["type"] != "notification") return "(not a notification: " + m->dump() + ")";
  return (*m)["body"];
}

// ---- publishing -------------------------------------------------------------------------------

TEST(Ch19_NotifyServer, ASignedPostReachesEverySubscriberOfTheTopic) {
  NotifyServer server;
  auto a = subscribe(server.port(), "topic=deploys");
  auto b = subscribe(server.port(), "topic=deploys");
  auto other = subscribe(server.port(), "topic=alerts");
  ASSERT_TRUE(a && b && other);
  const int64_t before = app::unix_ms();
  const std::string response = signed_post(server.port(), "deploys", "v1.4 is live");
  EXPECT_EQ(status_of(response), 200) << response;
  EXPECT_NE(response.find(R"({"topic":"deploys","delivered":2})"), std::string::npos)
      << "the answer says how many subscribers it reached: " << response;
  for (Client* client : {a.get(), b.get()}) {
    std::optional<json> m = next_json(*client);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "notification");
    EXPECT_EQ((*m)["topic"], "deploys");
    EXPECT_EQ((*m)["body"], "v1.4 is live") << "the body, as text";
    EXPECT_GE((*m)["ts"].get<int64_t>(), before) << "ts: the server's clock";
  }
  ASSERT_EQ(status_of(signed_post(server.port(), "alerts", "disk full")), 200);
  EXPECT_EQ(next_body(*other), "disk full") << "alerts' subscriber got nothing of deploys";
}

TEST(Ch19_NotifyServer, OneConnectionCanFollowSeveralTopics) {
  NotifyServer server;
  auto client = subscribe(server.port(), "topic=a&topic=b&topic=a");
  ASSERT_TRUE(client);
  ASSERT_EQ(status_of(signed_post(server.port(), "a", "one")), 200);
  ASSERT_EQ(status_of(signed_post(server.port(), "b", "two")), 200);
  EXPECT_EQ(next_body(*client), "one") << "a repeated topic is subscribed once: no duplicate";
  EXPECT_EQ(next_body(*client), "two");
}

TEST(Ch19_NotifyServer, APostWithoutSubscribersIsAcceptedAndReachesNobody) {
  NotifyServer server;
  const std::string response = signed_post(server.port(), "empty", "x");
  EXPECT_EQ(status_of(response), 200);
  EXPECT_NE(response.find(R"("delivered":0)"), std::string::npos) << response;
}

// ---- the signature: 401 and nothing delivered --------------------------------------------------

TEST(Ch19_NotifyServer, AMissingOrWrongSignatureIs401AndDeliversNothing) {
  NotifyServer server;
  auto client = subscribe(server.port(), "topic=deploys");
  ASSERT_TRUE(client);
  const std::string body = "rm -rf /";
  const std::vector<std::pair<std::string, std::string>> forgeries = {
      {"no header", ""},
      {"another secret", "X-Signature-256: " + notify::signature_header("guess", body) + "\r\n"},
      {"another body",
       "X-Signature-256: " + notify::signature_header(kSecret, body + " ") + "\r\n"},
      {"not hex", "X-Signature-256: sha256=" + std::string(64, 'z') + "\r\n"},
      {"no prefix",
       "X-Signature-256: " + notify::to_hex(notify::hmac_sha256(kSecret, body)) + "\r\n"},
  };
  for (const auto& [what, header] : forgeries) {
    const std::string response = post(server.port(), "deploys", body, header);
    EXPECT_EQ(status_of(response), 401) << what << ": " << response;
  }
  ASSERT_EQ(status_of(signed_post(server.port(), "deploys", "the real one")), 200);
  EXPECT_EQ(next_body(*client), "the real one")
      << "none of the refused posts was delivered: the first message is the signed one";
}

// ---- framing: 411, 413, chunked -----------------------------------------------------------------

TEST(Ch19_NotifyServer, APostWithoutContentLengthIs411) {
  NotifyServer server;
  const std::string response =
      http(server.port(),
           "POST /notify/deploys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "X-Signature-256: " +
               notify::signature_header(kSecret, "") + "\r\n\r\n");
  EXPECT_EQ(status_of(response), 411) << "RFC 9110 §15.5.12: 411 Length Required; " << response;
}

TEST(Ch19_NotifyServer, ABodyOf64KiBPassesOneByteMoreIs413) {
  NotifyServer server;
  auto client = subscribe(server.port(), "topic=big");
  ASSERT_TRUE(client);
  const std::string limit(notify::kMaxBodyBytes, 'x');
  EXPECT_EQ(status_of(signed_post(server.port(), "big", limit)), 200) << "64 KiB, inclusive";
  EXPECT_EQ(next_body(*client).size(), notify::kMaxBodyBytes);
  const std::string response = signed_post(server.port(), "big", limit + "x");
  EXPECT_EQ(status_of(response), 413)
      << "RFC 9110 §15.5.14: 413 Content Too Large; " << response.substr(0, 200);
}

TEST(Ch19_NotifyServer, AChunkedBodyIsReadAndSignedAsDecoded) {
  NotifyServer server;
  auto client = subscribe(server.port(), "topic=deploys");
  ASSERT_TRUE(client);
  const std::string body = "hello, chunks";
  const std::string response =
      http(server.port(),
           "POST /notify/deploys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "Transfer-Encoding: chunked\r\nX-Signature-256: " +
               notify::signature_header(kSecret, body) +
               "\r\n\r\n7\r\nhello, \r\n6\r\nchunks\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(response), 200)
      << "RFC 9112 §7.1: chunked bodies are supported; " << response;
  EXPECT_EQ(next_body(*client), body);
}

TEST(Ch19_NotifyServer, AChunkedBodyOver64KiBIs413) {
  NotifyServer server;
  std::string chunks;
  for (int i = 0; i < 17; ++i) chunks += "1000\r\n" + std::string(4096, 'x') + "\r\n";  // 68 KiB
  const std::string response =
      http(server.port(),
           "POST /notify/deploys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" +
               chunks + "0\r\n\r\n");
  EXPECT_EQ(status_of(response), 413) << response.substr(0, 200);
}

// ---- what else is refused -------------------------------------------------------------------------

TEST(Ch19_NotifyServer, BadTopicsMethodsAndBodiesAreRefused) {
  NotifyServer server;
  EXPECT_EQ(status_of(signed_post(server.port(), "a/b", "x")), 400) << "a topic has no '/'";
  EXPECT_EQ(status_of(signed_post(server.port(), std::string(65, 't'), "x")), 400)
      << "a topic is at most 64 bytes";
  EXPECT_EQ(status_of(signed_post(server.port(), "", "x")), 400) << "POST /notify/ has no topic";
  EXPECT_EQ(status_of(signed_post(server.port(), "t", "\xff\xfe")), 400)
      << "the body is sent as JSON text: it must be UTF-8";
  const std::string get =
      http(server.port(), "GET /notify/t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(get), 405) << get;
  EXPECT_NE(get.find("Allow: POST"), std::string::npos)
      << "RFC 9110 §15.5.6: 405 names what is allowed";
}

TEST(Ch19_NotifyServer, SubscribingNeedsValidTopics) {
  NotifyServer server;
  std::string many;
  for (int i = 0; i < 33; ++i) many += "topic=t" + std::to_string(i) + "&";
  for (const std::string& query : {std::string(""), std::string("topic="),
                                   std::string("topic=a%20b"), std::string("topic=a/b"), many}) {
    Client client;
    ClientStatus status =
        client.connect(test::local_url(server.port(), "/subscribe?" + query), 10s);
    EXPECT_FALSE(status.ok()) << "?" << query << " must be refused";
    EXPECT_NE(status.error.find("400"), std::string::npos) << query << ": " << status.error;
  }
}

TEST(Ch19_NotifyServer, AMessageFromASubscriberGetsAnError) {
  NotifyServer server;
  auto client = subscribe(server.port(), "topic=a");
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send_text(R"({"type":"subscribe","topic":"b"})").ok());
  std::optional<json> m = next_json(*client);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["type"], "error") << "docs/protocols.md: subscribers send nothing";
  EXPECT_TRUE(client->is_open());
}

// ---- the program ------------------------------------------------------------------------------

class Ch19_NotifyProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::program_path("notify_server");
    if (::access(path_.c_str(), X_OK) != 0) GTEST_SKIP() << path_ << " not built: run make";
    ::unsetenv("NOTIFY_SECRET");
  }
  std::string path_;
  test::Program program_;
};

TEST_F(Ch19_NotifyProgram, HelpNamesTheSecretAndThePort) {
  ASSERT_TRUE(program_.start(path_, {"--help"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << test::describe(*status);
  for (const char* word : {"--secret", "NOTIFY_SECRET", "--port", "8003", "X-Signature-256"}) {
    EXPECT_NE(program_.out().find(word), std::string::npos) << "--help mentions " << word;
  }
}

TEST_F(Ch19_NotifyProgram, WithoutASecretItRefusesToStart) {
  ASSERT_TRUE(program_.start(path_, {"--port", "0"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
      << test::describe(*status) << ": an unsigned service would accept anyone's posts";
  EXPECT_NE(program_.err().find("--secret"), std::string::npos) << program_.err();
}

TEST_F(Ch19_NotifyProgram, TheSecretMayComeFromTheEnvironment) {
  ::setenv("NOTIFY_SECRET", kSecret, 1);
  ASSERT_TRUE(program_.start(path_, {"--port", "0", "--quiet"}));
  ::unsetenv("NOTIFY_SECRET");
  ASSERT_TRUE(program_.wait_for_stdout("/\n")) << program_.err();
  const uint16_t port = test::listening_port(program_.out());
  auto client = subscribe(port, "topic=deploys");
  ASSERT_TRUE(client);
  EXPECT_EQ(status_of(signed_post(port, "deploys", "from env")), 200);
  EXPECT_EQ(next_body(*client), "from env");
  const std::string page = http(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(page.find("<title>openpipe notify</title>"), std::string::npos) << "GET / is the page";
}

}  // namespace
}  // namespace ws
