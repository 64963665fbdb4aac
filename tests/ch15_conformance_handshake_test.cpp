// Chapter 15 — conformance, part 4: the opening handshake (RFC 6455 §4.2),
// which Autobahn|Testsuite does not test but every client depends on, and
// requests that are not WebSocket handshakes at all (garbage, oversized
// heads). Each refusal must be a complete HTTP response with the right status,
// followed by the server closing TCP.
// Run: make test CH=15   or   ./build/tests/ch15_conformance_handshake_test
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::close_handshake;
using test::expect_message;
using test::RawClient;
using test::TestServer;

constexpr uint8_t kText = 1;

// The echo routes, plus /chat that speaks two subprotocols ("chat" preferred).
void add_routes(Server& server) {
  test::add_echo_routes(server);
  Route chat;
  chat.subprotocols = {"chat", "superchat"};
  chat.on_message = [](WebSocket& socket, std::string_view data, MessageType) {
    socket.send_text(data);
  };
  server.route("/chat", chat);
}

class EchoServer : public ::testing::Environment {
 public:
  void SetUp() override { server_ = std::make_unique<TestServer>(test::test_config(), add_routes); }
  void TearDown() override { server_.reset(); }
  static uint16_t port() { return server_->port(); }

 private:
  static inline std::unique_ptr<TestServer> server_;
};
[[maybe_unused]] ::testing::Environment* const kEchoServer =
    ::testing::AddGlobalTestEnvironment(new EchoServer);

uint16_t port() {
  return EchoServer::port();
}

// ---- reading responses ---------------------------------------------------------------

struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  bool closed = false;  // the server closed TCP after it

  // Every value of a header (names compared case-insensitively).
  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> found;
    size_t line = head.find("\r\n");
    while (line != std::string::npos && line + 2 < head.size()) {
      size_t next = head.find("\r\n", line + 2);
      std::string_view text = std::string_view(head).substr(line + 2, next - line - 2);
      size_t colon = text.find(':');
      if (colon == name.size() &&
          std::equal(name.begin(), name.end(), text.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        std::string_view value = text.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        found.emplace_back(value);
      }
      line = next;
    }
    return found;
  }
  std::optional<std::string> header(std::string_view name) const {
    std::vector<std::string> all = values(name);
    if (all.empty()) return std::nullopt;
    return all[0];
  }
};

Response parse_response(std::string_view text, bool closed) {
  Response response;
  response.closed = closed;
  size_t end = text.find("\r\n\r\n");
  if (end == std::string_view::npos || !text.starts_with("HTTP/1.1 ") || text.size() < 12) {
    response.head = std::string(text);
    return response;
  }
  response.head = std::string(text.substr(0, end + 2));
  response.body = std::string(text.substr(end + 4));
  response.status = std::stoi(std::string(text.substr(9, 3)));
  return response;
}

// Sends `request` on a new connection and reads the whole answer, to EOF.
Response exchange(std::string_view request) {
  RawClient client;
  if (!client.connect(port())) return {};
  client.send_raw(request);
  std::string text = client.read_all(3s);
  return parse_response(text, client.eof());
}

