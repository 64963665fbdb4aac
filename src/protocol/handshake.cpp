// The opening handshake (see handshake.h): the checks on a client's request,
// the accept key, the 101 and error responses, and the client's side of it.
// The only file of the library that uses libcrypto (for SHA-1). RFC 6455 §4.
#include "openpipe/protocol/handshake.h"

#include <openssl/sha.h>

#include <string>

#include "openpipe/protocol/http_body.h"

namespace ws {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// How many bytes a base64 text decodes to, or -1 if it is not base64 as
// RFC 4648 §4 writes it: groups of 4 letters of the alphabet, with 1 or 2
// '=' of padding only at the very end.
long base64_decoded_size(std::string_view text) {
  if (text.size() % 4 != 0) return -1;
  size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (kBase64Alphabet.find(text[i]) == std::string_view::npos) return -1;
  }
  return static_cast<long>(text.size() / 4 * 3 - padding);
}

bool version_at_least_1_1(const HttpHead& head) {
  return head.version_major > 1 || (head.version_major == 1 && head.version_minor >= 1);
}

//> handshake.key-check
// RFC 6455 §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a
// base64-encoded ... value that, when decoded, is 16 bytes in length."
// Sent twice, the two copies must agree: which one would we answer?
bool has_valid_key(const HttpRequest& request) {
  std::vector<std::string_view> keys = request.header_values("Sec-WebSocket-Key");
  if (keys.empty() || !is_valid_client_key(keys[0])) return false;
  for (std::string_view key : keys) {
    if (key != keys[0]) return false;
  }
  return true;
}
//< handshake.key-check

//> handshake.checks
// The order of the checks, and so which error a request with several faults
// gets: method, HTTP version, Host, Upgrade, Connection, Sec-WebSocket-Version,
// Sec-WebSocket-Key. It follows RFC 6455 §4.2.1 except for one swap: once
// Upgrade and Connection say "this is a WebSocket", the version comes before
// the key. A client speaking another version may shape its key differently,
// and what helps it is the 426 naming version 13 (§4.4), not a 400 about a key.
Error check_client_request(const HttpRequest& request) {
  // §4.2.1 item 1: "An HTTP/1.1 or higher GET request". Methods are
  // case-sensitive (RFC 7230 §3.1.1): "get" is not GET.
  if (request.method != "GET") return Error::kHandshakeMethodNotGet;
  if (!version_at_least_1_1(request)) return Error::kHandshakeHttpVersion;
  // Item 2: "A |Host| header field containing the server's authority." RFC
  // 7230 §5.4 answers 400 to a request with none, or with more than one.
  std::vector<std::string_view> hosts = request.header_values("Host");
  if (hosts.size() != 1 || hosts[0].empty()) return Error::kHandshakeMissingHost;
  // Item 3: "An |Upgrade| header field containing the value "websocket",
  // treated as an ASCII case-insensitive value."
  if (!request.header_has_token("Upgrade", "websocket")) return Error::kHandshakeBadUpgrade;
  // Item 4: "A |Connection| header field that includes the token "Upgrade",
  // treated as an ASCII case-insensitive value."
  if (!request.header_has_token("Connection", "Upgrade")) return Error::kHandshakeBadConnection;
  // RFC 9112 §6: the request ends where its body ends, and the frames start
  // there. A body on an upgrade makes the two sides disagree about where the
  // WebSocket begins (some read it as HTTP, some as frames): refused.
  if (has_body(request)) return Error::kHandshakeHasBody;
  // Item 6: "A |Sec-WebSocket-Version| header field, with a value of 13."
  // Exactly one: it "MUST NOT appear more than once in an HTTP request" (§11.3.5).
  std::vector<std::string_view> versions = request.header_values("Sec-WebSocket-Version");
  if (versions.size() != 1 || versions[0] != kWebSocketVersion) return Error::kHandshakeBadVersion;
  // Item 5, the key.
  if (!has_valid_key(request)) return Error::kHandshakeBadKey;
  return Error::kNone;
}
//< handshake.checks

