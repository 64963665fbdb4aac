// Chapter 03: the WebSocket opening handshake (src/protocol/handshake.cpp).
// The RFC 6455 §1.3 example, each check of §4.2.1 with its error and status,
// the responses as bytes on the wire, and the client's checks of §4.1.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/handshake.h"
#include "openpipe/protocol/http_parser.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::bytes;
using test::hex;

constexpr std::string_view kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// RFC 6455 §1.3: the client's handshake, one header per line.
const std::vector<std::string> kRfcRequestLines = {
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
};

HttpRequest parse_request(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\r\n";
  text += "\r\n";
  HttpRequestParser parser;
  ParseResult r = parser.feed(bytes(text));
  EXPECT_EQ(r.status, ParseStatus::kOk) << "the test request should parse:\n" << text;
  return parser.request();
}

HttpResponse parse_response(std::string_view text) {
  HttpResponseParser parser;
  ParseResult r = parser.feed(bytes(text));
  EXPECT_EQ(r.status, ParseStatus::kOk) << "the response should parse:\n" << text;
  return parser.response();
}

// The RFC request with every line starting with `prefix` replaced by
// `replacement` (or removed if `replacement` is empty).
HttpRequest rfc_request_with(std::string_view prefix, std::string_view replacement) {
  std::vector<std::string> lines;
  for (const std::string& line : kRfcRequestLines) {
    if (!line.starts_with(prefix)) {
      lines.push_back(line);
    } else if (!replacement.empty()) {
      lines.emplace_back(replacement);
    }
  }
  return parse_request(lines);
}

// The RFC request with one more header line.
HttpRequest rfc_request_plus(std::string_view extra_line) {
  std::vector<std::string> lines = kRfcRequestLines;
  lines.emplace_back(extra_line);
  return parse_request(lines);
}

Error check(const HttpRequest& request) {
  return validate_client_handshake(request).error;
}

// The value of `name` in the head of `response`, or "(none)".
std::string header_of(std::string_view response, std::string_view name) {
  HttpResponse parsed = parse_response(response);
  const std::string* value = parsed.header(name);
  return value ? *value : "(none)";
}