// A request line and headers: the standard upgrade with `extra` headers
// added and the headers named in `drop` (exact "Name: value" lines) removed.
std::string request(std::string_view extra = "", std::vector<std::string> drop = {},
                    std::string_view start_line = "GET /echo HTTP/1.1") {
  std::vector<std::string> lines = {
      "Host: 127.0.0.1:8000", "Upgrade: websocket", "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};
  std::string out = std::string(start_line) + "\r\n";
  for (const std::string& line : lines) {
    if (std::find(drop.begin(), drop.end(), line) == drop.end()) out += line + "\r\n";
  }
  return out + std::string(extra) + "\r\n";
}

// A refusal is a whole HTTP response: the status, a body of exactly
// Content-Length bytes, and TCP closed after it.
void expect_refusal(const Response& response, int status, const char* why) {
  EXPECT_EQ(response.status, status) << why << "\n" << response.head;
  std::optional<std::string> length = response.header("Content-Length");
  ASSERT_TRUE(length) << "a refusal carries Content-Length, so the client knows where it ends";
  EXPECT_EQ(std::to_string(response.body.size()), *length);
  EXPECT_FALSE(response.header("Sec-WebSocket-Accept")) << "a refusal is no upgrade";
  EXPECT_TRUE(response.closed) << "after a refused handshake the server closes TCP";
}

// ===== the 101 ===========================================================================

TEST(Ch15_Handshake, AcceptKeyIsTheRfcExample) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  Response response = parse_response(client.handshake("/echo"), false);
  EXPECT_EQ(response.status, 101);
  EXPECT_TRUE(response.head.starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << response.head;
  EXPECT_EQ(response.values("Sec-WebSocket-Accept"),
            std::vector<std::string>{"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="})
      << "RFC 6455 §1.3: base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11))";
  EXPECT_EQ(response.values("Upgrade"), std::vector<std::string>{"websocket"})
      << "RFC 6455 §4.2.2 item 5.2";
  EXPECT_EQ(response.values("Connection"), std::vector<std::string>{"Upgrade"})
      << "RFC 6455 §4.2.2 item 5.3";
}

TEST(Ch15_Handshake, AcceptKeyForAnotherKey) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_raw(request("Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n",
                          {"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}));
  Response response = parse_response(client.read_head(), false);
  EXPECT_EQ(response.status, 101);
  EXPECT_EQ(response.header("Sec-WebSocket-Accept"), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")
      << "RFC 6455 §4.2.2 item 5.4: the key is hashed as sent, never decoded";
}

TEST(Ch15_Handshake, MixedCaseTokensAndHeaderNames) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_raw(
      "GET /echo HTTP/1.1\r\nhost: 127.0.0.1\r\nUPGRADE: WebSocket\r\nconnection: upgrade\r\n"
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n");
  EXPECT_TRUE(client.read_head().starts_with("HTTP/1.1 101 "))
      << "RFC 6455 §4.2.1: Upgrade and Connection are \"ASCII case-insensitive\"; header names "
         "are case-insensitive (RFC 7230 §3.2)";
  client.send_text("works");
  EXPECT_TRUE(expect_message(client, kText, "works"));
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Handshake, ConnectionKeepAliveUpgradeIsAccepted) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_raw(request("Connection: keep-alive, Upgrade\r\n", {"Connection: Upgrade"}));
  EXPECT_TRUE(client.read_head().starts_with("HTTP/1.1 101 "))
      << "RFC 6455 §4.2.1 item 4: Connection \"includes the token Upgrade\" (Firefox sends this)";
}

TEST(Ch15_Handshake, LeadingEmptyLineIsIgnored) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_raw("\r\n" + request());
  EXPECT_TRUE(client.read_head().starts_with("HTTP/1.1 101 "))
      << "RFC 7230 §3.5: a server SHOULD ignore an empty line before the request line";
}

// permessage-deflate is accepted (chapter 22, tests/ch22_*); an extension we
// do not implement is declined by not naming it.
TEST(Ch15_Handshake, UnknownExtensionOfferIsDeclined) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_raw(request("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"));
  Response response = parse_response(client.read_head(), false);
  ASSERT_EQ(response.status, 101);
  EXPECT_FALSE(response.header("Sec-WebSocket-Extensions"))
      << "RFC 6455 §9.1: the server accepts none of the offered extensions: it names none";
  client.send_text("uncompressed");
  EXPECT_TRUE(expect_message(client, kText, "uncompressed")) << "and frames then carry no RSV1";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Handshake, FrameInTheSameSegmentAsTheHandshake) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_raw(request() + RawClient::encode(kText, "early"));
  ASSERT_TRUE(client.read_head().starts_with("HTTP/1.1 101 "));
  EXPECT_TRUE(expect_message(client, kText, "early"))
      << "bytes after the request head are the first frame, not garbage";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Handshake, RequestArrivingByteByByte) {
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_chunked(request() + RawClient::encode(kText, "slow"), 1);
  ASSERT_TRUE(client.read_head().starts_with("HTTP/1.1 101 "));
  EXPECT_TRUE(expect_message(client, kText, "slow"))
      << "the head may arrive in any number of reads";
  EXPECT_TRUE(close_handshake(client));
}

// ---- subprotocols (§4.2.2 /subprotocol/) ----

