// Chapter 02: the incremental HTTP/1.1 head parser (src/protocol/http_parser.cpp).
// Requests are split at every byte; every limit is tried at the limit and one
// byte over; hostile bytes and malformed lines get their own errors.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/http_parser.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::bytes;
using test::hex;
using test::to_hex;

// ---- requests as browsers send them ---------------------------------------------

constexpr std::string_view kChromeRequest =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: localhost:8000\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://localhost:8000\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

// Firefox sends a token list in Connection.
constexpr std::string_view kFirefoxRequest =
    "GET /ws HTTP/1.1\r\n"
    "Host: localhost:8000\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:8000\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Pragma: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

// RFC 6455 §1.3, the handshake the RFC shows.
constexpr std::string_view kRfcRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// RFC 6455 §5.7: a masked text frame "Hello", as a client may send it in the
// same TCP segment as its handshake.
constexpr std::string_view kMaskedHelloHex = "81 85 37 fa 21 3d 7f 9f 4d 51 58";

constexpr std::string_view kRfcResponse =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";

// ---- helpers ------------------------------------------------------------------------

// Everything parsed, as one string: two parses agree if their strings do.
std::string describe(const HttpHead& head) {
  std::string out = "HTTP/" + std::to_string(head.version_major) + "." +
                    std::to_string(head.version_minor) + "\n";
  for (const HttpHeader& h : head.headers) out += "[" + h.name + "]=[" + h.value + "]\n";
  return out;
}
std::string describe(const HttpRequest& r) {
  return r.method + " " + r.target + " " + describe(static_cast<const HttpHead&>(r));
}
std::string describe(const HttpResponse& r) {
  return std::to_string(r.status) + " [" + r.reason + "] " +
         describe(static_cast<const HttpHead&>(r));
}
std::string describe(const HttpRequestParser& p) {
  return describe(p.request());
}
std::string describe(const HttpResponseParser& p) {
  return describe(p.response());
}

struct Outcome {
  ParseResult result;  // status and error of the last feed(); consumed summed
  std::string parsed;  // describe() of what the parser holds
};

// Feeds `text` in two calls, split before byte `split`.
template <typename Parser>
Outcome feed_in_two(std::string_view text, size_t split, const HttpLimits& limits = {}) {
  Parser parser(limits);
  ParseResult total = parser.feed(bytes(text.substr(0, split)));
  if (total.status == ParseStatus::kNeedMore) {
    ParseResult second = parser.feed(bytes(text.substr(split)));
    total = {second.status, total.consumed + second.consumed, second.error};
  }
  return {total, describe(parser)};
}

// Feeds `text` one byte per call.
template <typename Parser>
Outcome feed_bytewise(std::string_view text) {
  Parser parser;
  ParseResult total;
  for (size_t i = 0; i < text.size(); ++i) {
    ParseResult r = parser.feed(bytes(text.substr(i, 1)));
    total = {r.status, total.consumed + r.consumed, r.error};
    if (r.status != ParseStatus::kNeedMore) break;
  }
  return {total, describe(parser)};
}

// Parses `text` in one call.
ParseResult parse(std::string_view text, const HttpLimits& limits = {}) {
  HttpRequestParser parser(limits);
  return parser.feed(bytes(text));
}

HttpRequest parse_request(std::string_view text) {
  HttpRequestParser parser;
  ParseResult r = parser.feed(bytes(text));
  EXPECT_EQ(r.status, ParseStatus::kOk) << "this request should parse:\n" << text;
  return parser.request();
}

// A request whose request line is exactly `length` bytes (CR LF not counted).
std::string request_with_line_length(size_t length) {
  std::string line = "GET /" + std::string(length - 14, 'a') + " HTTP/1.1";  // 14: "GET / HTTP/1.1"
  return line + "\r\nHost: x\r\n\r\n";
}

// A request with one "X-Pad: aaa" header line of exactly `length` bytes.
std::string request_with_header_length(size_t length) {
  return "GET / HTTP/1.1\r\nX-Pad: " + std::string(length - 7, 'a') + "\r\n\r\n";  // 7: "X-Pad: "
}

