// HTTP/1.1 head parsing, one byte at a time (see http_parser.h).
// The byte loop, the limits and the header lines are shared; only the start
// line differs between a request and a response. RFC 9112 §2-§5 (the
// comments cite RFC 7230 where its words are the same ones RFC 9112 kept).
#include "openpipe/protocol/http_parser.h"

#include <algorithm>

namespace ws {
namespace {

bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
//                          / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
bool is_tchar(unsigned char c) {
  return is_digit(c) || is_alpha(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return is_tchar(c); });
}

// RFC 7230 §1.2 (from RFC 5234): CTL = %x00-1F / %x7F. HTAB is the one
// control a header value may hold (OWS = *( SP / HTAB )).
bool is_forbidden_control(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7F;
}

// RFC 7230 §3.2.3: OWS = *( SP / HTAB ), around values and list elements.
std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// RFC 7230 §2.6: HTTP-version = HTTP-name "/" DIGIT "." DIGIT
bool parse_version(std::string_view text, HttpHead& head) {
  if (text.size() != 8 || text.substr(0, 5) != "HTTP/" || !is_digit(text[5]) || text[6] != '.' ||
      !is_digit(text[7])) {
    return false;
  }
  head.version_major = text[5] - '0';
  head.version_minor = text[7] - '0';
  return true;
}

//> http.decode-path
// The path is decoded once, here, before anything routes by it. What could
// climb out of a directory is refused whatever its spelling: "/../x",
// "/%2e%2e/x", "/..%2fx" (an encoded slash is a slash once decoded). Double
// encoding is no way around it: "%252e%252e" decodes once, to the harmless
// name "%2e%2e", and nothing decodes it again.
Error decode_path(std::string_view raw, std::string& path) {
  if (raw.empty()) raw = "/";  // "http://host" and "http://host?q" mean "/"
  if (!raw.starts_with('/')) return Error::kHttpBadTarget;
  path.clear();
  if (!percent_decode(raw, path) || path.find('\0') != std::string::npos) {
    return Error::kHttpBadPath;
  }
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    if (std::string_view(path).substr(start, end - start) == "..") return Error::kHttpBadPath;
    start = end + 1;
  }
  return Error::kNone;
}
//< http.decode-path

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

//> http.target
// RFC 9112 §3.2: which of the four forms the target has, and the method it
// goes with. origin-form for everything a browser sends; absolute-form
// ("http://host/path", from a proxy) routes by its path like origin-form;
// authority-form only with CONNECT, asterisk-form only with OPTIONS.
Error parse_target(HttpRequest& request) {
  std::string_view target = request.target;
  std::string_view origin;  // the part that is path [ "?" query ]
  if (request.method == "CONNECT") {
    // §3.2.3: "The authority-form is only used for CONNECT requests".
    if (!is_valid_authority(target) || target.find(':') == std::string_view::npos) {
      return Error::kHttpBadTarget;
    }
    request.form = TargetForm::kAuthority;
    request.authority = target;
    return Error::kNone;
  }
  if (target == "*") {
    // §3.2.4: "The asterisk-form ... is only used for a server-wide OPTIONS request".
    if (request.method != "OPTIONS") return Error::kHttpBadTarget;
    request.form = TargetForm::kAsterisk;
    request.decoded_path = "*";
    return Error::kNone;
  }
  if (target.starts_with('/')) {
    origin = target;
  } else {
    // §3.2.2: absolute-form = absolute-URI; only http and https name a server.
    size_t scheme_end = target.find("://");
    std::string_view scheme = target.substr(0, scheme_end);
    if (scheme_end == std::string_view::npos ||
        !(equals_ignore_case(scheme, "http") || equals_ignore_case(scheme, "https"))) {
      return Error::kHttpBadTarget;
    }
    std::string_view rest = target.substr(scheme_end + 3);
    size_t path_start = std::min(rest.find('/'), rest.find('?'));
    std::string_view authority = rest.substr(0, path_start);
    // The host is checked like a Host header; "user@host" is refused (RFC
    // 9110 §4.2.4: userinfo is deprecated and a phishing tool).
    if (authority.empty() || !is_valid_authority(authority)) return Error::kHttpBadTarget;
    request.form = TargetForm::kAbsolute;
    request.authority = authority;
    origin = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  }
  return decode_path(origin.substr(0, origin.find('?')), request.decoded_path);
}
//< http.target