std::optional<std::string> chosen_subprotocol(std::string_view path, std::string_view offer) {
  RawClient client;
  if (!client.connect(port())) return "no connection";
  std::string extra = offer.empty() ? "" : "Sec-WebSocket-Protocol: " + std::string(offer) + "\r\n";
  Response response = parse_response(client.handshake(path, extra), false);
  if (response.status != 101) return "status " + std::to_string(response.status);
  std::vector<std::string> values = response.values("Sec-WebSocket-Protocol");
  if (values.size() > 1) return "two Sec-WebSocket-Protocol headers";
  if (values.empty()) return std::nullopt;
  return values[0];
}

TEST(Ch15_Handshake, SubprotocolIsOneTheClientOffered) {
  EXPECT_EQ(chosen_subprotocol("/chat", "superchat, chat"), "chat")
      << "RFC 6455 §4.2.2: one of the client's values; ours is the server's first preference";
  EXPECT_EQ(chosen_subprotocol("/chat", "superchat"), "superchat");
}

TEST(Ch15_Handshake, NoSubprotocolHeaderUnlessOneIsSupported) {
  EXPECT_EQ(chosen_subprotocol("/chat", ""), std::nullopt)
      << "RFC 6455 §4.2.2: with no subprotocol chosen, the server MUST NOT send the header";
  EXPECT_EQ(chosen_subprotocol("/chat", "mqtt"), std::nullopt) << "none of ours was offered";
  EXPECT_EQ(chosen_subprotocol("/echo", "chat"), std::nullopt) << "/echo speaks no subprotocol";
}

// ===== refused handshakes: the WebSocket rules (RFC 6455 §4.2.1) ======================

TEST(Ch15_Handshake, MissingKeyIs400) {
  expect_refusal(exchange(request("", {"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="})), 400,
                 "RFC 6455 §4.2.1 item 5: a |Sec-WebSocket-Key| is required");
}

TEST(Ch15_Handshake, MalformedKeysAre400) {
  const char* const kBadKeys[] = {
      "not base64 at all!!!!!!!",  // 24 characters, not the alphabet
      "AAECAwQFBgcICQoLDA0O",      // base64 of 15 bytes
      "AAECAwQFBgcICQoLDA0ODxA=",  // base64 of 17 bytes
      "dGhlIHNhbXBsZSBub25jZQ",    // 16 bytes, padding missing
      "dGhlIHNhbXBsZSBub25jZQ=",   // bad padding
      "",                          // empty
  };
  for (const char* key : kBadKeys) {
    std::string line = "Sec-WebSocket-Key: " + std::string(key) + "\r\n";
    expect_refusal(exchange(request(line, {"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="})), 400,
                   "RFC 6455 §4.2.1 item 5: the key is base64 of exactly 16 bytes");
  }
}

TEST(Ch15_Handshake, TwoDifferentKeysAre400) {
  expect_refusal(exchange(request("Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n")), 400,
                 "which key would the accept answer? (RFC 6455 §4.2.1 item 5: one key)");
}

TEST(Ch15_Handshake, WrongVersionIs426NamingVersion13) {
  for (const char* version : {"8", "14", "12", "13, 8", "0"}) {
    Response response = exchange(request("Sec-WebSocket-Version: " + std::string(version) + "\r\n",
                                         {"Sec-WebSocket-Version: 13"}));
    expect_refusal(response, 426, "RFC 6455 §4.4: a version we do not speak");
    EXPECT_EQ(response.values("Sec-WebSocket-Version"), std::vector<std::string>{"13"})
        << "RFC 6455 §4.4: the 426 MUST name the versions the server speaks (version " << version
        << ")";
  }
}

TEST(Ch15_Handshake, MissingVersionIs426NamingVersion13) {
  Response response = exchange(request("", {"Sec-WebSocket-Version: 13"}));
  expect_refusal(response, 426, "RFC 6455 §4.2.1 item 6: the version is required");
  EXPECT_EQ(response.header("Sec-WebSocket-Version"), "13");
}

TEST(Ch15_Handshake, PostIs405WithAllowGet) {
  Response response = exchange(request("", {}, "POST /echo HTTP/1.1"));
  expect_refusal(response, 405,
                 "RFC 6455 §4.2.1 item 1: \"The method of the request MUST be GET\"");
  EXPECT_EQ(response.header("Allow"), "GET") << "RFC 7231 §6.5.5: a 405 MUST carry Allow";
}