//> handshake.subprotocol
// RFC 6455 §4.2.2 /subprotocol/: "The value chosen MUST be derived from the
// client's handshake, specifically by selecting one of the values from the
// |Sec-WebSocket-Protocol| field that the server is willing to use".
// The server's order wins. The client may send several such headers, each a
// comma list. Names are compared exactly: a browser checks our answer
// byte for byte against what it offered.
bool client_offers(const HttpRequest& request, std::string_view subprotocol) {
  for (std::string_view value : request.header_values("Sec-WebSocket-Protocol")) {
    for (std::string_view offered : split_list(value)) {
      if (offered == subprotocol) return true;
    }
  }
  return false;
}

std::string choose_subprotocol(const HttpRequest& request,
                               std::span<const std::string> server_subprotocols) {
  for (const std::string& candidate : server_subprotocols) {
    if (client_offers(request, candidate)) return candidate;
  }
  return {};  // none: the 101 carries no Sec-WebSocket-Protocol at all
}
//< handshake.subprotocol

// What build_error_response() says, in plain words, about each error.
std::string_view explain(Error error) {
  switch (error) {
    case Error::kHttpMalformed: return "The request is not valid HTTP/1.1.";
    case Error::kHttpBadHeaderByte: return "A header holds a control character or NUL.";
    case Error::kHttpRequestLineTooLong: return "The request line is too long.";
    case Error::kHttpHeaderTooLarge: return "A header line is too long.";
    case Error::kHttpTooManyHeaders: return "The request has too many headers.";
    case Error::kHttpRequestTooLarge: return "The request head is too large.";
    case Error::kHttpObsFold:
      return "Obsolete line folding (a header line starting with a space) is refused.";
    case Error::kHttpBadTarget: return "The request-target's form does not fit the method.";
    case Error::kHttpBadPath: return "The path has a broken %-escape, a NUL or a \"..\" segment.";
    case Error::kHttpBadHost: return "An HTTP/1.1 request needs exactly one valid Host header.";
    case Error::kHttpBadContentLength: return "Content-Length must be one decimal number.";
    case Error::kHttpLengthAndChunked:
      return "Transfer-Encoding and Content-Length together are refused (request smuggling).";
    case Error::kHttpBadTransferEncoding: return "chunked must be the final transfer coding.";
    case Error::kHttpUnknownCoding: return "Only the chunked transfer coding is implemented.";
    case Error::kHttpBadChunk: return "The chunked body is malformed.";
    case Error::kHttpTrailerTooLarge: return "The chunked body's trailer fields are too large.";
    case Error::kHttpBodyTooLarge: return "The request body is too large.";
    case Error::kHttpLengthRequired: return "This resource needs a Content-Length.";
    case Error::kHttpConnectRefused: return "This server is not a proxy: CONNECT is not supported.";
    case Error::kHttpVersionNotSupported: return "This server speaks HTTP/1.1 (and 1.0).";
    case Error::kHandshakeHasBody:
      return "A WebSocket upgrade request must not carry a body: frames start after the head.";
    case Error::kHandshakeMethodNotGet: return "A WebSocket handshake must use GET.";
    case Error::kHandshakeHttpVersion: return "A WebSocket handshake needs HTTP/1.1 or later.";
    case Error::kHandshakeMissingHost: return "The request needs exactly one Host header.";
    case Error::kHandshakeBadUpgrade:
      return "This is a WebSocket endpoint: send \"Upgrade: websocket\".";
    case Error::kHandshakeBadConnection: return "The Connection header must include \"Upgrade\".";
    case Error::kHandshakeBadKey: return "Sec-WebSocket-Key must be base64 of 16 bytes, sent once.";
    case Error::kHandshakeBadVersion: return "This server speaks WebSocket version 13 only.";
    default: return "The server could not handle the request.";
  }
}

}  // namespace

// ---- the accept key (RFC 6455 §1.3, §4.2.2) ------------------------------------

