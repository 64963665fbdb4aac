// Chapter 15 — who may open a WebSocket: the Origin allowlist against
// Cross-Site WebSocket Hijacking (RFC 6455 §10.2) and the authentication hook
// (Route::on_upgrade), which decides before the 101 is sent. Chapter 11 has
// the first test of each; these cover the rest. Real server, loopback only.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::RawClient;
using test::RawFrame;
using test::TestServer;

constexpr uint8_t kText = 1;

// The status line's code of a handshake answer: 101, 403... (0 if none came).
int handshake_status(uint16_t port, std::string_view path, std::string_view extra_headers = "") {
  RawClient client;
  if (!client.connect(port)) return 0;
  std::string head = client.handshake(path, extra_headers);
  return head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
}

// ---- the Origin allowlist -----------------------------------------------------------

ServerConfig with_origins(std::vector<std::string> origins) {
  ServerConfig config = test::test_config();
  config.allowed_origins = std::move(origins);
  return config;
}

TEST(Ch15_Security, EmptyAllowlistAcceptsAnyOrigin) {
  TestServer server;  // the default: allowed_origins is empty
  EXPECT_EQ(handshake_status(server.port(), "/echo", "Origin: http://evil.example\r\n"), 101)
      << "by default any Origin is accepted (ServerConfig::allowed_origins is empty)";
  EXPECT_EQ(handshake_status(server.port(), "/echo"), 101)
      << "and so is a request with no Origin (command-line clients send none)";
}

TEST(Ch15_Security, AllowlistAcceptsEveryListedOrigin) {
  TestServer server(with_origins({"https://app.example", "http://localhost:8000"}));
  EXPECT_EQ(handshake_status(server.port(), "/echo", "Origin: https://app.example\r\n"), 101);
  EXPECT_EQ(handshake_status(server.port(), "/echo", "Origin: http://localhost:8000\r\n"), 101);
}

TEST(Ch15_Security, AllowlistRefusesARequestWithNoOrigin) {
  TestServer server(with_origins({"https://app.example"}));
  EXPECT_EQ(handshake_status(server.port(), "/echo"), 403)
      << "with an allowlist, a request that names no Origin is not on it";
}

TEST(Ch15_Security, AllowlistComparesWholeOrigins) {
  TestServer server(with_origins({"https://app.example"}));
  for (const char* origin :
       {"https://app.example.evil.example", "https://evil.example/https://app.example",
        "http://app.example", "https://app.example:8443", "null", "https://app.example/"}) {
    EXPECT_EQ(handshake_status(server.port(), "/echo", "Origin: " + std::string(origin) + "\r\n"),
              403)
        << origin << " is not https://app.example: no prefix or substring match";
  }
}

TEST(Ch15_Security, RefusedOriginGetsNoWebSocket) {
  TestServer server(with_origins({"https://app.example"}));
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw(
      "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Origin: https://evil.example\r\n\r\n" +
      RawClient::encode(kText, "sent with the request"));
  std::string response = client.read_all(3s);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 403 ")) << response;
  EXPECT_EQ(response.find("Sec-WebSocket-Accept"), std::string::npos) << "no upgrade headers";
  EXPECT_EQ(response.find("sent with the request"), std::string::npos)
      << "the frame that came with a refused request is never echoed";
  EXPECT_TRUE(client.eof()) << "a refusal closes the connection";
}

// ---- the authentication hook -----------------------------------------------------------

// The value of cookie `name` in a Cookie header ("a=1; session=abc"), or "".
std::string cookie(const HttpRequest& request, std::string_view name) {
  const std::string* header = request.header("Cookie");
  if (!header) return "";
  std::string_view rest = *header;
  while (!rest.empty()) {
    size_t end = rest.find(';');
    std::string_view pair = rest.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  return "";
}

struct User {
  std::string name;
};

//> security.cookie-auth
// A /private route: session "s3cret" is alice, "b4nned" is mallory (banned),
// anything else is nobody. Counts the hook's calls and the messages it lets in.
struct AuthServer {
  std::atomic<int> hook_calls{0};
  std::atomic<int> messages{0};
  std::mutex mutex;
  std::vector<std::string> seen;  // what the hook saw, for the first call

  void setup(Server& s) {
    Route route;
    route.on_upgrade = [this](const HttpRequest& request, WebSocket& socket) {
      if (++hook_calls == 1) {
        std::lock_guard<std::mutex> lock(mutex);
        seen = {std::string(request.path()), std::string(request.query()),
                request.header("X-Client") ? *request.header("X-Client") : "",
                cookie(request, "session")};
      }
      std::string session = cookie(request, "session");
      if (session == "b4nned") return UpgradeDecision::refuse(403, "You are banned.\n");
      if (session != "s3cret") return UpgradeDecision::refuse(401, "Log in first.\n");
      socket.set_data<User>(User{"alice"});
      return UpgradeDecision::accept();
    };
    route.on_open = [](WebSocket& socket) {
      socket.send_text("welcome " + socket.data<User>().name);
    };
    route.on_message = [this](WebSocket& socket, std::string_view text, MessageType) {
      ++messages;
      socket.send_text(socket.data<User>().name + ": " + std::string(text));
    };
    s.route("/private", route);
  }
};
//< security.cookie-auth

TEST(Ch15_Security, AuthHookSeesPathQueryHeadersAndCookies) {
  AuthServer auth;
  TestServer server(test::test_config(), [&](Server& s) { auth.setup(s); });
  handshake_status(server.port(), "/private?room=7",
                   "X-Client: test-suite\r\nCookie: theme=dark; session=s3cret; lang=en\r\n");
  std::lock_guard<std::mutex> lock(auth.mutex);
  EXPECT_EQ(auth.seen, (std::vector<std::string>{"/private", "room=7", "test-suite", "s3cret"}))
      << "Route::on_upgrade gets the whole request: path, query, headers, cookies";
}

TEST(Ch15_Security, ValidSessionCookieOpensAndAttachesTheUser) {
  AuthServer auth;
  TestServer server(test::test_config(), [&](Server& s) { auth.setup(s); });
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  ASSERT_TRUE(
      client.handshake("/private", "Cookie: session=s3cret\r\n").starts_with("HTTP/1.1 101 "));
  std::optional<RawFrame> welcome = client.read_frame();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->payload, "welcome alice") << "data attached in on_upgrade is there in on_open";
  client.send_text("hi");
  std::optional<RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, "alice: hi") << "and in every on_message";
}

