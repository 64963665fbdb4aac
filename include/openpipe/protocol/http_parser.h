// Incremental HTTP/1.1 parser for the head of a message (start line + headers).
// Owns: the bytes of a head that arrived in pieces, and the parsed result,
// with the request-target's form and its percent-decoded path.
// Does not own: bodies (http_body.h), sockets, or policy (what a valid
// *WebSocket* request is lives in handshake.h). RFC 9112 §2-§5 (was RFC 7230 §3).
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
  // The body (http_body.h), RFC 9112 §6-§7:
  uint64_t max_body_size = 1 << 20;    // Content-Length or chunked total; more: 413
  size_t max_chunk_size_digits = 16;   // hex digits of one chunk size; more: 400
  size_t max_chunk_line = 1024;        // a chunk-size line with its extensions; longer: 400
  size_t max_trailer_size = 8 * 1024;  // every trailer line together; more: 431
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

//> http.target-form
// RFC 9112 §3.2: the four forms of a request-target.
enum class TargetForm : uint8_t {
  kOrigin,     // "/ws?room=1": what browsers send
  kAbsolute,   // "http://host:8000/ws": what a proxy sends; routes by its path
  kAuthority,  // "host:443": only with CONNECT
  kAsterisk,   // "*": only with OPTIONS (the server as a whole)
};
//< http.target-form

struct HttpRequest : HttpHead {
  std::string method;  // "GET"
  std::string target;  // as sent: "/ws?room=1", "http://host/ws", "*", "host:443"
  TargetForm form = TargetForm::kOrigin;
  std::string authority;     // absolute- and authority-form: "host:8000" (else empty)
  std::string decoded_path;  // the path, percent-decoded (set by the parser): "/a b"
  std::string body;          // the body, once read (http_body.h); empty if none

  // The percent-decoded path ("/a%20b" -> "/a b"; "/" for "*" and for
  // "http://host"); routes and files are found by it. The parser refuses a
  // path with a broken escape, a NUL or a ".." segment, however encoded.
  std::string_view path() const;
  std::string_view query() const;  // after '?', still encoded: "room=1" (empty if none)
};

struct HttpResponse : HttpHead {
  int status = 0;      // 101
  std::string reason;  // "Switching Protocols"
};

// Decodes every %XX escape of `in` (RFC 3986 §2.1) into `out`, once: "%252e"
// becomes "%2e", not ".". False on a broken escape ("%", "%4", "%zz").
bool percent_decode(std::string_view in, std::string& out);

// RFC 9110 §7.2, RFC 3986 §3.2: uri-host [ ":" port ] as a Host header or an
// absolute-form target carries it: "localhost:8000", "[::1]:8000",
// "example.com". No userinfo ("user@host"), no spaces. Empty is false.
bool is_valid_authority(std::string_view authority);

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
  // Not a byte of a message taken since the start or the last reset().
  bool idle() const { return head_size_ == 0; }

 protected:
  const Message& message() const { return message_; }
  Message& message() { return message_; }

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
  HttpRequest& request() { return message(); }  // the reader of the body fills request().body
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