//> handshake.base64
// RFC 4648 §4: every 3 bytes (24 bits) become 4 letters of 6 bits each; a
// last group of 1 or 2 bytes is padded with "==" or "=".
std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    size_t left = bytes.size() - i;  // 1, 2, or 3 and more
    uint32_t group = uint32_t{bytes[i]} << 16;
    if (left > 1) group |= uint32_t{bytes[i + 1]} << 8;
    if (left > 2) group |= bytes[i + 2];
    out += kBase64Alphabet[(group >> 18) & 0x3F];
    out += kBase64Alphabet[(group >> 12) & 0x3F];
    out += left > 1 ? kBase64Alphabet[(group >> 6) & 0x3F] : '=';
    out += left > 2 ? kBase64Alphabet[group & 0x3F] : '=';
  }
  return out;
}
//< handshake.base64

//> handshake.accept-key
// RFC 6455 §4.2.2 item 5.4: "concatenating /key/ ... with the string
// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", taking the SHA-1 hash of this
// concatenated value to obtain a 20-byte value and base64-encoding ... this
// 20-byte hash." The key is used as sent: it is never decoded.
std::string compute_accept_key(std::string_view client_key) {
  std::string joined;
  joined.reserve(client_key.size() + kWebSocketGuid.size());
  joined.append(client_key).append(kWebSocketGuid);
  uint8_t digest[SHA_DIGEST_LENGTH];  // 20 bytes
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  return base64_encode(digest);
}
//< handshake.accept-key

bool is_valid_client_key(std::string_view key) {
  return base64_decoded_size(key) == 16;
}

bool is_websocket_upgrade(const HttpRequest& request) {
  return request.header_has_token("Upgrade", "websocket");
}

// ---- server role ---------------------------------------------------------------

//> handshake.validate
Handshake validate_client_handshake(const HttpRequest& request,
                                    std::span<const std::string> server_subprotocols) {
  Handshake handshake;
  handshake.error = check_client_request(request);
  if (handshake.error != Error::kNone) return handshake;
  handshake.accept_key = compute_accept_key(*request.header("Sec-WebSocket-Key"));
  handshake.subprotocol = choose_subprotocol(request, server_subprotocols);
  // Sec-WebSocket-Extensions is not read here. RFC 6455 §9.1: the server
  // accepts some, or none, of what the client offered; the connection asks
  // the extension it knows (permessage-deflate, chapter 22) and adds its
  // answer to the 101.
  return handshake;
}
//< handshake.validate

//> handshake.accept-response
std::string build_accept_response(const Handshake& handshake, std::string_view extra_headers) {
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n";
  out.append("Sec-WebSocket-Accept: ").append(handshake.accept_key).append("\r\n");
  // §4.2.2: if no subprotocol was chosen, the server "MUST NOT send back a
  // |Sec-WebSocket-Protocol| header field in its response".
  if (!handshake.subprotocol.empty()) {
    out.append("Sec-WebSocket-Protocol: ").append(handshake.subprotocol).append("\r\n");
  }
  out.append(extra_headers).append("\r\n");  // the empty line: frames follow
  return out;
}
//< handshake.accept-response

//> handshake.reply-head
std::string build_reply_head(const HttpReply& reply, uint64_t content_length,
                             std::string_view connection) {
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " ";
  out.append(status_reason(reply.status)).append("\r\n");
  if (!reply.content_type.empty()) {
    out.append("Content-Type: ").append(reply.content_type).append("\r\n");
  }
  // RFC 9110 §8.6: no Content-Length on a 204, and on a 304 only the 200's
  // own: leaving it out is the simple way to be right.
  if (reply.status != 204 && reply.status != 304) {
    out.append("Content-Length: ").append(std::to_string(content_length)).append("\r\n");
  }
  if (!connection.empty()) out.append("Connection: ").append(connection).append("\r\n");
  out.append(reply.headers).append("\r\n");
  return out;
}
//< handshake.reply-head