TEST(Ch15_Security, MissingOrWrongSessionIs401) {
  AuthServer auth;
  TestServer server(test::test_config(), [&](Server& s) { auth.setup(s); });
  EXPECT_EQ(handshake_status(server.port(), "/private"), 401) << "no cookie: not logged in";
  EXPECT_EQ(handshake_status(server.port(), "/private", "Cookie: session=guess\r\n"), 401);
  EXPECT_EQ(handshake_status(server.port(), "/private", "Cookie: xsession=s3cret\r\n"), 401)
      << "a cookie whose name only ends in 'session' is another cookie";
}

TEST(Ch15_Security, BannedUserIs403) {
  AuthServer auth;
  TestServer server(test::test_config(), [&](Server& s) { auth.setup(s); });
  EXPECT_EQ(handshake_status(server.port(), "/private", "Cookie: session=b4nned\r\n"), 403);
}

TEST(Ch15_Security, RefusalHappensBeforeThe101AndNoFrameGetsThrough) {
  // The primer's mistake, "no authentication on connection": a server that
  // upgrades first and checks later has already let the messages in.
  AuthServer auth;
  TestServer server(test::test_config(), [&](Server& s) { auth.setup(s); });
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw(
      "GET /private HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
      RawClient::encode(kText, "let me in anyway"));
  std::string response = client.read_all(3s);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 401 ")) << response;
  EXPECT_NE(response.find("Log in first."), std::string::npos) << "the hook's body is the answer";
  EXPECT_EQ(response.find("Sec-WebSocket-Accept"), std::string::npos);
  EXPECT_TRUE(client.eof());
  EXPECT_EQ(auth.messages.load(), 0) << "a refused client's frames never reach on_message";
}

TEST(Ch15_Security, OriginIsCheckedBeforeTheAuthHook) {
  AuthServer auth;
  TestServer server(with_origins({"https://app.example"}), [&](Server& s) { auth.setup(s); });
  EXPECT_EQ(handshake_status(server.port(), "/private",
                             "Origin: https://evil.example\r\nCookie: session=s3cret\r\n"),
            403)
      << "a hijacked browser sends the victim's cookie: the Origin check must refuse it";
  EXPECT_EQ(auth.hook_calls.load(), 0) << "the hook never sees a request from a foreign Origin";
  EXPECT_EQ(handshake_status(server.port(), "/private",
                             "Origin: https://app.example\r\nCookie: session=s3cret\r\n"),
            101);
  EXPECT_EQ(auth.hook_calls.load(), 1);
}

TEST(Ch15_Security, AuthHookOnlySeesValidUpgrades) {
  AuthServer auth;
  TestServer server(test::test_config(), [&](Server& s) { auth.setup(s); });
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  // A good session cookie, but a WebSocket version we do not speak.
  client.send_raw(
      "GET /private HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
      "Cookie: session=s3cret\r\n\r\n");
  EXPECT_TRUE(client.read_all().starts_with("HTTP/1.1 426 ")) << "RFC 6455 §4.4: wrong version";
  EXPECT_EQ(auth.hook_calls.load(), 0)
      << "the request is validated before the hook: a hook that counts logins counts only "
         "real WebSocket openings";
}

TEST(Ch15_Security, EachUpgradeIsCheckedOnItsOwn) {
  AuthServer auth;
  TestServer server(test::test_config(), [&](Server& s) { auth.setup(s); });
  RawClient alice;
  ASSERT_TRUE(alice.connect(server.port()));
  ASSERT_TRUE(
      alice.handshake("/private", "Cookie: session=s3cret\r\n").starts_with("HTTP/1.1 101"));
  EXPECT_EQ(handshake_status(server.port(), "/private"), 401)
      << "another connection from the same machine is not alice: nothing is remembered per address";
  EXPECT_EQ(auth.hook_calls.load(), 2);
}

}  // namespace
}  // namespace ws
