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
  size_t max_request_line = 8 * 1024;  // start line, CR LF not counted; longer: 414
  size_t max_header_line = 8 * 1024;   // one "Name: value" line, CR LF not counted; longer: 431
  size_t max_headers = 128;            // more headers: 431
  size_t max_head_size = 32 * 1024;    // every byte up to the empty line, CR LF included; more: 431
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
  // The values of every header with this name, in the order they came.
  std::vector<std::string_view> header_values(std::string_view name) const;
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
// The elements of a comma-separated list (RFC 7230 §7), each trimmed of
// spaces and tabs; empty elements are dropped: " a, ,b " -> {"a", "b"}.
std::vector<std::string_view> split_list(std::string_view list);
// True if the comma-separated `list` contains `token` (case-insensitive,
// optional whitespace around each element ignored).
bool list_has_token(std::string_view list, std::string_view token);

// The line machinery both parsers share: it splits the bytes into lines as
// they arrive, enforces every HttpLimits bound byte by byte, ignores empty
// lines before the start line (RFC 7230 §3.5) and parses header lines. Only
// the start line differs between a request and a response: `Message` is
// HttpRequest or HttpResponse, and http_parser.cpp has one
// parse_start_line() for each (the two instantiations live there too).
//
// Feed bytes as they arrive, split anywhere. feed() returns
//   kNeedMore: every byte was taken (consumed == data.size()), head incomplete;
//   kOk:       the head is complete; `consumed` bytes were used, and the rest
//              of `data` belongs to what follows (a WebSocket frame);
//   kError:    `error` says why (its http_status() is the answer to send).
// After kOk or kError, feed() takes nothing more (consumed 0, same status):
// call reset() before parsing another message.
template <typename Message>
class HttpHeadParser {
 public:
  explicit HttpHeadParser(const HttpLimits& limits = {}) : limits_(limits) {}
  ParseResult feed(std::span<const uint8_t> data);
  void reset();

 protected:
  const Message& message() const { return message_; }

 private:
  //> http.state
  enum class State : uint8_t {
    kStartLine,  // before and inside the request line / status line
    kHeaders,    // inside "Name: value" lines, until the empty line
    kDone,       // the empty line arrived: feed() takes no more bytes
    kFailed,     // an error was found: feed() takes no more bytes
  };
  //< http.state

  Error take_byte(uint8_t byte);  // one byte of the head; kNone if fine
  Error end_of_line();            // a whole line is in line_
  Error add_header_line(std::string_view line);

  HttpLimits limits_;
  Message message_;  // what has been parsed so far
  State state_ = State::kStartLine;
  std::string line_;            // the current line without CR/LF, until its LF
  bool after_cr_ = false;       // the previous byte was a CR: only LF may follow
  size_t head_size_ = 0;        // bytes of the head taken so far, CR/LF included
  Error error_ = Error::kNone;  // why the parser is kFailed
};

class HttpRequestParser : public HttpHeadParser<HttpRequest> {
 public:
  explicit HttpRequestParser(const HttpLimits& limits = {}) : HttpHeadParser(limits) {}
  const HttpRequest& request() const { return message(); }
};

// The same for a response (the client reading the server's 101).
class HttpResponseParser : public HttpHeadParser<HttpResponse> {
 public:
  explicit HttpResponseParser(const HttpLimits& limits = {}) : HttpHeadParser(limits) {}
  const HttpResponse& response() const { return message(); }
};

extern template class HttpHeadParser<HttpRequest>;
extern template class HttpHeadParser<HttpResponse>;

}  // namespace ws
