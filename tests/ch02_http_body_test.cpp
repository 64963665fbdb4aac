// Chapter 02, message framing: where a request ends (RFC 9112 §6), the
// chunked coding (§7.1), the request-target forms (§3.2), the decoded path,
// and the header rules a server MUST enforce (Host, obs-fold, whitespace).
// Bytes in, results out; every body is also fed split at every byte.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "openpipe/protocol/handshake.h"
#include "openpipe/protocol/http_body.h"
#include "openpipe/protocol/http_parser.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::bytes;

HttpRequest head_of(std::string_view text) {
  HttpRequestParser parser;
  ParseResult r = parser.feed(bytes(text));
  EXPECT_EQ(r.status, ParseStatus::kOk) << "this head should parse:\n" << text;
  return parser.request();
}

Error head_error(std::string_view text) {
  HttpRequestParser parser;
  return parser.feed(bytes(text)).error;
}

// check_request_head() on a request with these header lines.
Error framing_error(std::string_view headers, BodyFraming* framing = nullptr,
                    const HttpLimits& limits = {}, std::string_view start = "POST /in HTTP/1.1") {
  HttpRequest request = head_of(std::string(start) + "\r\n" + std::string(headers) + "\r\n");
  BodyFraming local;
  return check_request_head(request, limits, framing ? *framing : local);
}

struct Decoded {
  ParseStatus status = ParseStatus::kNeedMore;
  Error error = Error::kNone;
  size_t consumed = 0;
  std::string body;
};

// Feeds `wire` to a decoder in two calls, split before byte `split`.
Decoded decode_in_two(BodyFraming framing, std::string_view wire, size_t split,
                      uint64_t max = 1 << 20, const HttpLimits& limits = {}) {
  HttpBodyDecoder decoder(framing, max, limits);
  Decoded out;
  ParseResult r = decoder.feed(bytes(wire.substr(0, split)), out.body);
  out.consumed = r.consumed;
  if (r.status == ParseStatus::kNeedMore) {
    r = decoder.feed(bytes(wire.substr(split)), out.body);
    out.consumed += r.consumed;
  }
  out.status = r.status;
  out.error = r.error;
  return out;
}

Decoded decode(BodyFraming framing, std::string_view wire, uint64_t max = 1 << 20,
               const HttpLimits& limits = {}) {
  return decode_in_two(framing, wire, wire.size(), max, limits);
}

constexpr BodyFraming kChunked{BodyKind::kChunked, 0};

// The example most texts use: "Wikipedia in\r\n\r\nchunks." in three chunks.
constexpr std::string_view kChunkedWire =
    "4\r\nWiki\r\n"
    "5\r\npedia\r\n"
    "E\r\n in\r\n\r\nchunks.\r\n"
    "0\r\n"
    "\r\n";
constexpr std::string_view kChunkedBody = "Wikipedia in\r\n\r\nchunks.";

// ---- framing: Content-Length ------------------------------------------------------

TEST(Ch02_Framing, NoLengthAndNoChunkedMeansNoBody) {
  BodyFraming framing;
  EXPECT_EQ(framing_error("Host: a\r\n", &framing), Error::kNone);
  EXPECT_EQ(framing.kind, BodyKind::kNone) << "RFC 9112 §6.3 item 7: a request with neither has "
                                              "a body of length zero";
}

TEST(Ch02_Framing, ContentLengthGivesTheBodyLength) {
  BodyFraming framing;
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 42\r\n", &framing), Error::kNone);
  EXPECT_EQ(framing.kind, BodyKind::kLength);
  EXPECT_EQ(framing.length, 42u);
}