// A request with `count` headers.
std::string request_with_headers(size_t count) {
  std::string text = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < count; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  return text + "\r\n";
}

// A request of exactly `size` bytes, head and final empty line included.
std::string request_of_size(size_t size) {
  std::string start = "GET / HTTP/1.1\r\nX-Pad: ";
  return start + std::string(size - start.size() - 4, 'a') + "\r\n\r\n";
}

// ---- basic --------------------------------------------------------------------------

TEST(Ch02_HttpParser, ParsesRequestLine) {
  HttpRequest request = parse_request(kRfcRequest);
  EXPECT_EQ(request.method, "GET") << "RFC 7230 §3.1.1: method SP request-target SP HTTP-version";
  EXPECT_EQ(request.target, "/chat") << "the target is the second word of the request line";
  EXPECT_EQ(request.version_major, 1) << "HTTP/1.1: the digit before the dot";
  EXPECT_EQ(request.version_minor, 1) << "HTTP/1.1: the digit after the dot";
}

TEST(Ch02_HttpParser, ParsesHeadersInOrder) {
  HttpRequest request = parse_request(kRfcRequest);
  ASSERT_EQ(request.headers.size(), 7u) << "one HttpHeader per header line";
  EXPECT_EQ(request.headers[0].name, "Host") << "names are kept as sent";
  EXPECT_EQ(request.headers[0].value, "server.example.com") << "the value follows ': '";
  EXPECT_EQ(request.headers[6].name, "Sec-WebSocket-Version") << "headers keep their order";
}

TEST(Ch02_HttpParser, ReportsOkAndConsumedForCompleteHead) {
  ParseResult r = parse(kRfcRequest);
  EXPECT_EQ(r.status, ParseStatus::kOk) << "the empty line ends the head";
  EXPECT_EQ(r.consumed, kRfcRequest.size()) << "every byte up to the empty line is the head's";
}

TEST(Ch02_HttpParser, NeedsMoreUntilTheEmptyLine) {
  std::string_view partial = kRfcRequest.substr(0, kRfcRequest.size() - 2);
  ParseResult r = parse(partial);
  EXPECT_EQ(r.status, ParseStatus::kNeedMore) << "without the final CR LF the head is not over";
  EXPECT_EQ(r.consumed, partial.size()) << "kNeedMore takes every byte it was given";
}

TEST(Ch02_HttpParser, LeavesTheFrameAfterTheHeadToTheCaller) {
  std::vector<uint8_t> segment = bytes(kRfcRequest);
  std::vector<uint8_t> frame = hex(kMaskedHelloHex);
  segment.insert(segment.end(), frame.begin(), frame.end());
  HttpRequestParser parser;
  ParseResult r = parser.feed(segment);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, kRfcRequest.size())
      << "consumed stops at the empty line: the rest is the client's first frame";
  EXPECT_EQ(to_hex(std::span(segment).subspan(r.consumed)), kMaskedHelloHex)
      << "the bytes after `consumed` are the frame, untouched";
}

