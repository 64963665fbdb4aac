// Where an HTTP/1.1 request ends: the checks on a complete request head
// (Host, the target's form, the framing headers) and the incremental reading
// of its body, by Content-Length or chunked, every size bounded.
// Owns: the state of one body being read. Does not own: the head
// (http_parser.h) or what a route does with the body. RFC 9112 §3.2, §6, §7.1.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "openpipe/core/error.h"
#include "openpipe/protocol/http_parser.h"

namespace ws {

//> http-body.framing
// RFC 9112 §6.3: how the length of a request's body is known.
enum class BodyKind : uint8_t {
  kNone,     // neither Transfer-Encoding nor Content-Length: no body (§6.3 item 7)
  kLength,   // Content-Length: exactly `length` bytes follow the head
  kChunked,  // Transfer-Encoding: chunked: chunks until a zero-size one (§7.1)
};

struct BodyFraming {
  BodyKind kind = BodyKind::kNone;
  uint64_t length = 0;  // kLength: the Content-Length
};
//< http-body.framing

// The RFC 9112 rules on a complete request head, before any body byte is
// read: exactly one valid Host in HTTP/1.1 (§3.2), CONNECT refused (we are no
// proxy), then the framing headers (§6.1-§6.3). Sets `framing`. Returns
// kNone or the error to answer (400, 413 over limits.max_body_size, 501).
Error check_request_head(const HttpRequest& request, const HttpLimits& limits,
                         BodyFraming& framing);

// True if the request carries a body at all: Transfer-Encoding, or a
// Content-Length other than 0. (A WebSocket upgrade may not: RFC 9112 §6,
// the frames start where the HTTP message ends.)
bool has_body(const HttpRequest& request);

// Reads one body, fed as it arrives, split anywhere; decoded bytes are
// appended to `body`. feed() returns
//   kNeedMore: every byte was taken, the body goes on;
//   kOk:       the body ended; `consumed` bytes were its own, the rest of
//              `data` is the next request (pipelining);
//   kError:    `error` says why (kHttpBadChunk 400, kHttpBodyTooLarge 413,
//              kHttpTrailerTooLarge 431).
// Trailer fields are checked for size and form, then dropped (§7.1.2 allows it).
class HttpBodyDecoder {
 public:
  HttpBodyDecoder(BodyFraming framing, uint64_t max_size, const HttpLimits& limits = {});
  ParseResult feed(std::span<const uint8_t> data, std::string& body);
  uint64_t size() const { return size_; }  // decoded bytes so far

 private:
  //> http-body.state
  enum class State : uint8_t {
    kData,       // inside Content-Length bytes, or a chunk's data
    kSize,       // the hex digits of a chunk size
    kExtension,  // after the digits: ";name=value" until CR
    kSizeLf,     // the LF after the chunk-size line's CR
    kDataCr,     // the CR after a chunk's data
    kDataLf,     // the LF after it
    kTrailer,    // a trailer line (or the empty line that ends the body)
    kTrailerLf,  // the LF after a trailer line's CR
    kDone,       // the body is complete
    kFailed,     // an error was found
  };
  //< http-body.state

  Error take_byte(uint8_t byte);  // one framing byte of a chunked body
  Error end_chunk_size();
  Error end_trailer_line();

  HttpLimits limits_;
  BodyKind kind_;
  State state_;
  uint64_t max_size_;          // the body's decoded size may not exceed this
  uint64_t size_ = 0;          // decoded bytes so far
  uint64_t remaining_ = 0;     // bytes left in the Content-Length body or the chunk
  size_t digits_ = 0;          // hex digits of the chunk size so far
  size_t line_length_ = 0;     // bytes of the current chunk-size line
  bool in_extension_ = false;  // a ";" was seen on the chunk-size line
  size_t trailer_size_ = 0;    // bytes of every trailer line so far
  std::string trailer_line_;   // the trailer line being read (to check its name)
  Error error_ = Error::kNone;
};

}  // namespace ws