TEST(Ch02_Framing, ContentLengthIsDigitsOnly) {
  for (std::string_view value :
       {"+5", "-1", "0x10", "4 2", "5a", "1e3", "", ",", "4.0", "\xd9\xa5"}) {
    EXPECT_EQ(framing_error("Host: a\r\nContent-Length: " + std::string(value) + "\r\n"),
              Error::kHttpBadContentLength)
        << "RFC 9110 §8.6: Content-Length = 1*DIGIT; [" << value << "] is \"an unrecoverable "
        << "error\" (RFC 9112 §6.3 item 5)";
  }
  EXPECT_EQ(http_status(Error::kHttpBadContentLength), 400);
}

TEST(Ch02_Framing, IdenticalRepeatedContentLengthsAreOne) {
  BodyFraming framing;
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 42, 42\r\n", &framing), Error::kNone)
      << "RFC 9110 §8.6: a list of identical values may be taken as one";
  EXPECT_EQ(framing.length, 42u);
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 7\r\nContent-Length: 7\r\n", &framing),
            Error::kNone)
      << "the same value on two lines too";
  EXPECT_EQ(framing.length, 7u);
}

TEST(Ch02_Framing, DifferingContentLengthsAre400) {
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 42, 43\r\n"), Error::kHttpBadContentLength)
      << "two lengths: two parsers could pick different ones (request smuggling)";
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 1\r\nContent-Length: 10\r\n"),
            Error::kHttpBadContentLength);
}

TEST(Ch02_Framing, HugeContentLengthCannotOverflow) {
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 18446744073709551617\r\n"),
            Error::kHttpBadContentLength)
      << "2^64 + 1 would wrap to 1: 20 digits are refused before they are added up";
}

TEST(Ch02_Framing, ContentLengthOverTheLimitIs413) {
  HttpLimits limits;
  limits.max_body_size = 100;
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 100\r\n", nullptr, limits), Error::kNone)
      << "at the limit is fine";
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 101\r\n", nullptr, limits),
            Error::kHttpBodyTooLarge)
      << "one byte over is refused before a byte of it is read";
  EXPECT_EQ(http_status(Error::kHttpBodyTooLarge), 413);
}

TEST(Ch02_Framing, ContentLengthZeroIsNoBody) {
  BodyFraming framing;
  EXPECT_EQ(framing_error("Host: a\r\nContent-Length: 0\r\n", &framing), Error::kNone);
  EXPECT_EQ(framing.kind, BodyKind::kNone);
}

// ---- framing: Transfer-Encoding -----------------------------------------------------

TEST(Ch02_Framing, ChunkedIsRecognisedInAnyCase) {
  BodyFraming framing;
  EXPECT_EQ(framing_error("Host: a\r\nTransfer-Encoding: Chunked\r\n", &framing), Error::kNone);
  EXPECT_EQ(framing.kind, BodyKind::kChunked) << "transfer codings are case-insensitive";
}