TEST(Ch02_HttpParser, HeaderLookupIgnoresCase) {
  HttpRequest request = parse_request(kRfcRequest);
  const std::string* key = request.header("sec-websocket-KEY");
  ASSERT_NE(key, nullptr) << "RFC 7230 §3.2: field names are case-insensitive";
  EXPECT_EQ(*key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(request.header("X-Not-There"), nullptr) << "a missing header is a null pointer";
}

TEST(Ch02_HttpParser, SplitsPathAndQuery) {
  HttpRequest request = parse_request(kChromeRequest);
  EXPECT_EQ(request.path(), "/chat") << "path() is the target up to '?'";
  EXPECT_EQ(request.query(), "room=1") << "query() is what follows '?'";
  HttpRequest plain = parse_request(kRfcRequest);
  EXPECT_EQ(plain.query(), "") << "no '?': the query is empty";
}

TEST(Ch02_HttpParser, FindsTokenInFirefoxConnectionList) {
  HttpRequest request = parse_request(kFirefoxRequest);
  EXPECT_TRUE(request.header_has_token("Connection", "Upgrade"))
      << "Firefox sends 'Connection: keep-alive, Upgrade': look at each element of the list";
  EXPECT_TRUE(request.header_has_token("connection", "upgrade"))
      << "header names and tokens are both case-insensitive";
  EXPECT_FALSE(request.header_has_token("Connection", "close")) << "only listed tokens match";
}

TEST(Ch02_HttpParser, ParsesSwitchingProtocolsResponse) {
  HttpResponseParser parser;
  ParseResult r = parser.feed(bytes(kRfcResponse));
  ASSERT_EQ(r.status, ParseStatus::kOk) << "RFC 7230 §3.1.2: HTTP-version SP status-code SP reason";
  EXPECT_EQ(parser.response().status, 101);
  EXPECT_EQ(parser.response().reason, "Switching Protocols") << "the reason may hold spaces";
  EXPECT_EQ(parser.response().headers.size(), 4u) << "the response parser reads headers too";
}

// ---- edge -------------------------------------------------------------------------

TEST(Ch02_HttpParser, SameResultAtEverySplitPoint) {
  std::vector<uint8_t> frame = hex(kMaskedHelloHex);
  std::string with_frame = std::string(kFirefoxRequest) + std::string(frame.begin(), frame.end());
  struct Case {
    std::string_view name;
    std::string_view text;
    size_t head_size;
  };
  const Case cases[] = {
      {"chrome", kChromeRequest, kChromeRequest.size()},
      {"firefox", kFirefoxRequest, kFirefoxRequest.size()},
      {"rfc", kRfcRequest, kRfcRequest.size()},
      {"firefox + frame", with_frame, kFirefoxRequest.size()},
  };
  for (const Case& c : cases) {
    Outcome whole = feed_in_two<HttpRequestParser>(c.text, c.text.size());
    ASSERT_EQ(whole.result.status, ParseStatus::kOk) << c.name;
    for (size_t split = 0; split <= c.text.size(); ++split) {
      Outcome two = feed_in_two<HttpRequestParser>(c.text, split);
      ASSERT_EQ(two.result.status, ParseStatus::kOk)
          << c.name << " split at " << split << ": a split may fall anywhere, even inside CR LF";
      ASSERT_EQ(two.result.consumed, c.head_size)
          << c.name << " split at " << split << ": consumed must stop at the empty line";
      ASSERT_EQ(two.parsed, whole.parsed)
          << c.name << " split at " << split << ": a line cut in two is still one line";
    }
  }
}

TEST(Ch02_HttpParser, SameResponseAtEverySplitPoint) {
  Outcome whole = feed_in_two<HttpResponseParser>(kRfcResponse, kRfcResponse.size());
  ASSERT_EQ(whole.result.status, ParseStatus::kOk);
  for (size_t split = 0; split <= kRfcResponse.size(); ++split) {
    Outcome two = feed_in_two<HttpResponseParser>(kRfcResponse, split);
    ASSERT_EQ(two.result.status, ParseStatus::kOk) << "split at " << split;
    ASSERT_EQ(two.parsed, whole.parsed)
        << "split at " << split << ": the response parser shares the request parser's lines";
  }
}

TEST(Ch02_HttpParser, SameResultOneByteAtATime) {
  Outcome whole = feed_in_two<HttpRequestParser>(kChromeRequest, kChromeRequest.size());
  Outcome bytewise = feed_bytewise<HttpRequestParser>(kChromeRequest);
  EXPECT_EQ(bytewise.result.status, ParseStatus::kOk) << "TCP may deliver one byte per read()";
  EXPECT_EQ(bytewise.result.consumed, kChromeRequest.size());
  EXPECT_EQ(bytewise.parsed, whole.parsed) << "the parser keeps the partial line between calls";
}

TEST(Ch02_HttpParser, AcceptsBareLfLineEndings) {
  HttpRequest request = parse_request("GET / HTTP/1.1\nHost: a\nUpgrade: websocket\n\n");
  EXPECT_EQ(request.headers.size(), 2u)
      << "RFC 7230 §3.5: \"a recipient MAY recognize a single LF as a line terminator\"";
  EXPECT_EQ(request.headers[1].value, "websocket") << "no stray CR is left in the value";
}

TEST(Ch02_HttpParser, IgnoresEmptyLinesBeforeRequestLine) {
  HttpRequest request = parse_request("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(request.method, "GET")
      << "RFC 7230 §3.5: a server SHOULD ignore at least one empty line before the request line";
}

TEST(Ch02_HttpParser, TrimsSpacesAndTabsAroundValues) {
  HttpRequest request = parse_request("GET / HTTP/1.1\r\nHost: \t example.com \t \r\n\r\n");
  EXPECT_EQ(*request.header("Host"), "example.com")
      << "RFC 7230 §3.2: OWS (spaces and tabs) around the value is not part of it";
}

TEST(Ch02_HttpParser, AcceptsEmptyHeaderValue) {
  HttpRequest request = parse_request("GET / HTTP/1.1\r\nX-Empty:\r\n\r\n");
  ASSERT_NE(request.header("X-Empty"), nullptr) << "field-value may be empty (RFC 7230 §3.2)";
  EXPECT_EQ(*request.header("X-Empty"), "");
}

TEST(Ch02_HttpParser, AcceptsTabAndObsTextInsideValues) {
  HttpRequest request = parse_request("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\tbar\r\n\r\n");
  EXPECT_EQ(*request.header("X-Name"), "caf\xc3\xa9\tbar")
      << "RFC 7230 §3.2: a value may hold HTAB and obs-text (bytes 0x80-0xFF)";
}

TEST(Ch02_HttpParser, ReadsHttpVersionDigits) {
  HttpRequest request = parse_request("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(request.version_minor, 0) << "HTTP/1.0 parses; refusing it is the handshake's job";
}

TEST(Ch02_HttpParser, RequestLineAtLimitIsAccepted) {
  std::string text = request_with_line_length(HttpLimits{}.max_request_line);
  EXPECT_EQ(parse(text).status, ParseStatus::kOk)
      << "max_request_line bytes (CR LF not counted) is still allowed";
}

TEST(Ch02_HttpParser, RequestLineOverLimitIs414) {
  ParseResult r = parse(request_with_line_length(HttpLimits{}.max_request_line + 1));
  EXPECT_EQ(r.error, Error::kHttpRequestLineTooLong) << "one byte over max_request_line";
  EXPECT_EQ(http_status(r.error), 414) << "RFC 7231 §6.5.12: 414 URI Too Long";
}

TEST(Ch02_HttpParser, HeaderLineAtLimitIsAccepted) {
  std::string text = request_with_header_length(HttpLimits{}.max_header_line);
  EXPECT_EQ(parse(text).status, ParseStatus::kOk) << "max_header_line bytes is still allowed";
}

TEST(Ch02_HttpParser, HeaderLineOverLimitIs431) {
  ParseResult r = parse(request_with_header_length(HttpLimits{}.max_header_line + 1));
  EXPECT_EQ(r.error, Error::kHttpHeaderTooLarge) << "one byte over max_header_line";
  EXPECT_EQ(http_status(r.error), 431) << "RFC 6585 §5: 431 Request Header Fields Too Large";
}

TEST(Ch02_HttpParser, HeaderCountAtLimitIsAccepted) {
  std::string text = request_with_headers(HttpLimits{}.max_headers);
  EXPECT_EQ(parse(text).status, ParseStatus::kOk) << "exactly max_headers headers is allowed";
}

TEST(Ch02_HttpParser, OneHeaderTooManyIs431) {
  ParseResult r = parse(request_with_headers(HttpLimits{}.max_headers + 1));
  EXPECT_EQ(r.error, Error::kHttpTooManyHeaders) << "max_headers + 1 headers";
  EXPECT_EQ(http_status(r.error), 431);
}

TEST(Ch02_HttpParser, HeadAtSizeLimitIsAccepted) {
  HttpLimits limits;
  limits.max_head_size = 200;
  std::string text = request_of_size(200);
  ASSERT_EQ(text.size(), 200u);
  EXPECT_EQ(parse(text, limits).status, ParseStatus::kOk)
      << "max_head_size counts every byte up to and including the final CR LF";
}

TEST(Ch02_HttpParser, HeadOverSizeLimitIs431) {
  HttpLimits limits;
  limits.max_head_size = 200;
  ParseResult r = parse(request_of_size(201), limits);
  EXPECT_EQ(r.error, Error::kHttpRequestTooLarge) << "one byte over max_head_size";
  EXPECT_EQ(http_status(r.error), 431);
}

TEST(Ch02_HttpParser, DefaultHeadLimitStopsManyLongHeaders) {
  // Each line is under max_header_line and there are fewer than max_headers,
  // yet together they pass max_head_size (32 KiB).
  std::string text = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 5; ++i) text += "X-Pad: " + std::string(8000, 'a') + "\r\n";
  EXPECT_EQ(parse(text + "\r\n").error, Error::kHttpRequestTooLarge)
      << "the whole head has its own limit, beside the per-line and count limits";
}

TEST(Ch02_HttpParser, ResponseReasonMayBeEmpty) {
  for (std::string_view line : {"HTTP/1.1 101 \r\n\r\n", "HTTP/1.1 101\r\n\r\n"}) {
    HttpResponseParser parser;
    ASSERT_EQ(parser.feed(bytes(line)).status, ParseStatus::kOk)
        << "RFC 7230 §3.1.2: reason-phrase may be empty: " << line;
    EXPECT_EQ(parser.response().status, 101);
    EXPECT_EQ(parser.response().reason, "");
  }
}

TEST(Ch02_HttpParser, FeedAfterOkTakesNothing) {
  HttpRequestParser parser;
  ASSERT_EQ(parser.feed(bytes(kRfcRequest)).status, ParseStatus::kOk);
  ParseResult again = parser.feed(bytes("GET"));
  EXPECT_EQ(again.status, ParseStatus::kOk) << "after kOk the parser stays done";
  EXPECT_EQ(again.consumed, 0u) << "...and takes none of the following bytes: they are frames";
}

TEST(Ch02_HttpParser, ResetParsesANewRequest) {
  HttpRequestParser parser;
  ASSERT_EQ(parser.feed(bytes("BAD\r\n")).status, ParseStatus::kError);
  parser.reset();
  ASSERT_EQ(parser.feed(bytes(kRfcRequest)).status, ParseStatus::kOk)
      << "reset() forgets the error and the partial line";
  EXPECT_EQ(parser.request().headers.size(), 7u) << "...and the old headers";
}

TEST(Ch02_HttpParser, ListHasTokenCases) {
  EXPECT_TRUE(list_has_token("keep-alive, Upgrade", "upgrade")) << "case-insensitive element";
  EXPECT_TRUE(list_has_token("  Upgrade\t", "Upgrade")) << "spaces and tabs around are ignored";
  EXPECT_TRUE(list_has_token("a,,Upgrade", "Upgrade")) << "RFC 7230 §7: empty elements are skipped";
  EXPECT_FALSE(list_has_token("Upgrades", "Upgrade")) << "whole elements only, not prefixes";
  EXPECT_FALSE(list_has_token("keep-alive Upgrade", "Upgrade")) << "elements are split on commas";
  EXPECT_FALSE(list_has_token("", "Upgrade")) << "an empty list holds nothing";
}

TEST(Ch02_HttpParser, SplitListDropsEmptyElements) {
  std::vector<std::string_view> elements = split_list(" a, ,b ,");
  ASSERT_EQ(elements.size(), 2u) << "RFC 7230 §7: \"a, , b\" is a list of two";
  EXPECT_EQ(elements[0], "a");
  EXPECT_EQ(elements[1], "b") << "each element is trimmed";
}

TEST(Ch02_HttpParser, HeaderHasTokenLooksAtEveryHeaderOfThatName) {
  HttpRequest request =
      parse_request("GET / HTTP/1.1\r\nConnection: keep-alive\r\nconnection: Upgrade\r\n\r\n");
  EXPECT_TRUE(request.header_has_token("Connection", "upgrade"))
      << "RFC 7230 §3.2.2: a list may be split over several headers of the same name";
  EXPECT_EQ(request.header_values("CONNECTION").size(), 2u) << "header_values() returns both";
}

// ---- adversarial ----------------------------------------------------------------

TEST(Ch02_HttpParser, NulInHeaderValueIsRejected) {
  using namespace std::string_literals;
  ParseResult r = parse("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s);
  EXPECT_EQ(r.error, Error::kHttpBadHeaderByte)
      << "a NUL in a header cuts C strings short downstream: refuse it";
  EXPECT_EQ(http_status(r.error), 400);
}

TEST(Ch02_HttpParser, ControlCharacterInHeaderIsRejected) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n").error, Error::kHttpBadHeaderByte)
      << "RFC 7230 §3.2: field-value holds no CTL other than HTAB";
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHo\x1bst: a\r\n\r\n").error, Error::kHttpBadHeaderByte)
      << "a control character in a header name is refused the same way";
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n").error, Error::kHttpBadHeaderByte)
      << "DEL (0x7F) is a control character too";
}

TEST(Ch02_HttpParser, ControlCharacterInRequestLineIsMalformed) {
  EXPECT_EQ(parse("GET /\x01 HTTP/1.1\r\n\r\n").error, Error::kHttpMalformed)
      << "a control character in the request line makes it malformed (400)";
}

TEST(Ch02_HttpParser, CrNotFollowedByLfIsMalformed) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\rX-Evil: 1\r\n\r\n").error, Error::kHttpMalformed)
      << "a lone CR is no line end: some parsers treat it as one, which lets headers be smuggled";
}

TEST(Ch02_HttpParser, ObsFoldIsRejected) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n").error, Error::kHttpObsFold)
      << "RFC 9112 §5.2: a server MUST reject obs-fold (a line starting with SP or HTAB) with "
         "400, \"preferably with a representation explaining\" why: its own error";
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n").error, Error::kHttpObsFold)
      << "a fold may also start with a tab";
  EXPECT_EQ(http_status(Error::kHttpObsFold), 400);
}

