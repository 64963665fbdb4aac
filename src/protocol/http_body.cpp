// Request framing and body decoding (see http_body.h). RFC 9112 §3.2, §6, §7.1.
#include "openpipe/protocol/http_body.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

namespace ws {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_digit(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

//> http-body.host
// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code
// to any HTTP/1.1 request message that lacks a Host header field and to any
// request message that contains more than one Host header field line or a
// Host header field with an invalid field value." Two Host lines are the
// classic way to make a proxy and a server disagree about the site asked for.
Error check_host(const HttpRequest& request) {
  std::vector<std::string_view> hosts = request.header_values("Host");
  if (hosts.size() > 1) return Error::kHttpBadHost;
  if (hosts.empty()) return request.version_minor >= 1 ? Error::kHttpBadHost : Error::kNone;
  // An empty value is allowed: "If the authority component is missing or
  // undefined for the target URI, then a client MUST send a Host header
  // field with an empty field value."
  if (!hosts[0].empty() && !is_valid_authority(hosts[0])) return Error::kHttpBadHost;
  return Error::kNone;
}
//< http-body.host

//> http-body.content-length
// RFC 9110 §8.6: Content-Length = 1*DIGIT. A list of identical values
// ("42, 42", or two lines saying 42) may be taken as one; anything else ("+5",
// "0x10", " 4 2", "42, 43") is "an unrecoverable error" (RFC 9112 §6.3 item 5).
Error parse_content_length(const HttpRequest& request, uint64_t& length) {
  bool seen = false;
  for (std::string_view value : request.header_values("Content-Length")) {
    std::vector<std::string_view> items = split_list(value);
    if (items.empty()) return Error::kHttpBadContentLength;
    for (std::string_view item : items) {
      // 19 digits always fit in 64 bits: longer is refused before it overflows.
      if (item.size() > 19 || !std::all_of(item.begin(), item.end(), is_digit)) {
        return Error::kHttpBadContentLength;
      }
      uint64_t number = 0;
      for (char c : item) number = number * 10 + static_cast<uint64_t>(c - '0');
      if (seen && number != length) return Error::kHttpBadContentLength;
      length = number;
      seen = true;
    }
  }
  return Error::kNone;
}
//< http-body.content-length

//> http-body.transfer-encoding
// RFC 9112 §6.1, §6.3 items 3-4: chunked is the one coding we decode.
Error check_transfer_encoding(const HttpRequest& request) {
  // §6.1: "A server or client that receives an HTTP/1.0 message containing a
  // Transfer-Encoding header field MUST treat the message as if the framing
  // is faulty". HTTP/1.0 had no transfer codings.
  if (request.version_minor == 0) return Error::kHttpBadTransferEncoding;
  std::vector<std::string_view> codings;
  for (std::string_view value : request.header_values("Transfer-Encoding")) {
    for (std::string_view coding : split_list(value)) codings.push_back(coding);
  }
  // §6.3 item 4: "If a Transfer-Encoding header field is present in a
  // request and the chunked transfer coding is not the final encoding, ...
  // the server MUST respond with the 400 (Bad Request)". §7: chunked may not
  // be applied twice.
  if (codings.empty() || !equals_ignore_case(codings.back(), "chunked")) {
    return Error::kHttpBadTransferEncoding;
  }
  codings.pop_back();
  for (std::string_view coding : codings) {
    if (equals_ignore_case(coding, "chunked")) return Error::kHttpBadTransferEncoding;
  }
  // §6.1: "A server that receives a request message with a transfer coding
  // it does not understand SHOULD respond with 501 (Not Implemented)."
  return codings.empty() ? Error::kNone : Error::kHttpUnknownCoding;
}
//< http-body.transfer-encoding

}  // namespace

//> http-body.check-head
Error check_request_head(const HttpRequest& request, const HttpLimits& limits,
                         BodyFraming& framing) {
  framing = {};
  // RFC 9112 §2.3: the major version names the message's syntax, and "HTTP/2.0"
  // or "HTTP/0.9" in a request line is not HTTP/1.x. RFC 9110 §15.6.6: 505 says
  // the server does not support that major version. A higher minor version
  // (HTTP/1.2) is HTTP/1.1 to us: §2.3 lets a server answer with its own.
  if (request.version_major != 1) return Error::kHttpVersionNotSupported;
  if (Error error = check_host(request); error != Error::kNone) return error;
  if (request.method == "CONNECT") return Error::kHttpConnectRefused;  // §3.2.3: for proxies
  bool chunked = request.header("Transfer-Encoding") != nullptr;
  bool length = request.header("Content-Length") != nullptr;
  // §6.3 item 3: both headers "might indicate an attempt to perform request
  // smuggling ... or response splitting and ought to be handled as an error".
  // Two parsers that pick different ones see two different messages.
  if (chunked && length) return Error::kHttpLengthAndChunked;
  if (chunked) {
    if (Error error = check_transfer_encoding(request); error != Error::kNone) return error;
    framing.kind = BodyKind::kChunked;
  } else if (length) {
    if (Error error = parse_content_length(request, framing.length); error != Error::kNone) {
      return error;
    }
    framing.kind = framing.length > 0 ? BodyKind::kLength : BodyKind::kNone;
    // Refused before a byte of it is read: 413 (RFC 9110 §15.5.14).
    if (framing.length > limits.max_body_size) return Error::kHttpBodyTooLarge;
  }
  return Error::kNone;
}
//< http-body.check-head

bool has_body(const HttpRequest& request) {
  if (request.header("Transfer-Encoding")) return true;
  const std::string* length = request.header("Content-Length");
  return length && *length != "0";
}

// ---- reading the body ------------------------------------------------------

HttpBodyDecoder::HttpBodyDecoder(BodyFraming framing, uint64_t max_size, const HttpLimits& limits)
    : limits_(limits),
      kind_(framing.kind),
      state_(framing.kind == BodyKind::kChunked ? State::kSize
             : framing.length > 0               ? State::kData
                                                : State::kDone),
      max_size_(max_size),
      remaining_(framing.kind == BodyKind::kLength ? framing.length : 0) {
  if (kind_ == BodyKind::kLength && framing.length > max_size_) {
    state_ = State::kFailed;
    error_ = Error::kHttpBodyTooLarge;
  }
}

//> http-body.feed
ParseResult HttpBodyDecoder::feed(std::span<const uint8_t> data, std::string& body) {
  size_t i = 0;
  while (state_ != State::kDone && state_ != State::kFailed && i < data.size()) {
    if (state_ == State::kData) {
      // Data is copied in runs, not byte by byte: only framing is parsed.
      size_t run = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
      body.append(reinterpret_cast<const char*>(data.data() + i), run);
      i += run;
      size_ += run;
      remaining_ -= run;
      if (remaining_ == 0) state_ = kind_ == BodyKind::kLength ? State::kDone : State::kDataCr;
      continue;
    }
    if (Error error = take_byte(data[i++]); error != Error::kNone) {
      state_ = State::kFailed;
      error_ = error;
      return {ParseStatus::kError, i, error};
    }
  }
  if (state_ == State::kFailed) return {ParseStatus::kError, 0, error_};
  if (state_ == State::kDone) return {ParseStatus::kOk, i, Error::kNone};
  return {ParseStatus::kNeedMore, i, Error::kNone};
}
//< http-body.feed

//> http-body.chunk-framing
// RFC 9112 §7.1:
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   last-chunk   = 1*("0") [ chunk-ext ] CRLF
// Line ends are CR LF, strictly: §2.2's leniency for a bare LF covers the
// start line and fields, and a body is where lenient framing is smuggled.
Error HttpBodyDecoder::take_byte(uint8_t byte) {
  switch (state_) {
    case State::kSize:
    case State::kExtension:
      if (byte == '\r' && digits_ > 0) {
        state_ = State::kSizeLf;
        return Error::kNone;
      }
      if (++line_length_ > limits_.max_chunk_line) return Error::kHttpBadChunk;
      if (int digit = hex_digit(byte); digit >= 0 && state_ == State::kSize) {
        // A bound on the digits keeps the size in 64 bits ("0000...1" too).
        if (++digits_ > limits_.max_chunk_size_digits) return Error::kHttpBadChunk;
        remaining_ = remaining_ * 16 + static_cast<uint64_t>(digit);
        return Error::kNone;
      }
      if (digits_ == 0) return Error::kHttpBadChunk;  // chunk-size = 1*HEXDIG
      state_ = State::kExtension;
      // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): it starts
      // with ";" after optional spaces, is bounded by max_chunk_line, and is
      // ignored ("A recipient MUST ignore unrecognized chunk extensions").
      if (byte == ';') in_extension_ = true;
      if (!in_extension_ && byte != ' ' && byte != '\t') return Error::kHttpBadChunk;
      if ((byte < 0x20 && byte != '\t') || byte == 0x7F) return Error::kHttpBadChunk;
      return Error::kNone;
    case State::kSizeLf:
      if (byte != '\n') return Error::kHttpBadChunk;
      return end_chunk_size();
    case State::kDataCr:
      if (byte != '\r') return Error::kHttpBadChunk;  // data longer than its size said
      state_ = State::kDataLf;
      return Error::kNone;
    case State::kDataLf:
      if (byte != '\n') return Error::kHttpBadChunk;
      state_ = State::kSize;
      return Error::kNone;
    case State::kTrailer:
      if (++trailer_size_ > limits_.max_trailer_size) return Error::kHttpTrailerTooLarge;
      if (byte == '\r') {
        state_ = State::kTrailerLf;
      } else if ((byte < 0x20 && byte != '\t') || byte == 0x7F) {
        return Error::kHttpBadChunk;
      } else {
        trailer_line_.push_back(static_cast<char>(byte));
      }
      return Error::kNone;
    case State::kTrailerLf:
      if (byte != '\n') return Error::kHttpBadChunk;
      return end_trailer_line();
    default: return Error::kHttpBadChunk;
  }
}

Error HttpBodyDecoder::end_chunk_size() {
  line_length_ = 0;
  digits_ = 0;
  in_extension_ = false;
  if (remaining_ == 0) {  // last-chunk: the trailer section follows
    state_ = State::kTrailer;
    return Error::kNone;
  }
  // The limit is checked on the declared size, before any of its data.
  if (remaining_ > max_size_ - size_) return Error::kHttpBodyTooLarge;
  state_ = State::kData;
  return Error::kNone;
}

Error HttpBodyDecoder::end_trailer_line() {
  if (trailer_line_.empty()) {
    state_ = State::kDone;  // the empty line: the message ends here
    return Error::kNone;
  }
  // A trailer line is a field line (§7.1.2): "name: value", name a token.
  size_t colon = trailer_line_.find(':');
  std::string_view name = std::string_view(trailer_line_).substr(0, colon);
  bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
  if (colon == std::string::npos || !token) return Error::kHttpBadChunk;
  trailer_line_.clear();
  state_ = State::kTrailer;
  return Error::kNone;
}
//< http-body.chunk-framing

}  // namespace ws