TEST(Ch15_Handshake, LowercaseGetIs405) {
  expect_refusal(exchange(request("", {}, "get /echo HTTP/1.1")), 405,
                 "RFC 7230 §3.1.1: \"The request method is case-sensitive\"");
}

TEST(Ch15_Handshake, Http10Is400) {
  expect_refusal(exchange(request("", {}, "GET /echo HTTP/1.0")), 400,
                 "RFC 6455 §4.2.1 item 1: \"An HTTP/1.1 or higher GET request\"");
}

TEST(Ch15_Handshake, MissingHostIs400) {
  expect_refusal(exchange(request("", {"Host: 127.0.0.1:8000"})), 400,
                 "RFC 6455 §4.2.1 item 2: a |Host| header field is required");
}

TEST(Ch15_Handshake, TwoHostsAre400) {
  expect_refusal(exchange(request("Host: other.example\r\n")), 400,
                 "RFC 7230 §5.4: more than one Host is a 400");
}

TEST(Ch15_Handshake, ConnectionWithoutUpgradeTokenIs400) {
  expect_refusal(exchange(request("Connection: keep-alive\r\n", {"Connection: Upgrade"})), 400,
                 "RFC 6455 §4.2.1 item 4: Connection must include the token Upgrade");
}

TEST(Ch15_Handshake, UpgradeToAnotherProtocolIs426) {
  Response response = exchange(request("Upgrade: h2c\r\n", {"Upgrade: websocket"}));
  expect_refusal(response, 426, "RFC 6455 §4.2.1 item 3: Upgrade must say websocket");
  EXPECT_EQ(response.header("Upgrade"), "websocket")
      << "RFC 7231 §6.5.15: a 426 names the protocol";
}

TEST(Ch15_Handshake, PlainGetToTheEndpointIs426) {
  Response response = exchange("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_refusal(response, 426, "a WebSocket endpoint asked for as a page");
  EXPECT_EQ(response.header("Sec-WebSocket-Version"), "13");
}

TEST(Ch15_Handshake, UnknownResourceIs404) {
  expect_refusal(
      exchange(request("", {}, "GET /nowhere HTTP/1.1")), 404,
      "RFC 6455 §4.2.2 /resource name/: \"If the requested service is not available, the "
      "server MUST send an appropriate HTTP error code (such as 404 Not Found)\"");
}

// §11.3.5: Sec-WebSocket-Version "MUST NOT appear more than once in an HTTP
// request"; §4.2.1: a handshake that does not match "MUST" get an error
// response. (Found by this suite: only the first copy used to be read, so
// "13" then "8" opened a WebSocket while "8" then "13" got a 426.)
TEST(Ch15_Handshake, TwoVersionHeadersAre426) {
  for (const char* second : {"8", "13"}) {
    Response response = exchange(request("Sec-WebSocket-Version: " + std::string(second) + "\r\n"));
    expect_refusal(response, 426, "RFC 6455 §11.3.5: one Sec-WebSocket-Version per request");
    EXPECT_EQ(response.header("Sec-WebSocket-Version"), "13") << "§4.4: name the version we speak";
  }
}

// KNOWN GAP (reported, not fixed: a deliberate leniency, see the region
// handshake.key-check and Ch03_Handshake.AcceptsTheSameKeyTwice). §11.3.1:
// Sec-WebSocket-Key "MUST NOT appear more than once in an HTTP request".
// Two DIFFERENT keys are refused (above); two identical copies are accepted.
TEST(Ch15_Handshake, DISABLED_TwoIdenticalKeysAreRefused) {
  expect_refusal(exchange(request("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")), 400,
                 "RFC 6455 §11.3.1: one Sec-WebSocket-Key per request");
}

// ===== refused heads: HTTP limits and garbage ===========================================
// A limit is enforced as the bytes arrive: the refusal comes before the
// offending line (or head) is even complete.

TEST(Ch15_Handshake, RequestLineOver8KiBIs414BeforeItEnds) {
  std::string line = "GET /" + std::string(8 * 1024, 'a');  // no CR LF: the line never ends
  expect_refusal(exchange(line), 414, "the request line limit (8 KiB): 414 URI Too Long");
}

TEST(Ch15_Handshake, HeaderLineOver8KiBIs431BeforeItEnds) {
  std::string head = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8 * 1024, 'b');
  expect_refusal(exchange(head), 431, "the header line limit (8 KiB): RFC 6585 §5, 431");
}