TEST(Ch02_HttpParser, WhitespaceBeforeColonIsRejected) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n").error, Error::kHttpMalformed)
      << "RFC 7230 §3.2.4: \"No whitespace is allowed between the header field-name and colon\"";
}

TEST(Ch02_HttpParser, EmptyHeaderNameIsRejected) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n: a\r\n\r\n").error, Error::kHttpMalformed)
      << "field-name = token, and a token has at least one character";
}

TEST(Ch02_HttpParser, NonTokenHeaderNameIsRejected) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX(y): a\r\n\r\n").error, Error::kHttpMalformed)
      << "RFC 7230 §3.2.6: '(' is a delimiter, not a tchar";
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX-\xc3\xa9: a\r\n\r\n").error, Error::kHttpMalformed)
      << "bytes >= 0x80 are allowed in values, never in names";
}

TEST(Ch02_HttpParser, HeaderLineWithoutColonIsRejected) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost a\r\n\r\n").error, Error::kHttpMalformed)
      << "header-field = field-name \":\" OWS field-value OWS";
}

TEST(Ch02_HttpParser, MalformedRequestLinesAreRejected) {
  const std::string_view lines[] = {
      "GET /",               // no version
      "GET",                 // method alone
      "GET  / HTTP/1.1",     // two spaces: empty target
      "GET / HTTP/1.1 ",     // trailing space
      " GET / HTTP/1.1",     // leading space: empty method
      "GET / HTTP/11",       // no dot
      "GET / http/1.1",      // HTTP-name is case-sensitive
      "GET / HTTP/1.x",      // version digits only
      "GET / HTTP/10.1",     // one digit each side (RFC 7230 §2.6)
      "G(T / HTTP/1.1",      // method is a token
      "GET /\xff HTTP/1.1",  // target is visible ASCII
      "GET /\t HTTP/1.1",    // a tab is not a space
  };
  for (std::string_view line : lines) {
    ParseResult r = parse(std::string(line) + "\r\nHost: a\r\n\r\n");
    EXPECT_EQ(r.error, Error::kHttpMalformed)
        << "RFC 7230 §3.1.1: method SP request-target SP HTTP/DIGIT.DIGIT, exactly: [" << line
        << "]";
  }
}