//> http.request-line
// RFC 9112 §3: request-line = method SP request-target SP HTTP-version
// Exactly one space between the parts: "GET  / HTTP/1.1" is malformed.
Error parse_start_line(std::string_view line, HttpRequest& request) {
  size_t first_space = line.find(' ');
  if (first_space == std::string_view::npos) return Error::kHttpMalformed;
  size_t second_space = line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) return Error::kHttpMalformed;

  std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  std::string_view version = line.substr(second_space + 1);
  // The target is visible ASCII only (RFC 3986 has no room for bytes >= 0x80).
  bool target_ok = !target.empty() && std::all_of(target.begin(), target.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7F;
  });
  if (!is_token(method) || !target_ok || !parse_version(version, request)) {
    return Error::kHttpMalformed;
  }
  request.method = method;
  request.target = target;
  return parse_target(request);
}
//< http.request-line

// RFC 7230 §3.1.2: status-line = HTTP-version SP status-code SP reason-phrase
// status-code is 3DIGIT; the reason may hold spaces or be empty, and we also
// accept "HTTP/1.1 101" with no space after the code (a common slip).
Error parse_start_line(std::string_view line, HttpResponse& response) {
  size_t space = line.find(' ');
  if (space == std::string_view::npos || !parse_version(line.substr(0, space), response)) {
    return Error::kHttpMalformed;
  }
  std::string_view rest = line.substr(space + 1);
  if (rest.size() < 3 || !is_digit(rest[0]) || !is_digit(rest[1]) || !is_digit(rest[2])) {
    return Error::kHttpMalformed;
  }
  if (rest.size() > 3 && rest[3] != ' ') return Error::kHttpMalformed;  // "1010" is no code
  response.status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  response.reason = rest.size() > 3 ? rest.substr(4) : std::string_view();
  return Error::kNone;
}

}  // namespace

// ---- the shared head parser --------------------------------------------------

//> http.feed
template <typename Message>
ParseResult HttpHeadParser<Message>::feed(std::span<const uint8_t> data) {
  if (state_ == State::kDone) return {ParseStatus::kOk, 0, Error::kNone};
  if (state_ == State::kFailed) return {ParseStatus::kError, 0, error_};
  for (size_t i = 0; i < data.size(); ++i) {
    Error error = take_byte(data[i]);
    if (error != Error::kNone) {
      state_ = State::kFailed;
      error_ = error;
      return {ParseStatus::kError, i + 1, error};
    }
    // The empty line ends the head. The bytes after it are not ours: in a
    // WebSocket they are the client's first frame, sent in the same segment.
    if (state_ == State::kDone) return {ParseStatus::kOk, i + 1, Error::kNone};
  }
  return {ParseStatus::kNeedMore, data.size(), Error::kNone};
}
//< http.feed

//> http.take-byte
// Every byte passes the limits *before* it is stored: a 1 GB request line
// with no LF is refused at byte max_request_line + 1, not buffered.
template <typename Message>
Error HttpHeadParser<Message>::take_byte(uint8_t byte) {
  if (++head_size_ > limits_.max_head_size) return Error::kHttpRequestTooLarge;
  if (after_cr_) {
    after_cr_ = false;
    // A CR is only ever the first half of CR LF.
    return byte == '\n' ? end_of_line() : Error::kHttpMalformed;
  }
  if (byte == '\r') {
    after_cr_ = true;
    return Error::kNone;
  }
  // RFC 7230 §3.5: "a recipient MAY recognize a single LF as a line terminator".
  if (byte == '\n') return end_of_line();

  // A start line begins with a token (a method, or "HTTP"): any other first
  // byte means this is not HTTP at all, and waiting for a line end would let
  // garbage hold the connection until a deadline.
  if (state_ == State::kStartLine && line_.empty() && !is_tchar(byte)) {
    return Error::kHttpMalformed;
  }
  const bool in_headers = state_ == State::kHeaders;
  if (is_forbidden_control(byte)) {
    return in_headers ? Error::kHttpBadHeaderByte : Error::kHttpMalformed;
  }
  if (line_.size() == (in_headers ? limits_.max_header_line : limits_.max_request_line)) {
    return in_headers ? Error::kHttpHeaderTooLarge : Error::kHttpRequestLineTooLong;
  }
  line_.push_back(static_cast<char>(byte));
  return Error::kNone;
}
//< http.take-byte

//> http.end-of-line
template <typename Message>
Error HttpHeadParser<Message>::end_of_line() {
  Error error = Error::kNone;
  if (state_ == State::kStartLine) {
    // RFC 7230 §3.5: a server "SHOULD ignore at least one empty line (CRLF)
    // received prior to the request-line". They count toward max_head_size,
    // which is what bounds them.
    if (!line_.empty()) {
      error = parse_start_line(line_, message_);
      if (error == Error::kNone) state_ = State::kHeaders;
    }
  } else if (line_.empty()) {
    state_ = State::kDone;  // the empty line that ends the head
  } else {
    error = add_header_line(line_);
  }
  line_.clear();
  return error;
}
//< http.end-of-line