TEST(Ch02_Framing, TransferEncodingWithContentLengthIs400) {
  EXPECT_EQ(framing_error("Host: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
            Error::kHttpLengthAndChunked)
      << "RFC 9112 §6.3 item 3: both together \"ought to be handled as an error\": one parser "
         "reads 5 bytes, another reads chunks, and the rest is a smuggled request";
  EXPECT_EQ(http_status(Error::kHttpLengthAndChunked), 400);
}

TEST(Ch02_Framing, OtherTransferCodingsAre501) {
  EXPECT_EQ(framing_error("Host: a\r\nTransfer-Encoding: gzip, chunked\r\n"),
            Error::kHttpUnknownCoding)
      << "RFC 9112 §6.1: a coding the server does not understand: 501";
  EXPECT_EQ(framing_error("Host: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
            Error::kHttpUnknownCoding)
      << "a list may be split over several lines";
  EXPECT_EQ(http_status(Error::kHttpUnknownCoding), 501);
}

TEST(Ch02_Framing, ChunkedMustBeTheFinalCoding) {
  for (std::string_view value : {"gzip", "chunked, gzip", "chunked, chunked", "identity", ""}) {
    EXPECT_EQ(framing_error("Host: a\r\nTransfer-Encoding: " + std::string(value) + "\r\n"),
              Error::kHttpBadTransferEncoding)
        << "RFC 9112 §6.3 item 4: chunked not final (or twice): the length cannot be known, "
        << "MUST 400: [" << value << "]";
  }
}

TEST(Ch02_Framing, TransferEncodingInHttp10Is400) {
  EXPECT_EQ(framing_error("Transfer-Encoding: chunked\r\n", nullptr, {}, "POST /in HTTP/1.0"),
            Error::kHttpBadTransferEncoding)
      << "RFC 9112 §6.1: HTTP/1.0 had no transfer codings: the framing is faulty";
}

TEST(Ch02_Framing, MajorVersionOtherThanOneIs505) {
  EXPECT_EQ(framing_error("Host: a\r\n", nullptr, {}, "GET / HTTP/2.0"),
            Error::kHttpVersionNotSupported)
      << "RFC 9112 §2.3: HTTP/2.0 is not HTTP/1.x syntax; RFC 9110 §15.6.6 answers 505";
  EXPECT_EQ(framing_error("Host: a\r\n", nullptr, {}, "GET / HTTP/0.9"),
            Error::kHttpVersionNotSupported)
      << "RFC 9110 §15.6.6: 505 for a major version the server does not support";
  EXPECT_EQ(http_status(Error::kHttpVersionNotSupported), 505);
  EXPECT_EQ(framing_error("Host: a\r\n", nullptr, {}, "GET / HTTP/1.2"), Error::kNone)
      << "RFC 9112 §2.3: a higher minor version is still HTTP/1.x and is served";
}

// ---- Host (RFC 9112 §3.2) -----------------------------------------------------------------

TEST(Ch02_Host, MissingHostIs400InHttp11) {
  EXPECT_EQ(framing_error("X-A: b\r\n"), Error::kHttpBadHost)
      << "RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host";
  EXPECT_EQ(framing_error("X-A: b\r\n", nullptr, {}, "GET / HTTP/1.0"), Error::kNone)
      << "HTTP/1.0 had no Host requirement";
}

TEST(Ch02_Host, DuplicateHostIs400) {
  EXPECT_EQ(framing_error("Host: a\r\nHost: a\r\n"), Error::kHttpBadHost)
      << "RFC 9112 §3.2: \"more than one Host header field line\": 400, even if equal";
  EXPECT_EQ(framing_error("Host: good.example\r\nHost: evil.example\r\n"), Error::kHttpBadHost);
}

TEST(Ch02_Host, InvalidHostValueIs400) {
  for (std::string_view value : {"user@host", "host:80a", "a/b", "[::1", "host:123456", "a,b"}) {
    EXPECT_EQ(framing_error("Host: " + std::string(value) + "\r\n"), Error::kHttpBadHost)
        << "RFC 9112 §3.2: \"a Host header field with an invalid field value\": [" << value << "]";
  }
  for (std::string_view value : {"localhost:8000", "127.0.0.1", "[::1]:8000", "example.com"}) {
    EXPECT_EQ(framing_error("Host: " + std::string(value) + "\r\n"), Error::kNone) << value;
  }
}

// ---- the chunked coding (RFC 9112 §7.1) -----------------------------------------------

TEST(Ch02_Chunked, DecodesChunksIntoTheBody) {
  Decoded d = decode(kChunked, kChunkedWire);
  EXPECT_EQ(d.status, ParseStatus::kOk);
  EXPECT_EQ(d.body, kChunkedBody) << "chunk data joined, sizes and CR LFs removed";
  EXPECT_EQ(d.consumed, kChunkedWire.size());
}

TEST(Ch02_Chunked, SameBodyAtEverySplitPoint) {
  std::string wire = "5;name=value\r\nhello\r\n1\r\n \r\n0;last\r\nX-Sum: 1\r\n\r\n";
  for (size_t split = 0; split <= wire.size(); ++split) {
    Decoded d = decode_in_two(kChunked, wire, split);
    EXPECT_EQ(d.status, ParseStatus::kOk) << "split before byte " << split;
    EXPECT_EQ(d.body, "hello ") << "split before byte " << split;
    EXPECT_EQ(d.consumed, wire.size()) << "split before byte " << split;
  }
}

TEST(Ch02_Chunked, SameBodyOneByteAtATime) {
  HttpBodyDecoder decoder(kChunked, 1 << 20);
  std::string body;
  ParseResult r;
  for (char c : kChunkedWire) {
    r = decoder.feed(bytes(std::string_view(&c, 1)), body);
    if (r.status != ParseStatus::kNeedMore) break;
  }
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(body, kChunkedBody);
}

TEST(Ch02_Chunked, LeavesTheNextRequestToTheCaller) {
  std::string wire = std::string(kChunkedWire) + "GET / HTTP/1.1\r\n";
  Decoded d = decode(kChunked, wire);
  EXPECT_EQ(d.status, ParseStatus::kOk);
  EXPECT_EQ(d.consumed, kChunkedWire.size())
      << "the body ends at the empty line after the last chunk: what follows is the next "
         "pipelined request, not ours";
}

TEST(Ch02_Chunked, ChunkSizeDigitsAreBounded) {
  EXPECT_EQ(decode(kChunked, "0000000000000001\r\na\r\n0\r\n\r\n").status, ParseStatus::kOk)
      << "16 hex digits (max_chunk_size_digits) are fine";
  EXPECT_EQ(decode(kChunked, "00000000000000001\r\na\r\n0\r\n\r\n").error, Error::kHttpBadChunk)
      << "a 17th digit could overflow 64 bits: refused as it arrives";
}

TEST(Ch02_Chunked, ChunkSizeIsHexAndNotEmpty) {
  for (std::string_view wire : {"g\r\n", "\r\n", ";a\r\n", "-1\r\n", " 5\r\n", "0x5\r\n"}) {
    EXPECT_EQ(decode(kChunked, wire).error, Error::kHttpBadChunk)
        << "chunk-size = 1*HEXDIG: [" << wire << "]";
  }
  EXPECT_EQ(decode(kChunked, "aB\r\n" + std::string(0xab, 'x') + "\r\n0\r\n\r\n").body.size(),
            0xabu)
      << "hex digits in either case";
}

TEST(Ch02_Chunked, ExtensionsAreIgnoredAndBounded) {
  EXPECT_EQ(decode(kChunked, "3 ; a=b;c\r\nabc\r\n0\r\n\r\n").body, "abc")
      << "RFC 9112 §7.1.1: \"A recipient MUST ignore unrecognized chunk extensions\"";
  HttpLimits limits;
  limits.max_chunk_line = 32;
  std::string line = "3;" + std::string(29, 'x');  // 31 bytes: under the limit
  EXPECT_EQ(decode(kChunked, line + "\r\nabc\r\n0\r\n\r\n", 1 << 20, limits).status,
            ParseStatus::kOk);
  EXPECT_EQ(decode(kChunked, line + "xy\r\nabc\r\n0\r\n\r\n", 1 << 20, limits).error,
            Error::kHttpBadChunk)
      << "an extension cannot grow without bound (max_chunk_line)";
  EXPECT_EQ(decode(kChunked, "3 x\r\nabc\r\n0\r\n\r\n").error, Error::kHttpBadChunk)
      << "after the size only \";\" may start an extension";
}

TEST(Ch02_Chunked, LinesEndInCrLfStrictly) {
  EXPECT_EQ(decode(kChunked, "3\nabc\r\n0\r\n\r\n").error, Error::kHttpBadChunk)
      << "a bare LF after the chunk size: refused (our decision, docs/rfc6455-conformance.md)";
  EXPECT_EQ(decode(kChunked, "3\r\nabc\n0\r\n\r\n").error, Error::kHttpBadChunk)
      << "a bare LF after the chunk data";
  EXPECT_EQ(decode(kChunked, "3\r\nabc\r\n0\r\n\n").error, Error::kHttpBadChunk)
      << "a bare LF as the final empty line";
}

TEST(Ch02_Chunked, DataLongerThanItsSizeIs400) {
  EXPECT_EQ(decode(kChunked, "3\r\nabcd\r\n0\r\n\r\n").error, Error::kHttpBadChunk)
      << "after 3 bytes of data, CR LF must follow";
}

TEST(Ch02_Chunked, BodyOverTheLimitIs413BeforeItsData) {
  Decoded d = decode(kChunked, "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", 10);
  EXPECT_EQ(d.error, Error::kHttpBodyTooLarge)
      << "the second chunk would take the body to 16 bytes, over 10";
  EXPECT_EQ(d.body, "12345678") << "refused on the declared size: none of its data was taken";
}

TEST(Ch02_Chunked, TrailersAreBoundedAndDropped) {
  Decoded d = decode(kChunked, "1\r\na\r\n0\r\nX-Checksum: 42\r\nX-More: 1\r\n\r\n");
  EXPECT_EQ(d.status, ParseStatus::kOk);
  EXPECT_EQ(d.body, "a") << "RFC 9112 §7.1.2: trailer fields may be discarded";
  HttpLimits limits;
  limits.max_trailer_size = 64;
  std::string big = "1\r\na\r\n0\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n";
  EXPECT_EQ(decode(kChunked, big, 1 << 20, limits).error, Error::kHttpTrailerTooLarge)
      << "an endless trailer section is refused at max_trailer_size";
  EXPECT_EQ(http_status(Error::kHttpTrailerTooLarge), 431);
  EXPECT_EQ(decode(kChunked, "1\r\na\r\n0\r\nno colon\r\n\r\n").error, Error::kHttpBadChunk)
      << "a trailer line is a field line: name \":\" value";
}

TEST(Ch02_Chunked, ErrorIsSticky) {
  HttpBodyDecoder decoder(kChunked, 100);
  std::string body;
  EXPECT_EQ(decoder.feed(bytes("zz"), body).status, ParseStatus::kError);
  ParseResult again = decoder.feed(bytes("0\r\n\r\n"), body);
  EXPECT_EQ(again.error, Error::kHttpBadChunk);
  EXPECT_EQ(again.consumed, 0u) << "after an error the decoder takes nothing";
}

// ---- Content-Length bodies ------------------------------------------------------------

TEST(Ch02_LengthBody, SameBodyAtEverySplitPoint) {
  std::string wire = "0123456789GET / HTTP/1.1\r\n";
  for (size_t split = 0; split <= wire.size(); ++split) {
    Decoded d = decode_in_two({BodyKind::kLength, 10}, wire, split);
    EXPECT_EQ(d.status, ParseStatus::kOk) << "split before byte " << split;
    EXPECT_EQ(d.body, "0123456789") << "split before byte " << split;
    EXPECT_EQ(d.consumed, 10u) << "exactly Content-Length bytes are the body: split " << split;
  }
}

TEST(Ch02_LengthBody, NeedsMoreUntilTheLastByte) {
  Decoded d = decode({BodyKind::kLength, 10}, "012345678");
  EXPECT_EQ(d.status, ParseStatus::kNeedMore);
  EXPECT_EQ(d.consumed, 9u);
}

TEST(Ch02_LengthBody, OverTheCallersLimitIs413) {
  EXPECT_EQ(decode({BodyKind::kLength, 11}, "01234567890", 10).error, Error::kHttpBodyTooLarge)
      << "a route's max_body below the global limit is checked at once";
}

// ---- the upgrade and its body -----------------------------------------------------------

constexpr std::string_view kUpgrade =
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

TEST(Ch02_Framing, UpgradeWithABodyIsRefused) {
  for (std::string_view framing : {"Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n"}) {
    HttpRequest request = head_of(std::string(kUpgrade) + std::string(framing) + "\r\n");
    EXPECT_EQ(validate_client_handshake(request).error, Error::kHandshakeHasBody)
        << "RFC 9112 §6: the WebSocket starts where the HTTP message ends; with a body, one "
        << "side would read it as frames and the other as HTTP: " << framing;
  }
  HttpRequest empty = head_of(std::string(kUpgrade) + "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(validate_client_handshake(empty).error, Error::kNone)
      << "Content-Length: 0 declares no body at all";
  EXPECT_EQ(http_status(Error::kHandshakeHasBody), 400);
}

// ---- request-target forms (RFC 9112 §3.2) ----------------------------------------------

TEST(Ch02_Target, OriginFormIsWhatBrowsersSend) {
  HttpRequest r = head_of("GET /chat?room=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.form, TargetForm::kOrigin);
  EXPECT_EQ(r.path(), "/chat");
  EXPECT_EQ(r.query(), "room=1");
}

TEST(Ch02_Target, AbsoluteFormRoutesByItsPath) {
  HttpRequest r = head_of("GET http://localhost:8000/ws?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(r.form, TargetForm::kAbsolute) << "RFC 9112 §3.2.2: what a proxy sends";
  EXPECT_EQ(r.authority, "localhost:8000");
  EXPECT_EQ(r.path(), "/ws") << "the path routes as in origin-form";
  EXPECT_EQ(r.query(), "x=1");
  EXPECT_EQ(head_of("GET HTTPS://example.com HTTP/1.1\r\nHost: a\r\n\r\n").path(), "/")
      << "no path means \"/\"; the scheme is case-insensitive";
}

TEST(Ch02_Target, AbsoluteFormHostIsChecked) {
  for (std::string_view target : {"http://user@host/", "http:///x", "ftp://host/", "http://h:x/",
                                  "http://a%/b", "mailto:x@y", "http//host/"}) {
    EXPECT_EQ(head_error("GET " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
              Error::kHttpBadTarget)
        << "absolute-form needs http(s), a valid host and no userinfo: " << target;
  }
}

TEST(Ch02_Target, AsteriskOnlyWithOptions) {
  HttpRequest r = head_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.form, TargetForm::kAsterisk) << "RFC 9112 §3.2.4: the server as a whole";
  EXPECT_EQ(head_error("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kHttpBadTarget)
      << "\"*\" is only used for a server-wide OPTIONS request";
}

TEST(Ch02_Target, AuthorityFormOnlyWithConnectAndConnectIsRefused) {
  HttpRequest r = head_of("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  EXPECT_EQ(r.form, TargetForm::kAuthority);
  EXPECT_EQ(r.authority, "example.com:443");
  BodyFraming framing;
  EXPECT_EQ(check_request_head(r, {}, framing), Error::kHttpConnectRefused)
      << "this server is no proxy: CONNECT is refused clearly";
  EXPECT_EQ(http_status(Error::kHttpConnectRefused), 501);
  EXPECT_EQ(head_error("GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kHttpBadTarget)
      << "RFC 9112 §3.2.3: authority-form is only used for CONNECT";
  EXPECT_EQ(head_error("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), Error::kHttpBadTarget)
      << "and CONNECT takes only authority-form";
}

TEST(Ch02_Target, PathIsPercentDecodedBeforeRouting) {
  EXPECT_EQ(head_of("GET /w%73 HTTP/1.1\r\nHost: a\r\n\r\n").path(), "/ws")
      << "\"/w%73\" and \"/ws\" are one path (RFC 3986 §2.1)";
  EXPECT_EQ(head_of("GET /a%20b?c%20d HTTP/1.1\r\nHost: a\r\n\r\n").path(), "/a b");
  EXPECT_EQ(head_of("GET /a%20b?c%20d HTTP/1.1\r\nHost: a\r\n\r\n").query(), "c%20d")
      << "the query stays encoded: its own parser decodes it";
}

TEST(Ch02_Target, EncodedDotsAndSlashesCannotClimbOut) {
  for (std::string_view path : {"/..", "/../x", "/a/../../x", "/%2e%2e/x", "/%2E%2e/x", "/.%2e/x",
                                "/..%2fx", "/a/..%2F..%2Fetc/passwd", "/a%2f..%2f..%2fx"}) {
    EXPECT_EQ(head_error("GET " + std::string(path) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
              Error::kHttpBadPath)
        << "a \"..\" segment, however encoded, is refused before anything routes: " << path;
  }
  EXPECT_EQ(http_status(Error::kHttpBadPath), 400);
}

TEST(Ch02_Target, DoubleEncodingIsDecodedOnce) {
  HttpRequest r = head_of("GET /%252e%252e/x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.path(), "/%2e%2e/x")
      << "decoded once: a file named \"%2e%2e\", never \"..\" (decoding twice is the bug)";
}

TEST(Ch02_Target, BrokenEscapesAndNulAre400) {
  for (std::string_view path : {"/%", "/%4", "/%zz", "/a%00b", "/%g0"}) {
    EXPECT_EQ(head_error("GET " + std::string(path) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
              Error::kHttpBadPath)
        << path;
  }
}

TEST(Ch02_Target, AbsoluteFormAtEverySplitPoint) {
  std::string wire = "GET http://h:1/p%20q?r HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t split = 0; split <= wire.size(); ++split) {
    HttpRequestParser parser;
    ParseResult r = parser.feed(bytes(std::string_view(wire).substr(0, split)));
    if (r.status == ParseStatus::kNeedMore) {
      r = parser.feed(bytes(std::string_view(wire).substr(split)));
    }
    ASSERT_EQ(r.status, ParseStatus::kOk) << "split before byte " << split;
    EXPECT_EQ(parser.request().path(), "/p q") << "split before byte " << split;
    EXPECT_EQ(parser.request().authority, "h:1") << "split before byte " << split;
  }
}

// ---- lines and whitespace (RFC 9112 §2.2, §5.1, §5.2) -------------------------------------

TEST(Ch02_Lines, BareLfEndsALineInTheHead) {
  HttpRequest r = head_of("GET / HTTP/1.1\nHost: a\nX-B: c\n\n");
  EXPECT_EQ(r.headers.size(), 2u)
      << "RFC 9112 §2.2: a recipient MAY recognize a single LF as a line terminator; we do, "
         "in the head only (docs/rfc6455-conformance.md, HTTP section)";
}

TEST(Ch02_Lines, WhitespaceBeforeTheFirstHeaderIsRefused) {
  EXPECT_EQ(head_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), Error::kHttpMalformed)
      << "RFC 9112 §2.2: whitespace between the start line and the first field: reject (or "
         "skip the line; a line that hides a Host is better refused)";
}

TEST(Ch02_Lines, WhitespaceBeforeColonIs400) {
  EXPECT_EQ(head_error("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), Error::kHttpMalformed)
      << "RFC 9112 §5.1: a server MUST reject whitespace between name and colon with 400";
}

TEST(Ch02_Lines, ObsFoldIs400WithItsOwnExplanation) {
  EXPECT_EQ(head_error("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n"),
            Error::kHttpObsFold)
      << "RFC 9112 §5.2: reject obs-fold with 400 \"preferably with a representation "
         "explaining that obsolete line folding is unacceptable\"";
  std::string response = build_error_response(Error::kHttpObsFold);
  EXPECT_NE(response.find("folding"), std::string::npos) << response;
}

}  // namespace
}  // namespace ws
