// EXERCISE SKELETON for chapter 02 (tutorial/02-http-parser.md): src/protocol/http_parser.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=02
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/protocol/http_parser.cpp 02-http-parser.md
// HTTP/1.1 head parsing, one byte at a time (see http_parser.h).
// The byte loop, the limits and the header lines are shared; only the start
// line differs between a request and a response. RFC 9112 §2-§5 (the
// comments cite RFC 7230 where its words are the same ones RFC 9112 kept).
#include "openpipe/protocol/http_parser.h"
#include "todo.h"  // todo(): what every stub below calls

#include <algorithm>

namespace ws {
namespace {

// RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
//                          / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA

// RFC 7230 §1.2 (from RFC 5234): CTL = %x00-1F / %x7F. HTAB is the one
// control a header value may hold (OWS = *( SP / HTAB )).

// RFC 7230 §3.2.3: OWS = *( SP / HTAB ), around values and list elements.

// RFC 7230 §2.6: HTTP-version = HTTP-name "/" DIGIT "." DIGIT

// The path is decoded once, here, before anything routes by it. What could
// climb out of a directory is refused whatever its spelling: "/../x",
// "/%2e%2e/x", "/..%2fx" (an encoded slash is a slash once decoded). Double
// encoding is no way around it: "%252e%252e" decodes once, to the harmless
// name "%2e%2e", and nothing decodes it again.

// RFC 9112 §3.2: which of the four forms the target has, and the method it
// goes with. origin-form for everything a browser sends; absolute-form
// ("http://host/path", from a proxy) routes by its path like origin-form;
// authority-form only with CONNECT, asterisk-form only with OPTIONS.

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version
// Exactly one space between the parts: "GET  / HTTP/1.1" is malformed.

// RFC 7230 §3.1.2: status-line = HTTP-version SP status-code SP reason-phrase
// status-code is 3DIGIT; the reason may hold spaces or be empty, and we also
// accept "HTTP/1.1 101" with no space after the code (a common slip).

}  // namespace

// ---- the shared head parser --------------------------------------------------

template <typename Message>
ParseResult HttpHeadParser<Message>::feed(std::span<const uint8_t> data) {
  (void)data;
  todo("feed (tutorial/02-http-parser.md, region http.feed)");
}

// Every byte passes the limits *before* it is stored: a 1 GB request line
// with no LF is refused at byte max_request_line + 1, not buffered.
template <typename Message>
Error HttpHeadParser<Message>::take_byte(uint8_t byte) {
  (void)byte;
  todo("take_byte (tutorial/02-http-parser.md, region http.take-byte)");
}

template <typename Message>
Error HttpHeadParser<Message>::end_of_line() {
  todo("end_of_line (tutorial/02-http-parser.md, region http.end-of-line)");
}

template <typename Message>
Error HttpHeadParser<Message>::add_header_line(std::string_view line) {
  (void)line;
  todo("add_header_line (tutorial/02-http-parser.md, region http.header-line)");
}

template <typename Message>
void HttpHeadParser<Message>::reset() {
  todo("reset (tutorial/02-http-parser.md)");
}

// The two parsers the rest of the library uses (declared extern in the header).
template class HttpHeadParser<HttpRequest>;
template class HttpHeadParser<HttpResponse>;

// ---- headers and token lists -------------------------------------------------

bool equals_ignore_case(std::string_view a, std::string_view b) {
  (void)a;
  (void)b;
  todo("equals_ignore_case (tutorial/02-http-parser.md)");
}

std::vector<std::string_view> split_list(std::string_view list) {
  (void)list;
  todo("split_list (tutorial/02-http-parser.md, region http.token-list)");
}

bool list_has_token(std::string_view list, std::string_view token) {
  (void)list;
  (void)token;
  todo("list_has_token (tutorial/02-http-parser.md, region http.token-list)");
}

// Firefox sends "Connection: keep-alive, Upgrade"; a proxy may split one
// list over several headers (RFC 7230 §3.2.2): look in every one of them.
bool HttpHead::header_has_token(std::string_view name, std::string_view token) const {
  (void)name;
  (void)token;
  todo("HttpHead::header_has_token (tutorial/02-http-parser.md, region http.token-list)");
}

const std::string* HttpHead::header(std::string_view name) const {
  (void)name;
  todo("HttpHead::header (tutorial/02-http-parser.md)");
}

std::vector<std::string_view> HttpHead::header_values(std::string_view name) const {
  (void)name;
  todo("HttpHead::header_values (tutorial/02-http-parser.md)");
}

std::string_view HttpRequest::path() const {
  todo("HttpRequest::path (tutorial/02-http-parser.md)");
}

bool percent_decode(std::string_view in, std::string& out) {
  (void)in;
  (void)out;
  todo("percent_decode (tutorial/02-http-parser.md)");
}

bool is_valid_authority(std::string_view authority) {
  (void)authority;
  todo("is_valid_authority (tutorial/02-http-parser.md, region http.authority)");
}

std::string_view HttpRequest::query() const {
  todo("HttpRequest::query (tutorial/02-http-parser.md)");
}

}  // namespace ws
