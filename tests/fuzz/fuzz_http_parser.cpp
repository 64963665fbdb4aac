// Fuzz harness (libFuzzer) for the HTTP head parser of chapter 02
// (src/protocol/http_parser.cpp). It feeds the input split into two or three
// pieces at positions taken from the input, and checks what the parser
// promises in http_parser.h: consumed <= size, a status that agrees with
// itself, limits that hold on every accepted head, and the same answer
// however the bytes were split, and reset() that makes a parser as good as
// new. On every accepted request it also checks the header lookups and runs
// the opening handshake of chapter 03 (src/protocol/handshake.cpp): a 101
// with a 28-character accept key, or a 400/405/426. Build and run it with
// `make fuzz` (tutorial/15-hostile-clients.md); a crash report names the
// invariant that broke.
//
// Input layout:  [split1:2][split2:2][limits:1][request bytes...]
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "openpipe/protocol/handshake.h"
#include "openpipe/protocol/http_parser.h"

namespace {

using namespace ws;

// A broken invariant is a crash: libFuzzer saves the input that caused it.
#define FUZZ_CHECK(condition, what)                                          \
  do {                                                                       \
    if (!(condition)) {                                                      \
      std::fprintf(stderr, "invariant broken: %s (%s)\n", what, #condition); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

// Two sets of limits: the defaults, and tiny ones that short inputs can reach.
HttpLimits pick_limits(uint8_t selector) {
  if ((selector & 1) == 0) return HttpLimits{};
  HttpLimits tiny;
  tiny.max_request_line = 40;
  tiny.max_header_line = 32;
  tiny.max_headers = 4;
  tiny.max_head_size = 200;
  return tiny;
}

// What one complete parse produced, to compare a split parse with a whole one.
template <typename Message>
struct Outcome {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;  // total over every piece
  Error error = Error::kNone;
  Message message;
};

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// Checks everything a finished head must satisfy, whatever the input was.
void check_head(const HttpHead& head, const HttpLimits& limits) {
  FUZZ_CHECK(head.headers.size() <= limits.max_headers, "no more headers than max_headers");
  for (const HttpHeader& h : head.headers) {
    FUZZ_CHECK(!h.name.empty(), "a header name is never empty");
    FUZZ_CHECK(h.name.size() + 1 + h.value.size() <= limits.max_header_line,
               "a header line fits max_header_line");
    for (char c : h.name) {
      FUZZ_CHECK(c > 0x20 && c < 0x7F && c != ':', "a header name is a token");
    }
    for (char c : h.value) {
      auto byte = static_cast<unsigned char>(c);
      FUZZ_CHECK(byte == '\t' || (byte >= 0x20 && byte != 0x7F), "no control byte in a value");
    }
    if (!h.value.empty()) {
      FUZZ_CHECK(!is_ows(h.value.front()) && !is_ows(h.value.back()), "values are trimmed");
    }
  }
}

void check_request(const HttpRequest& request, const HttpLimits& limits) {
  check_head(request, limits);
  FUZZ_CHECK(!request.method.empty(), "an accepted request has a method");
  FUZZ_CHECK(!request.target.empty(), "an accepted request has a target");
  FUZZ_CHECK(request.method.size() + request.target.size() + 10 <= limits.max_request_line,
             "the request line fits max_request_line");
  for (char c : request.target) {
    auto byte = static_cast<unsigned char>(c);
    FUZZ_CHECK(byte > 0x20 && byte < 0x7F, "the target is visible ASCII");
  }
  FUZZ_CHECK(request.path().size() + request.query().size() <= request.target.size(),
             "path and query are parts of the target");
}

void check_response(const HttpResponse& response, const HttpLimits& limits) {
  check_head(response, limits);
  FUZZ_CHECK(response.status >= 0 && response.status <= 999, "a status has three digits");
}

void check_request_outcome(const Outcome<HttpRequest>& o, const HttpLimits& l, size_t size) {
  FUZZ_CHECK(o.consumed <= size, "consumed <= size");
  FUZZ_CHECK(o.consumed <= l.max_head_size + 1, "no more than max_head_size (+1 to see it) taken");
  if (o.status == ParseStatus::kOk) check_request(o.message, l);
}

void check_response_outcome(const Outcome<HttpResponse>& o, const HttpLimits& l, size_t size) {
  FUZZ_CHECK(o.consumed <= size, "consumed <= size");
  if (o.status == ParseStatus::kOk) check_response(o.message, l);
}

// Feeds `pieces` one after the other, checking each result on its own.
template <typename Parser, typename Message, typename Get>
Outcome<Message> parse(const HttpLimits& limits,
                       const std::vector<std::span<const uint8_t>>& pieces, Get get) {
  Parser parser(limits);
  Outcome<Message> outcome;
  bool finished = false;
  for (std::span<const uint8_t> piece : pieces) {
    ParseResult r = parser.feed(piece);
    FUZZ_CHECK(r.consumed <= piece.size(), "consumed <= size of this piece");
    if (finished) {
      // After kOk or kError the parser takes nothing more and repeats itself.
      FUZZ_CHECK(r.consumed == 0, "nothing consumed after the end");
      FUZZ_CHECK(r.status == outcome.status && r.error == outcome.error, "the status sticks");
      continue;
    }
    outcome.consumed += r.consumed;
    outcome.status = r.status;
    outcome.error = r.error;
    switch (r.status) {
      case ParseStatus::kNeedMore:
        FUZZ_CHECK(r.consumed == piece.size(), "kNeedMore takes every byte");
        FUZZ_CHECK(r.error == Error::kNone, "kNeedMore carries no error");
        break;
      case ParseStatus::kOk:
        FUZZ_CHECK(r.error == Error::kNone, "kOk carries no error");
        FUZZ_CHECK(r.consumed > 0, "kOk is reached by a byte");
        finished = true;
        break;
      case ParseStatus::kError: {
        FUZZ_CHECK(r.error != Error::kNone, "kError says why");
        FUZZ_CHECK(r.consumed > 0, "the byte that proved the error is counted");
        int status = http_status(r.error);
        FUZZ_CHECK(status == 400 || status == 414 || status == 431,
                   "a parse error answers 400, 414 or 431");
        finished = true;
        break;
      }
    }
  }
  if (outcome.status == ParseStatus::kOk) outcome.message = get(parser);
  return outcome;
}

bool same_head(const HttpHead& a, const HttpHead& b) {
  if (a.version_major != b.version_major || a.version_minor != b.version_minor) return false;
  if (a.headers.size() != b.headers.size()) return false;
  for (size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) {
      return false;
    }
  }
  return true;
}

// The lookups the handshake relies on, and the handshake itself, on every
// request the parser accepted (chapters 02 and 03).
void check_lookups_and_handshake(const HttpRequest& request) {
  for (const HttpHeader& h : request.headers) {
    std::string upper = h.name;
    for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    const std::string* found = request.header(upper);
    FUZZ_CHECK(found != nullptr, "header() finds every header, whatever its case");
    FUZZ_CHECK(*found == request.header_values(h.name).front(), "header() is the first value");
    for (std::string_view element : split_list(h.value)) {
      FUZZ_CHECK(!element.empty(), "split_list drops empty elements");
      FUZZ_CHECK(!is_ows(element.front()) && !is_ows(element.back()), "elements are trimmed");
      FUZZ_CHECK(element.find(',') == std::string_view::npos, "an element holds no comma");
      FUZZ_CHECK(request.header_has_token(h.name, element), "every element is a token of its list");
    }
  }
  static const std::vector<std::string> kOurs = {"chat", "superchat"};
  Handshake handshake = validate_client_handshake(request, kOurs);
  if (handshake.error == Error::kNone) {
    FUZZ_CHECK(is_websocket_upgrade(request), "an accepted handshake asked for websocket");
    FUZZ_CHECK(handshake.accept_key.size() == 28, "base64 of 20 SHA-1 bytes is 28 characters");
    FUZZ_CHECK(handshake.subprotocol.empty() || handshake.subprotocol == "chat" ||
                   handshake.subprotocol == "superchat",
               "RFC 6455 §4.2.2: the subprotocol is one the server offered");
    std::string response = build_accept_response(handshake);
    FUZZ_CHECK(response.starts_with("HTTP/1.1 101 ") && response.ends_with("\r\n\r\n"),
               "a 101 with a complete head");
  } else {
    int status = http_status(handshake.error);
    FUZZ_CHECK(status == 400 || status == 405 || status == 426, "a refusal is 400, 405 or 426");
    FUZZ_CHECK(
        build_error_response(handshake.error).starts_with("HTTP/1.1 " + std::to_string(status)),
        "the error response carries its status");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const size_t n = size - 5;
  std::span<const uint8_t> bytes(data + 5, n);
  size_t a = ((size_t{data[0]} << 8) | data[1]) % (n + 1);
  size_t b = ((size_t{data[2]} << 8) | data[3]) % (n + 1);
  if (a > b) std::swap(a, b);
  const HttpLimits limits = pick_limits(data[4]);

  //> fuzz.http-split
  const std::vector<std::span<const uint8_t>> whole = {bytes};
  const std::vector<std::span<const uint8_t>> split = {bytes.first(a), bytes.subspan(a, b - a),
                                                       bytes.subspan(b)};

  auto get_request = [](const HttpRequestParser& p) { return p.request(); };
  auto one = parse<HttpRequestParser, HttpRequest>(limits, whole, get_request);
  auto three = parse<HttpRequestParser, HttpRequest>(limits, split, get_request);
  check_request_outcome(one, limits, n);
  check_request_outcome(three, limits, n);
  // Splitting the bytes must not change the answer (muduo's test, done by a fuzzer).
  FUZZ_CHECK(one.status == three.status, "same status however the input is split");
  FUZZ_CHECK(one.consumed == three.consumed, "same consumed however the input is split");
  FUZZ_CHECK(one.error == three.error, "same error however the input is split");
  if (one.status == ParseStatus::kOk) {
    FUZZ_CHECK(one.message.method == three.message.method, "same method");
    FUZZ_CHECK(one.message.target == three.message.target, "same target");
    FUZZ_CHECK(same_head(one.message, three.message), "same headers");
  }
  //< fuzz.http-split
  if (one.status == ParseStatus::kOk) check_lookups_and_handshake(one.message);

  // reset() gives a parser as good as new: the same bytes, the same answer.
  HttpRequestParser reused(limits);
  reused.feed(bytes.first(a));
  reused.reset();
  ParseResult again = reused.feed(bytes);
  FUZZ_CHECK(
      again.status == one.status && again.consumed == one.consumed && again.error == one.error,
      "after reset() the parser answers as a fresh one");

  // The response parser shares the line machinery: the same bytes, the same rules.
  auto get_response = [](const HttpResponseParser& p) { return p.response(); };
  auto r1 = parse<HttpResponseParser, HttpResponse>(limits, whole, get_response);
  auto r3 = parse<HttpResponseParser, HttpResponse>(limits, split, get_response);
  check_response_outcome(r1, limits, n);
  check_response_outcome(r3, limits, n);
  FUZZ_CHECK(r1.status == r3.status && r1.consumed == r3.consumed && r1.error == r3.error,
             "the response parser gives the same answer however the input is split");
  if (r1.status == ParseStatus::kOk) {
    FUZZ_CHECK(r1.message.status == r3.message.status && same_head(r1.message, r3.message),
               "same response however the input is split");
  }
  return 0;
}
