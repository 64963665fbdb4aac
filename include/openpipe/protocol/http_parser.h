// Incremental HTTP/1.1 parser for the head of a message (start line + headers).
// Owns: the bytes of a head that arrived in pieces, and the parsed result.
// Does not own: bodies (a WebSocket handshake has none), sockets, or policy
// (what a valid *WebSocket* request is lives in handshake.h). RFC 7230 §3.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/core/error.h"

namespace ws {

//> http.limits
// Every length and count that arrives from the network meets a named limit
// before it sizes anything.
struct HttpLimits {
  size_t max_request_line = 8 * 1024;  // longer: 414 URI Too Long
  size_t max_header_line = 8 * 1024;   // one "Name: value" line; longer: 431
  size_t max_headers = 128;            // more headers: 431
  size_t max_head_size = 32 * 1024;    // start line + all headers; more: 431
};
//< http.limits

struct HttpHeader {
  std::string name;   // as sent; compare with equals_ignore_case()
  std::string value;  // leading and trailing whitespace removed
};

// Headers shared by requests and responses.
struct HttpHead {
  int version_major = 1;
  int version_minor = 1;
  std::vector<HttpHeader> headers;

  // The value of the first header with this name (case-insensitive), or null.
  const std::string* header(std::string_view name) const;
  // True if any header with this name holds `token` in its comma-separated
  // list, compared case-insensitively: `Connection: keep-alive, Upgrade`.
  bool header_has_token(std::string_view name, std::string_view token) const;
};

struct HttpRequest : HttpHead {
  std::string method;  // "GET"
  std::string target;  // "/ws?room=1"

  std::string_view path() const;   // target up to '?': "/ws"
  std::string_view query() const;  // after '?': "room=1" (empty if none)
};

struct HttpResponse : HttpHead {
  int status = 0;      // 101
  std::string reason;  // "Switching Protocols"
};

// Case-insensitive ASCII comparison (header names and tokens).
bool equals_ignore_case(std::string_view a, std::string_view b);
// True if the comma-separated `list` contains `token` (case-insensitive,
// optional whitespace around each element ignored).
bool list_has_token(std::string_view list, std::string_view token);

// Feed bytes as they arrive, split anywhere. feed() returns
//   kNeedMore: every byte was taken (consumed == data.size()), head incomplete;
//   kOk:       the head is complete; `consumed` bytes were used, and the rest
//              of `data` belongs to what follows (a WebSocket frame);
//   kError:    `error` says why (its http_status() is the answer to send).
// After kOk or kError, call reset() before parsing another message.
class HttpRequestParser {
 public:
  explicit HttpRequestParser(const HttpLimits& limits = {});
  ParseResult feed(std::span<const uint8_t> data);
  const HttpRequest& request() const { return request_; }
  void reset();

 private:
  // Implementation-defined state: the partial line, counters, and progress.
  HttpLimits limits_;
  HttpRequest request_;
  std::string line_;         // the current line, until its LF arrives
  size_t head_size_ = 0;     // bytes of the head taken so far
  bool start_line_done_ = false;
  bool done_ = false;
  Error error_ = Error::kNone;
};

// The same for a response (the client reading the server's 101).
class HttpResponseParser {
 public:
  explicit HttpResponseParser(const HttpLimits& limits = {});
  ParseResult feed(std::span<const uint8_t> data);
  const HttpResponse& response() const { return response_; }
  void reset();

 private:
  HttpLimits limits_;
  HttpResponse response_;
  std::string line_;
  size_t head_size_ = 0;
  bool start_line_done_ = false;
  bool done_ = false;
  Error error_ = Error::kNone;
};

}  // namespace ws