//> http.header-line
template <typename Message>
Error HttpHeadParser<Message>::add_header_line(std::string_view line) {
  // RFC 9112 §5.2: a server MUST reject an obs-fold with 400 "preferably
  // with a representation explaining that obsolete line folding is
  // unacceptable" (or unfold it): its own error says so. A space before the
  // very first header is §2.2's case instead, malformed.
  bool folded = line[0] == ' ' || line[0] == '\t';
  if (folded && !message_.headers.empty()) return Error::kHttpObsFold;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Error::kHttpMalformed;
  // The name must be a token (RFC 9110 §5.1). That one rule refuses
  // - empty names, "X(y)" and "é";
  // - "Host : a": RFC 9112 §5.1, "A server MUST reject, with a response
  //   status code of 400 (Bad Request), any received request message that
  //   contains whitespace between a header field name and colon";
  // - " X: a" as the first header: §2.2, whitespace between the start line
  //   and the first field line (a recipient "MUST either reject the message
  //   as invalid or consume each whitespace-preceded line").
  std::string_view name = line.substr(0, colon);
  if (!is_token(name)) return Error::kHttpMalformed;
  if (message_.headers.size() == limits_.max_headers) return Error::kHttpTooManyHeaders;
  message_.headers.push_back({std::string(name), std::string(trim(line.substr(colon + 1)))});
  return Error::kNone;
}
//< http.header-line

template <typename Message>
void HttpHeadParser<Message>::reset() {
  message_ = Message{};
  state_ = State::kStartLine;
  line_.clear();
  after_cr_ = false;
  head_size_ = 0;
  error_ = Error::kNone;
}

// The two parsers the rest of the library uses (declared extern in the header).
template class HttpHeadParser<HttpRequest>;
template class HttpHeadParser<HttpResponse>;

// ---- headers and token lists -------------------------------------------------

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

//> http.token-list
std::vector<std::string_view> split_list(std::string_view list) {
  std::vector<std::string_view> elements;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view element = trim(list.substr(0, comma));
    if (!element.empty()) elements.push_back(element);  // RFC 7230 §7: "a, , b" has 2
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return elements;
}

bool list_has_token(std::string_view list, std::string_view token) {
  for (std::string_view element : split_list(list)) {
    if (equals_ignore_case(element, token)) return true;
  }
  return false;
}

// Firefox sends "Connection: keep-alive, Upgrade"; a proxy may split one
// list over several headers (RFC 7230 §3.2.2): look in every one of them.
bool HttpHead::header_has_token(std::string_view name, std::string_view token) const {
  for (std::string_view value : header_values(name)) {
    if (list_has_token(value, token)) return true;
  }
  return false;
}
//< http.token-list

const std::string* HttpHead::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (equals_ignore_case(h.name, name)) return &h.value;
  }
  return nullptr;
}

std::vector<std::string_view> HttpHead::header_values(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const HttpHeader& h : headers) {
    if (equals_ignore_case(h.name, name)) values.push_back(h.value);
  }
  return values;
}

std::string_view HttpRequest::path() const {
  // A request built by hand (tests, the client) has no decoded path yet.
  if (decoded_path.empty()) return std::string_view(target).substr(0, target.find('?'));
  return decoded_path;
}

bool percent_decode(std::string_view in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int high = hex_value(in[i + 1]), low = hex_value(in[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

//> http.authority
bool is_valid_authority(std::string_view authority) {
  // unreserved / sub-delims, and ":" "[" "]" for the port and an IPv6
  // literal. Stricter than RFC 3986 in three ways: no "@" (userinfo), no ","
  // (two Host values joined by a proxy look like "a, b"), no "%" escapes (no
  // real host name needs them).
  constexpr std::string_view kOther = "-._~!$&'()*+;=";
  std::string_view host = authority, port;
  if (authority.starts_with('[')) {  // IP-literal: "[::1]:8000"
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return false;
    port = after.empty() ? after : after.substr(1);
    host = authority.substr(1, close - 1);
    if (!std::all_of(host.begin(), host.end(), [](char c) {
          return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                 c == '.';
        })) {
      return false;
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (!std::all_of(host.begin(), host.end(), [&](char c) {
          return is_digit(c) || is_alpha(c) || kOther.find(c) != std::string_view::npos;
        })) {
      return false;
    }
  }
  return !host.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), is_digit);
}
//< http.authority

std::string_view HttpRequest::query() const {
  size_t mark = target.find('?');
  return mark == std::string::npos ? std::string_view() : std::string_view(target).substr(mark + 1);
}

}  // namespace ws