TEST(Ch02_HttpParser, MalformedStatusLinesAreRejected) {
  const std::string_view lines[] = {"HTTP/1.1",        "HTTP/1.1 10 OK",   "HTTP/1.1 1010 OK",
                                    "HTTP/1.1 abc OK", "HTTP/1.1  101 OK", "HTTP/1 101 OK"};
  for (std::string_view line : lines) {
    HttpResponseParser parser;
    ParseResult r = parser.feed(bytes(std::string(line) + "\r\n\r\n"));
    EXPECT_EQ(r.error, Error::kHttpMalformed)
        << "RFC 7230 §3.1.2: HTTP-version SP 3DIGIT SP reason: [" << line << "]";
  }
}

TEST(Ch02_HttpParser, EndlessRequestLineIsRefusedAsItArrives) {
  // A client sends a request line that never ends: 1 GiB of 'A' in 64 KiB
  // chunks. The parser must say no once max_request_line is passed, having
  // stored no more than that.
  HttpRequestParser parser;
  std::vector<uint8_t> chunk(64 * 1024, 'A');
  size_t fed = 0;
  ParseResult r;
  for (size_t sent = 0; sent < (size_t{1} << 30); sent += chunk.size()) {
    r = parser.feed(chunk);
    fed += r.consumed;
    if (r.status != ParseStatus::kNeedMore) break;
  }
  EXPECT_EQ(r.error, Error::kHttpRequestLineTooLong) << "the limit is checked on every byte";
  EXPECT_EQ(fed, HttpLimits{}.max_request_line + 1)
      << "the byte that passes the limit is the one refused: nothing more is read";
}