TEST(Ch15_Handshake, MoreThan128HeadersIs431) {
  std::string extra;
  for (int i = 0; i < 124; ++i)
    extra += "X-Header-" + std::to_string(i) + ": v\r\n";  // 5 + 124 = 129
  expect_refusal(exchange(request(extra)), 431, "the header count limit (128)");
}

TEST(Ch15_Handshake, Exactly128HeadersAreAccepted) {
  std::string extra;
  for (int i = 0; i < 123; ++i) extra += "X-Header-" + std::to_string(i) + ": v\r\n";  // 5 + 123
  RawClient client;
  ASSERT_TRUE(client.connect(port()));
  client.send_raw(request(extra));
  EXPECT_TRUE(client.read_head().starts_with("HTTP/1.1 101 ")) << "the limit is inclusive";
}

TEST(Ch15_Handshake, ThousandsOfHeadersAre431WithoutWaitingForTheEnd) {
  std::string head = "GET /echo HTTP/1.1\r\n";
  for (int i = 0; i < 5000; ++i) head += "X-" + std::to_string(i) + ": v\r\n";  // never ends
  expect_refusal(exchange(head), 431, "refused at header 129, not after reading 5000");
}

TEST(Ch15_Handshake, HeadOver32KiBIs431) {
  std::string extra;
  for (int i = 0; i < 6; ++i)
    extra += "X-Big-" + std::to_string(i) + ": " + std::string(6000, 'v') + "\r\n";
  expect_refusal(exchange(request(extra)), 431, "the whole head is limited too (32 KiB)");
}

TEST(Ch15_Handshake, NulInAHeaderIs400) {
  expect_refusal(exchange(request(std::string("X-Evil: a\0b\r\n", 13))), 400,
                 "RFC 7230 §3.2: a field value holds no NUL (nor other control bytes)");
}

TEST(Ch15_Handshake, ObsoleteLineFoldingIs400) {
  expect_refusal(exchange(request("X-Folded: a\r\n b\r\n")), 400,
                 "RFC 7230 §3.2.4: a server MUST reject obs-fold with 400 (or unfold it)");
}

TEST(Ch15_Handshake, SpaceBeforeColonIs400) {
  expect_refusal(exchange(request("X-Spaced : a\r\n")), 400,
                 "RFC 7230 §3.2.4: a server MUST reject whitespace between name and colon");
}

TEST(Ch15_Handshake, BinaryGarbageIs400) {
  const std::string garbage("\x00\xff\x13\x37\xde\xad\xbe\xef\r\n\r\n", 12);
  expect_refusal(exchange(garbage), 400, "not HTTP at all");
}

TEST(Ch15_Handshake, HighBytesThenLineEndIs400) {
  expect_refusal(exchange("\x80\x81\xfe\xff\xc3\xa9\r\n\r\n"), 400,
                 "a request line is ASCII: bytes >= 0x80 make it malformed");
}

// KNOWN GAP (reported, not fixed: the fix is in the region http.take-byte,
// quoted by tutorial chapter 02). Bytes >= 0x80 with no control byte and no
// line end are stored until the line ends, 8 KiB pass (414) or the handshake
// timeout (408). No request line can contain them (method = token, target =
// visible ASCII, version = "HTTP/d.d"), so the request parser could refuse
// the first one at once. Enable this test with that fix.
TEST(Ch15_Handshake, HighBytesWithoutLineEndIs400AtOnce) {
  expect_refusal(exchange("\x80\x81\xfe\xff\xc3\xa9"), 400,
                 "no request line starts with a byte >= 0x80: refuse at once, do not wait "
                 "for a line end that may never come");
}

TEST(Ch15_Handshake, TlsClientHelloIs400) {
  // The first bytes of a TLS 1.2 ClientHello: handshake record, version 3.1.
  const std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  expect_refusal(exchange(hello), 400, "https:// to a plain-text port: refuse, do not hang");
}

TEST(Ch15_Handshake, Http2PrefaceIsRefused) {
  Response response = exchange("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  EXPECT_GE(response.status, 400) << response.head;
  EXPECT_LT(response.status, 600);
  EXPECT_TRUE(response.closed);
}

}  // namespace
}  // namespace ws