std::string build_http_response(int status, std::string_view content_type, std::string_view body,
                                std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(status_reason(status)).append("\r\n");
  if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  // No keep-alive: after an answer that is not a 101 the connection is over.
  out.append("Connection: close\r\n");
  out.append(extra_headers).append("\r\n");
  out.append(body);
  return out;
}

//> handshake.error-response
std::string build_error_response(Error error) {
  int status = http_status(error);
  if (status == 0) status = 500;  // not an error of the head: a bug of ours
  std::string extra;
  // RFC 6455 §4.4: a server that does not support the client's version "MUST
  // respond with a |Sec-WebSocket-Version| header field ... containing all
  // versions it is willing to use".
  if (status == 426) extra = "Sec-WebSocket-Version: 13\r\n";
  // RFC 7231 §6.5.5: a 405 "MUST generate an Allow header field".
  if (status == 405) extra = "Allow: GET\r\n";
  std::string body(explain(error));
  body += '\n';
  return build_http_response(status, "text/plain; charset=utf-8", body, extra);
}
//< handshake.error-response

std::string_view status_reason(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";  // RFC 7230 §3.1.2: the reason phrase may be empty
  }
}

// ---- client role (RFC 6455 §4.1) ------------------------------------------------

std::string build_client_request(std::string_view host, std::string_view resource,
                                 std::string_view key, std::span<const std::string> subprotocols,
                                 std::string_view extra_headers) {
  std::string out;
  out.append("GET ").append(resource).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host).append("\r\n");
  out.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
  out.append("Sec-WebSocket-Key: ").append(key).append("\r\n");
  out.append("Sec-WebSocket-Version: ").append(kWebSocketVersion).append("\r\n");
  if (!subprotocols.empty()) {
    out.append("Sec-WebSocket-Protocol: ");
    for (size_t i = 0; i < subprotocols.size(); ++i) {
      if (i > 0) out.append(", ");
      out.append(subprotocols[i]);
    }
    out.append("\r\n");
  }
  out.append(extra_headers).append("\r\n");
  return out;
}

//> handshake.client-checks
// RFC 6455 §4.1, the client's checks on the server's answer, in the RFC's order.
Error validate_server_response(const HttpResponse& response, std::string_view sent_key,
                               std::span<const std::string> offered_subprotocols,
                               bool offered_extensions) {
  // 1. "If the status code received from the server is not 101, the client
  //    handles the response per HTTP": for a WebSocket client, a failure.
  if (response.status != 101) return Error::kHandshakeBadResponse;
  // 2. Upgrade must be "an ASCII case-insensitive match for the value "websocket"".
  const std::string* upgrade = response.header("Upgrade");
  if (upgrade == nullptr || !equals_ignore_case(*upgrade, "websocket")) {
    return Error::kHandshakeBadResponse;
  }
  // 3. Connection must contain the token "Upgrade".
  if (!response.header_has_token("Connection", "Upgrade")) return Error::kHandshakeBadResponse;
  // 4. Sec-WebSocket-Accept must be the accept key of the key we sent.
  const std::string* accept = response.header("Sec-WebSocket-Accept");
  if (accept == nullptr || *accept != compute_accept_key(sent_key)) {
    return Error::kHandshakeBadAccept;
  }
  // 5. An extension the answer names must be one we offered: with no offer,
  //    any extension in it was not requested.
  for (std::string_view value : response.header_values("Sec-WebSocket-Extensions")) {
    if (!offered_extensions && !split_list(value).empty()) return Error::kHandshakeBadResponse;
  }
  // 6. A subprotocol only if we offered it: one header, one of our names.
  std::vector<std::string_view> chosen = response.header_values("Sec-WebSocket-Protocol");
  if (chosen.size() > 1) return Error::kHandshakeBadResponse;
  if (chosen.size() == 1) {
    bool offered = false;
    for (const std::string& name : offered_subprotocols) offered = offered || name == chosen[0];
    if (!offered) return Error::kHandshakeBadResponse;
  }
  return Error::kNone;
}
//< handshake.client-checks

}  // namespace ws