TEST(Ch02_HttpParser, EndlessEmptyLinesAreBounded) {
  HttpRequestParser parser;
  std::vector<uint8_t> chunk = bytes(std::string(4096, '\n'));
  ParseResult r;
  for (int i = 0; i < 1000 && r.status == ParseStatus::kNeedMore; ++i) r = parser.feed(chunk);
  EXPECT_EQ(r.error, Error::kHttpRequestTooLarge)
      << "ignored empty lines still count toward max_head_size, or they would never end";
}

TEST(Ch02_HttpParser, ManySmallHeadersHitTheCountLimitFirst) {
  HttpRequestParser parser;
  ParseResult r = parser.feed(bytes("GET / HTTP/1.1\r\n"));
  for (int i = 0; i < 1000 && r.status == ParseStatus::kNeedMore; ++i)
    r = parser.feed(bytes("A: b\r\n"));
  EXPECT_EQ(r.error, Error::kHttpTooManyHeaders)
      << "tiny headers stay under the size limits: the count limit stops them";
}

TEST(Ch02_HttpParser, GarbageIsRefusedAtItsFirstByte) {
  // Binary bytes with no line end in sight: no request line can start like
  // this, so the parser says so at once instead of waiting for an LF.
  ParseResult r = parse("\x80\x81\xfe\xff");
  EXPECT_EQ(r.status, ParseStatus::kError) << "a start line begins with a token (RFC 7230 §3.1.1)";
  EXPECT_EQ(r.error, Error::kHttpMalformed);
  EXPECT_EQ(r.consumed, 1u) << "the first byte is enough to know";
}

TEST(Ch02_HttpParser, ErrorIsSticky) {
  HttpRequestParser parser;
  ASSERT_EQ(parser.feed(bytes("GET / HTTP/1.1\r\nHost : a\r\n")).status, ParseStatus::kError);
  ParseResult again = parser.feed(bytes("\r\n"));
  EXPECT_EQ(again.error, Error::kHttpMalformed) << "after an error, feed() repeats it";
  EXPECT_EQ(again.consumed, 0u) << "...and takes no bytes until reset()";
}

}  // namespace
}  // namespace ws
