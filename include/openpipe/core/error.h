// Error codes for the whole protocol layer, as values (never exceptions).
// Owns: the list of everything that can go wrong before and after the upgrade,
// each with a readable name, the HTTP status it answers (before the upgrade,
// RFC 6455 §4.2.1) or the close code it fails the connection with (§7.4.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace ws {

//> core.error-enum
enum class Error : uint8_t {
  kNone = 0,
  // ---- HTTP request, before the upgrade (answered with a 4xx status) ----
  kHttpMalformed,            // 400: not a valid HTTP/1.1 request line or header
  kHttpBadHeaderByte,        // 400: NUL or another control character in a header
  kHttpRequestLineTooLong,   // 414: request line over HttpLimits::max_request_line
  kHttpHeaderTooLarge,       // 431: one header line over HttpLimits::max_header_line
  kHttpTooManyHeaders,       // 431: more than HttpLimits::max_headers headers
  kHttpRequestTooLarge,      // 431: whole head over HttpLimits::max_head_size
  kHttpObsFold,              // 400: a header line folded onto the next (RFC 9112 §5.2)
  kHttpBadTarget,            // 400: a request-target the method does not allow (RFC 9112 §3.2)
  kHttpBadPath,              // 400: a broken %XX escape, a NUL or a ".." segment in the path
  kHttpBadHost,              // 400: no Host in HTTP/1.1, two Host lines, or a bad value (§3.2)
  kHttpBadContentLength,     // 400: Content-Length not digits, or differing values (§6.3)
  kHttpLengthAndChunked,     // 400: Transfer-Encoding and Content-Length together (§6.3)
  kHttpBadTransferEncoding,  // 400: chunked not the final coding, or HTTP/1.0 with one (§6.1)
  kHttpUnknownCoding,        // 501: a transfer coding other than chunked (§6.1)
  kHttpBadChunk,             // 400: a chunk-size line or chunk end that breaks §7.1
  kHttpTrailerTooLarge,      // 431: trailer fields over HttpLimits::max_trailer_size
  kHttpBodyTooLarge,         // 413: body over HttpLimits::max_body_size or the route's limit
  kHttpLengthRequired,       // 411: the route reads only bodies with a Content-Length
  kHttpConnectRefused,       // 501: CONNECT (authority-form): this server is no proxy
  kHttpVersionNotSupported,  // 505: a major version other than 1 (HTTP/0.9, HTTP/2.0)
  // ---- WebSocket opening handshake (RFC 6455 §4.2.1) ----
  kHandshakeMethodNotGet,   // 405: "The method of the request MUST be GET"
  kHandshakeHttpVersion,    // 400: HTTP/1.1 or higher is required
  kHandshakeMissingHost,    // 400: a |Host| header field is required
  kHandshakeBadUpgrade,     // 400: |Upgrade| must contain the token "websocket"
  kHandshakeBadConnection,  // 400: |Connection| must contain the token "Upgrade"
  kHandshakeBadKey,         // 400: |Sec-WebSocket-Key| must decode to 16 bytes
  kHandshakeHasBody,        // 400: an upgrade request with a body (RFC 9112 §6)
  kHandshakeBadVersion,     // 426: |Sec-WebSocket-Version| must be 13 (§4.4)
  kHandshakeBadResponse,    // client role: the server's answer is not a valid 101
  kHandshakeBadAccept,      // client role: |Sec-WebSocket-Accept| does not match
  // ---- frames (RFC 6455 §5.2), fail the connection with 1002 or 1009 ----
  kFrameReservedBits,       // 1002: RSV1-3 set without a negotiated extension
  kFrameUnknownOpcode,      // 1002: opcodes 3-7 and 0xB-0xF are reserved
  kFrameNotMasked,          // 1002: a client frame must be masked (§5.1)
  kFrameMasked,             // 1002: a server frame must not be masked (§5.1)
  kFrameLengthTopBit,       // 1002: the 64-bit length's most significant bit must be 0
  kFrameControlTooLong,     // 1002: control frame payload over 125 bytes (§5.5)
  kFrameControlFragmented,  // 1002: control frames must not be fragmented (§5.5)
  kFrameTooLarge,           // 1009: declared payload length over the limit
  // ---- messages (RFC 6455 §5.4, §8.1) ----
  kMessageUnexpectedContinuation,  // 1002: continuation frame with no message started
  kMessageExpectedContinuation,    // 1002: new data frame inside a fragmented message
  kMessageTooLarge,                // 1009: message over the limit across its fragments
  kMessageInvalidUtf8,             // 1007: text message is not valid UTF-8
  // ---- close frames (RFC 6455 §5.5.1, §7.4) ----
  kCloseOneByteBody,  // 1002: a close body is empty or at least 2 bytes
  kCloseInvalidCode,  // 1002: a code that may not appear on the wire
  kCloseInvalidUtf8,  // 1007: the close reason is not valid UTF-8
  // ---- permessage-deflate (RFC 7692), fail the connection ----
  kDeflateMisplacedRsv1,  // 1002: RSV1 on a control or continuation frame (§6)
  kDeflateBadData,        // 1007: a compressed message does not inflate (§7.2.2)
};
//< core.error-enum

// A readable name for logs and test messages, e.g. "frame-not-masked".
std::string_view to_string(Error error);
// Prints the name, so a failed EXPECT_EQ shows "frame-not-masked", not "<12>".
std::ostream& operator<<(std::ostream& out, Error error);

// The HTTP status a server answers an opening-handshake error with (400, 405,
// 414, 426, 431); 0 for errors that happen after the upgrade.
int http_status(Error error);

// The close code a WebSocket error fails the connection with (1002, 1007,
// 1009); 0 for errors that happen before the upgrade.
uint16_t close_code(Error error);

// The outcome of feeding bytes to an incremental parser.
//> core.parse-result
enum class ParseStatus : uint8_t {
  kOk,        // a complete item was parsed; `consumed` bytes were used
  kNeedMore,  // every byte was taken, but the item is not complete yet
  kError,     // the input is invalid; `error` says why
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;  // bytes of the input used by this call
  Error error = Error::kNone;
};
//< core.parse-result

// "ok", "need-more", "error": for logs and test messages, like Error's names.
std::string_view to_string(ParseStatus status);
std::ostream& operator<<(std::ostream& out, ParseStatus status);

}  // namespace ws