// The body of an HTTP response: what follows the empty line.
std::string_view body_of(std::string_view response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

// ---- basic: the accept key ----------------------------------------------------------

TEST(Ch03_Handshake, AcceptKeyMatchesRfcExample) {
  EXPECT_EQ(compute_accept_key(kRfcKey), kRfcAccept)
      << "RFC 6455 §1.3: base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\"))";
}

TEST(Ch03_Handshake, Base64OfRfcDigestIsTheAcceptKey) {
  std::vector<uint8_t> digest =
      hex("b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea");  // RFC 6455 §1.3
  EXPECT_EQ(base64_encode(digest), kRfcAccept)
      << "the 20-byte SHA-1 the RFC prints encodes to the accept key: 27 letters and one '='";
}

TEST(Ch03_Handshake, Base64MatchesRfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (auto [input, expected] : vectors) {
    EXPECT_EQ(base64_encode(bytes(input)), expected)
        << "RFC 4648 §10: one leftover byte pads with '==', two with '=': \"" << input << "\"";
  }
}

// ---- basic: the server accepts --------------------------------------------------

TEST(Ch03_Handshake, AcceptsRfcRequest) {
  Handshake handshake = validate_client_handshake(parse_request(kRfcRequestLines));
  EXPECT_EQ(handshake.error, Error::kNone) << "RFC 6455 §1.3's own request is valid";
  EXPECT_EQ(handshake.accept_key, kRfcAccept) << "the accept key is computed from the request";
  EXPECT_EQ(handshake.subprotocol, "") << "a server with no subprotocols chooses none";
}

TEST(Ch03_Handshake, AcceptResponseOnTheWire) {
  Handshake handshake;
  handshake.accept_key = std::string(kRfcAccept);
  EXPECT_EQ(build_accept_response(handshake),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n")
      << "RFC 6455 §4.2.2 item 5: status 101, Upgrade, Connection, Sec-WebSocket-Accept";
}

TEST(Ch03_Handshake, AcceptResponseCarriesChosenSubprotocolAndExtraHeaders) {
  Handshake handshake;
  handshake.accept_key = std::string(kRfcAccept);
  handshake.subprotocol = "chat";
  std::string response = build_accept_response(handshake, "X-Server: openpipe\r\n");
  EXPECT_EQ(header_of(response, "Sec-WebSocket-Protocol"), "chat")
      << "RFC 6455 §4.2.2 item 5.5: the chosen subprotocol is echoed";
  EXPECT_EQ(header_of(response, "X-Server"), "openpipe") << "extra headers go in as given";
  EXPECT_TRUE(response.ends_with("\r\n\r\n")) << "the head ends with an empty line";
}

TEST(Ch03_Handshake, ChoosesServersFavouriteOfferedSubprotocol) {
  const std::vector<std::string> server = {"superchat", "chat"};
  Handshake handshake = validate_client_handshake(parse_request(kRfcRequestLines), server);
  EXPECT_EQ(handshake.subprotocol, "superchat")
      << "the client offers \"chat, superchat\"; the server's own order decides";
}

TEST(Ch03_Handshake, SkipsServerSubprotocolsTheClientDidNotOffer) {
  const std::vector<std::string> server = {"mqtt", "chat"};
  EXPECT_EQ(validate_client_handshake(parse_request(kRfcRequestLines), server).subprotocol, "chat")
      << "the server's first choice is not offered: try its next one";
}

TEST(Ch03_Handshake, ClientRequestOnTheWire) {
  const std::vector<std::string> subprotocols = {"chat", "superchat"};
  EXPECT_EQ(build_client_request("server.example.com", "/chat", kRfcKey, subprotocols),
            "GET /chat HTTP/1.1\r\n"
            "Host: server.example.com\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chat, superchat\r\n"
            "\r\n")
      << "RFC 6455 §4.1: GET, Host, Upgrade, Connection, key, version 13, subprotocols";
}

TEST(Ch03_Handshake, ServerAcceptPassesClientCheck) {
  const std::vector<std::string> offered = {"chat", "superchat"};
  std::string request = build_client_request("localhost", "/", kRfcKey, offered);
  HttpRequestParser parser;
  ASSERT_EQ(parser.feed(bytes(request)).status, ParseStatus::kOk);
  const std::vector<std::string> server = {"chat"};
  Handshake handshake = validate_client_handshake(parser.request(), server);
  ASSERT_EQ(handshake.error, Error::kNone) << "our client's request passes our server's checks";
  HttpResponse response = parse_response(build_accept_response(handshake));
  EXPECT_EQ(validate_server_response(response, kRfcKey, offered), Error::kNone)
      << "our server's 101 passes our client's checks (RFC 6455 §4.1)";
}

// ---- edge -----------------------------------------------------------------------

TEST(Ch03_Handshake, AcceptsMixedCaseTokensAndNames) {
  HttpRequest request = parse_request({
      "GET /chat HTTP/1.1",
      "host: server.example.com",
      "UPGRADE: WebSocket",
      "connection: upgrade",
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
      "SEC-WEBSOCKET-VERSION: 13",
  });
  EXPECT_EQ(check(request), Error::kNone)
      << "RFC 6455 §4.2.1: Upgrade and Connection are \"treated as an ASCII case-insensitive "
         "value\"; header names are case-insensitive too";
}

TEST(Ch03_Handshake, AcceptsFirefoxConnectionList) {
  EXPECT_EQ(check(rfc_request_with("Connection:", "Connection: keep-alive, Upgrade")), Error::kNone)
      << "RFC 6455 §4.2.1 item 4: Connection \"includes the token\" Upgrade, among others";
}

TEST(Ch03_Handshake, AcceptsLaterHttpVersion) {
  EXPECT_EQ(check(rfc_request_with("GET", "GET /chat HTTP/1.2")), Error::kNone)
      << "RFC 6455 §4.2.1 item 1: \"An HTTP/1.1 or higher GET request\"";
}

TEST(Ch03_Handshake, ReadsSubprotocolsFromSeveralHeaders) {
  HttpRequest request = rfc_request_with("Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: a, b");
  request.headers.push_back({"Sec-WebSocket-Protocol", "c"});
  const std::vector<std::string> server = {"c", "a"};
  EXPECT_EQ(validate_client_handshake(request, server).subprotocol, "c")
      << "the offer may be split over several Sec-WebSocket-Protocol headers";
}

TEST(Ch03_Handshake, NoCommonSubprotocolMeansNoHeader) {
  const std::vector<std::string> server = {"mqtt"};
  Handshake handshake = validate_client_handshake(parse_request(kRfcRequestLines), server);
  EXPECT_EQ(handshake.error, Error::kNone) << "no common subprotocol is not an error";
  EXPECT_EQ(header_of(build_accept_response(handshake), "Sec-WebSocket-Protocol"), "(none)")
      << "RFC 6455 §4.2.2: the server \"MUST NOT send back a |Sec-WebSocket-Protocol| header\"";
}

TEST(Ch03_Handshake, SubprotocolNamesAreComparedExactly) {
  const std::vector<std::string> server = {"CHAT"};
  EXPECT_EQ(validate_client_handshake(parse_request(kRfcRequestLines), server).subprotocol, "")
      << "the client offered \"chat\"; answering \"CHAT\" would make a browser fail the "
         "connection";
}

TEST(Ch03_Handshake, DeclinesExtensionsByNotEchoingThem) {
  HttpRequest request =
      rfc_request_plus("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
  Handshake handshake = validate_client_handshake(request);
  ASSERT_EQ(handshake.error, Error::kNone) << "offering extensions is fine";
  EXPECT_EQ(header_of(build_accept_response(handshake), "Sec-WebSocket-Extensions"), "(none)")
      << "RFC 6455 §9.1: we implement no extension, so the 101 accepts none";
}

TEST(Ch03_Handshake, AcceptsAnyBase64KeyOf16Bytes) {
  std::vector<uint8_t> sixteen(16, 0xff);
  EXPECT_TRUE(is_valid_client_key(base64_encode(sixteen))) << "16 bytes: 22 letters and '=='";
  EXPECT_TRUE(is_valid_client_key("AQIDBAUGBwgJCgsMDQ4PEC=="))
      << "RFC 6455 §4.1's own example key (its last letter has stray low bits: still 16 bytes)";
}

TEST(Ch03_Handshake, AcceptsTheSameKeyTwice) {
  EXPECT_EQ(check(rfc_request_plus("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")), Error::kNone)
      << "two identical copies leave no doubt about which key to answer";
}

TEST(Ch03_Handshake, IsWebSocketUpgradeLooksAtUpgradeOnly) {
  EXPECT_TRUE(is_websocket_upgrade(rfc_request_with("Sec-WebSocket-Key", "")))
      << "any request naming websocket in Upgrade is an attempt, valid or not";
  EXPECT_FALSE(is_websocket_upgrade(rfc_request_with("Upgrade:", "")))
      << "a plain GET (no Upgrade) is not a WebSocket attempt";
}

TEST(Ch03_Handshake, StatusReasonCoversCommonCodes) {
  const std::pair<int, std::string_view> table[] = {
      {101, "Switching Protocols"},
      {200, "OK"},
      {301, "Moved Permanently"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {426, "Upgrade Required"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
  };
  for (auto [status, reason] : table) {
    EXPECT_EQ(status_reason(status), reason) << "RFC 9110 §15 names status " << status;
  }
  EXPECT_EQ(status_reason(299), "") << "an unknown code gets an empty reason (RFC 7230 §3.1.2)";
}

TEST(Ch03_Handshake, HttpResponseOnTheWire) {
  EXPECT_EQ(build_http_response(404, "text/plain", "nope\n"),
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 5\r\n"
            "Connection: close\r\n"
            "\r\n"
            "nope\n")
      << "status line, type, length of the body in bytes, Connection: close, body";
}

TEST(Ch03_Handshake, ErrorResponseSaysWhatWasWrong) {
  std::string response = build_error_response(Error::kHandshakeBadUpgrade);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 400 Bad Request\r\n"))
      << "status line from http_status(error) and status_reason()";
  EXPECT_EQ(header_of(response, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(header_of(response, "Connection"), "close") << "the connection ends after a refusal";
  EXPECT_EQ(header_of(response, "Content-Length"), std::to_string(body_of(response).size()))
      << "Content-Length counts the body's bytes";
  EXPECT_NE(body_of(response).find("Upgrade: websocket"), std::string_view::npos)
      << "the body tells a human what to fix";
}

TEST(Ch03_Handshake, Error426CarriesSupportedVersion) {
  std::string response = build_error_response(Error::kHandshakeBadVersion);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
  EXPECT_EQ(header_of(response, "Sec-WebSocket-Version"), "13")
      << "RFC 6455 §4.4: the server MUST answer with the versions it is willing to use";
}

TEST(Ch03_Handshake, Error405CarriesAllow) {
  std::string response = build_error_response(Error::kHandshakeMethodNotGet);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_EQ(header_of(response, "Allow"), "GET")
      << "RFC 7231 §6.5.5: a 405 MUST carry an Allow header";
}

TEST(Ch03_Handshake, ParserErrorsGetTheirStatus) {
  EXPECT_TRUE(build_error_response(Error::kHttpRequestLineTooLong).starts_with("HTTP/1.1 414 "))
      << "the parser's errors are answered by the same function";
  EXPECT_TRUE(build_error_response(Error::kHttpTooManyHeaders).starts_with("HTTP/1.1 431 "));
  EXPECT_TRUE(build_error_response(Error::kHttpBadHeaderByte).starts_with("HTTP/1.1 400 "));
}

// ---- adversarial: each check of RFC 6455 §4.2.1 -------------------------------------

TEST(Ch03_Handshake, PostIsRefusedWith405) {
  Error error = check(rfc_request_with("GET", "POST /chat HTTP/1.1"));
  EXPECT_EQ(error, Error::kHandshakeMethodNotGet)
      << "RFC 6455 §4.1: \"The method ... MUST be GET\"";
  EXPECT_EQ(http_status(error), 405);
}

TEST(Ch03_Handshake, LowercaseGetIsRefused) {
  EXPECT_EQ(check(rfc_request_with("GET", "get /chat HTTP/1.1")), Error::kHandshakeMethodNotGet)
      << "RFC 7230 §3.1.1: \"The request method is case-sensitive\"";
}

TEST(Ch03_Handshake, Http10IsRefused) {
  Error error = check(rfc_request_with("GET", "GET /chat HTTP/1.0"));
  EXPECT_EQ(error, Error::kHandshakeHttpVersion) << "RFC 6455 §4.2.1: HTTP/1.1 or higher";
  EXPECT_EQ(http_status(error), 400);
}

TEST(Ch03_Handshake, MissingHostIsRefused) {
  Error error = check(rfc_request_with("Host:", ""));
  EXPECT_EQ(error, Error::kHandshakeMissingHost) << "RFC 6455 §4.2.1 item 2: a |Host| header";
  EXPECT_EQ(http_status(error), 400);
}

TEST(Ch03_Handshake, EmptyHostIsRefused) {
  EXPECT_EQ(check(rfc_request_with("Host:", "Host:")), Error::kHandshakeMissingHost)
      << "an empty Host names no authority";
}

TEST(Ch03_Handshake, TwoHostsAreRefused) {
  EXPECT_EQ(check(rfc_request_plus("Host: evil.example.com")), Error::kHandshakeMissingHost)
      << "RFC 7230 §5.4: a request with more than one Host gets 400";
}

TEST(Ch03_Handshake, MissingUpgradeIsRefused) {
  Error error = check(rfc_request_with("Upgrade:", ""));
  EXPECT_EQ(error, Error::kHandshakeBadUpgrade) << "RFC 6455 §4.2.1 item 3";
  EXPECT_EQ(http_status(error), 400);
}

TEST(Ch03_Handshake, UpgradeToAnotherProtocolIsRefused) {
  EXPECT_EQ(check(rfc_request_with("Upgrade:", "Upgrade: h2c")), Error::kHandshakeBadUpgrade)
      << "Upgrade must contain \"websocket\"";
}

TEST(Ch03_Handshake, MissingConnectionUpgradeIsRefused) {
  Error error = check(rfc_request_with("Connection:", "Connection: keep-alive"));
  EXPECT_EQ(error, Error::kHandshakeBadConnection)
      << "RFC 6455 §4.2.1 item 4: Connection must include the token \"Upgrade\"";
  EXPECT_EQ(http_status(error), 400);
}

TEST(Ch03_Handshake, MissingKeyIsRefused) {
  Error error = check(rfc_request_with("Sec-WebSocket-Key:", ""));
  EXPECT_EQ(error, Error::kHandshakeBadKey) << "RFC 6455 §4.2.1 item 5";
  EXPECT_EQ(http_status(error), 400);
}

TEST(Ch03_Handshake, KeyOf15Or17BytesIsRefused) {
  std::vector<uint8_t> fifteen(15, 1);
  std::vector<uint8_t> seventeen(17, 1);
  EXPECT_FALSE(is_valid_client_key(base64_encode(fifteen)))
      << "RFC 6455 §4.2.1 item 5: the key decodes to exactly 16 bytes, not 15";
  EXPECT_FALSE(is_valid_client_key(base64_encode(seventeen))) << "...and not 17";
  std::string line = "Sec-WebSocket-Key: " + base64_encode(fifteen);
  EXPECT_EQ(check(rfc_request_with("Sec-WebSocket-Key:", line)), Error::kHandshakeBadKey);
}

TEST(Ch03_Handshake, NonBase64KeyIsRefused) {
  const std::string_view keys[] = {
      "dGhlIHNhbXBsZSBub25jZQ",    // padding missing: 22 letters
      "dGhlIHNhbXBsZSBub25jZQ=",   // length not a multiple of 4
      "dGhlIHNhbXBsZSBub25j*Q==",  // '*' is not in the alphabet
      "dGhlIHNhbXBs=SBub25jZQ==",  // '=' inside the text
      "dGhlIHNhbXBsZSBub25jZQ-_",  // base64url letters are not base64
      "========================",  // all padding
      "",                          // empty
  };
  for (std::string_view key : keys) {
    EXPECT_FALSE(is_valid_client_key(key)) << "RFC 4648 §4 base64 only: [" << key << "]";
  }
}

TEST(Ch03_Handshake, TwoDifferentKeysAreRefused) {
  EXPECT_EQ(check(rfc_request_plus("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==")),
            Error::kHandshakeBadKey)
      << "two different keys: whichever we answered, the client may have checked the other";
}

TEST(Ch03_Handshake, OtherVersionGets426) {
  Error error = check(rfc_request_with("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8"));
  EXPECT_EQ(error, Error::kHandshakeBadVersion) << "RFC 6455 §4.2.1 item 6: version 13";
  EXPECT_EQ(http_status(error), 426) << "RFC 6455 §4.4: 426 Upgrade Required";
}

TEST(Ch03_Handshake, MissingVersionGets426) {
  EXPECT_EQ(check(rfc_request_with("Sec-WebSocket-Version:", "")), Error::kHandshakeBadVersion)
      << "no version at all: tell the client which one we speak";
}

TEST(Ch03_Handshake, VersionIsCheckedBeforeKey) {
  HttpRequest request = rfc_request_with("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8");
  request.headers.push_back({"Sec-WebSocket-Key", "not base64"});
  EXPECT_EQ(check(request), Error::kHandshakeBadVersion)
      << "our order: a wrong version wins over a bad key, so the client learns to use 13";
}

TEST(Ch03_Handshake, MethodIsCheckedFirst) {
  std::vector<std::string> lines = {"POST /chat HTTP/1.0"};  // wrong method, version, no headers
  EXPECT_EQ(check(parse_request(lines)), Error::kHandshakeMethodNotGet)
      << "our order starts with the method: a request with many faults gets 405";
}

// ---- adversarial: the client's checks of RFC 6455 §4.1 ------------------------------

constexpr std::string_view kRfcResponse =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

// The RFC response with `from` replaced by `to` (first occurrence).
HttpResponse rfc_response_with(std::string_view from, std::string_view to) {
  std::string text(kRfcResponse);
  text.replace(text.find(from), from.size(), to);
  return parse_response(text);
}

TEST(Ch03_Handshake, ClientAcceptsRfcResponse) {
  EXPECT_EQ(validate_server_response(parse_response(kRfcResponse), kRfcKey), Error::kNone)
      << "RFC 6455 §1.3's 101 answers its key";
}

TEST(Ch03_Handshake, ClientAcceptsMixedCaseResponse) {
  HttpResponse response = rfc_response_with("Upgrade: websocket", "upgrade: WebSocket");
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kNone)
      << "RFC 6455 §4.1 item 2: an ASCII case-insensitive match for \"websocket\"";
}

TEST(Ch03_Handshake, ClientRefusesNon101) {
  HttpResponse response = rfc_response_with("101 Switching Protocols", "200 OK");
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kHandshakeBadResponse)
      << "RFC 6455 §4.1 item 1: any status but 101 means no WebSocket";
}

TEST(Ch03_Handshake, ClientRefusesMissingUpgrade) {
  HttpResponse response = rfc_response_with("Upgrade: websocket\r\n", "");
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kHandshakeBadResponse)
      << "RFC 6455 §4.1 item 2: the client MUST fail if Upgrade is missing";
}

TEST(Ch03_Handshake, ClientRefusesUpgradeToAnotherProtocol) {
  HttpResponse response = rfc_response_with("Upgrade: websocket", "Upgrade: h2c");
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kHandshakeBadResponse)
      << "RFC 6455 §4.1 item 2: Upgrade must be \"websocket\", nothing else";
}

TEST(Ch03_Handshake, ClientRefusesMissingConnectionUpgrade) {
  HttpResponse response = rfc_response_with("Connection: Upgrade", "Connection: keep-alive");
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kHandshakeBadResponse)
      << "RFC 6455 §4.1 item 3: Connection must hold the token \"Upgrade\"";
}

TEST(Ch03_Handshake, ClientRefusesWrongAccept) {
  EXPECT_EQ(validate_server_response(parse_response(kRfcResponse), "AAAAAAAAAAAAAAAAAAAAAA=="),
            Error::kHandshakeBadAccept)
      << "RFC 6455 §4.1 item 4: the accept must be computed from the key WE sent";
}

TEST(Ch03_Handshake, ClientRefusesMissingAccept) {
  HttpResponse response =
      rfc_response_with("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", "");
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kHandshakeBadAccept)
      << "RFC 6455 §4.1 item 4: \"lacks a |Sec-WebSocket-Accept| header field\"";
}

TEST(Ch03_Handshake, ClientRefusesUnrequestedExtension) {
  HttpResponse response =
      rfc_response_with("\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kHandshakeBadResponse)
      << "RFC 6455 §4.1 item 5: we offered no extension, so none may be accepted";
}

TEST(Ch03_Handshake, ClientRefusesSubprotocolItDidNotOffer) {
  HttpResponse response =
      rfc_response_with("\r\n\r\n", "\r\nSec-WebSocket-Protocol: superchat\r\n\r\n");
  const std::vector<std::string> offered = {"chat"};
  EXPECT_EQ(validate_server_response(response, kRfcKey, offered), Error::kHandshakeBadResponse)
      << "RFC 6455 §4.1 item 6: a subprotocol \"not present in the client's handshake\"";
  EXPECT_EQ(validate_server_response(response, kRfcKey), Error::kHandshakeBadResponse)
      << "offering none and getting one is the same fault";
}

TEST(Ch03_Handshake, ClientRefusesSubprotocolList) {
  HttpResponse response =
      rfc_response_with("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n");
  const std::vector<std::string> offered = {"chat", "superchat"};
  EXPECT_EQ(validate_server_response(response, kRfcKey, offered), Error::kHandshakeBadResponse)
      << "RFC 6455 §4.2.2: the server picks one subprotocol, never a list";
}

TEST(Ch03_Handshake, ClientRefusesTwoSubprotocolHeaders) {
  HttpResponse response = rfc_response_with(
      "\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n\r\n");
  const std::vector<std::string> offered = {"chat", "superchat"};
  EXPECT_EQ(validate_server_response(response, kRfcKey, offered), Error::kHandshakeBadResponse)
      << "two Sec-WebSocket-Protocol headers are a list too: the server must pick one";
}

TEST(Ch03_Handshake, ClientAcceptsOfferedSubprotocol) {
  HttpResponse response = rfc_response_with("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
  const std::vector<std::string> offered = {"superchat", "chat"};
  EXPECT_EQ(validate_server_response(response, kRfcKey, offered), Error::kNone)
      << "any one of the offered subprotocols is a valid choice";
}

}  // namespace
}  // namespace ws
