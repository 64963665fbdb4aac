// The WebSocket opening handshake (RFC 6455 §4): validating a client's
// Upgrade request, computing Sec-WebSocket-Accept (§1.3, §4.2.2) with
// libcrypto's SHA-1, and building the 101 and the error responses.
// Also the client's side: the request it sends and the checks on the 101.
// Owns no state and does no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/core/error.h"
#include "openpipe/protocol/http_parser.h"

namespace ws {

// RFC 6455 §1.3: the GUID appended to the client's key before hashing.
inline constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
inline constexpr std::string_view kWebSocketVersion = "13";

// base64(SHA-1(key + GUID)); "dGhlIHNhbXBsZSBub25jZQ==" -> "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
std::string compute_accept_key(std::string_view client_key);

// RFC 6455 §4.2.1 item 5: the key is base64 that decodes to exactly 16 bytes.
bool is_valid_client_key(std::string_view key);

// Standard base64 (RFC 4648 §4) of any bytes; used for keys.
std::string base64_encode(std::span<const uint8_t> bytes);

// True if the request asks for a WebSocket at all (has an Upgrade header
// naming "websocket"); a plain GET to a WebSocket path gets 426 instead.
bool is_websocket_upgrade(const HttpRequest& request);

// What the server decided about a valid upgrade request.
struct Handshake {
  Error error = Error::kNone;  // kNone if the request is a valid upgrade
  std::string accept_key;      // Sec-WebSocket-Accept value
  std::string subprotocol;     // chosen subprotocol, empty if none
};

// RFC 6455 §4.2.1: checks method, version, Host, Upgrade, Connection, key and
// Sec-WebSocket-Version. Picks the first of `server_subprotocols` (the
// server's preference order) that the client offered. Extensions are not
// looked at here: Connection::accept() negotiates them (chapter 22).
Handshake validate_client_handshake(const HttpRequest& request,
                                    std::span<const std::string> server_subprotocols = {});

// "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection,
// Sec-WebSocket-Accept and, if chosen, Sec-WebSocket-Protocol.
// `extra_headers` are full "Name: value\r\n" lines added as they are.
std::string build_accept_response(const Handshake& handshake, std::string_view extra_headers = {});

// The answer to a failed handshake: status from http_status(error), a short
// text body saying what was wrong, `Connection: close`; a 426 also carries
// `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
std::string build_error_response(Error error);

//> handshake.http-reply
// A plain HTTP answer (anything but a 101), as a route or the static files
// build it. Connection::reply() adds Content-Length and Connection, and
// leaves the body out for HEAD.
struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";  // "" for none
  std::string body;
  std::string headers;  // extra full lines: "Cache-Control: no-cache\r\n"
  bool close = false;   // end the connection after this answer

  static HttpReply text(int status, std::string body) {
    HttpReply reply;
    reply.status = status;
    reply.body = std::move(body);
    return reply;
  }
};
//< handshake.http-reply

// The head of `reply`: status line, Content-Type, Content-Length (the body's
// size, or a file's: `content_length`; none on 204 and 304), `Connection:
// <connection>` unless empty, the extra headers and the empty line.
std::string build_reply_head(const HttpReply& reply, uint64_t content_length,
                             std::string_view connection);

// Any HTTP/1.1 response with a body (Content-Length set, Connection: close).
std::string build_http_response(int status, std::string_view content_type, std::string_view body,
                                std::string_view extra_headers = {});

// "Not Found" for 404, "Upgrade Required" for 426, ...
std::string_view status_reason(int status);

// ---- client role (RFC 6455 §4.1) ----

// The GET request a client sends; `key` is base64 of 16 random bytes.
std::string build_client_request(std::string_view host, std::string_view resource,
                                 std::string_view key,
                                 std::span<const std::string> subprotocols = {},
                                 std::string_view extra_headers = {});

// RFC 6455 §4.1: checks the server's answer: status 101, Upgrade, Connection,
// Sec-WebSocket-Accept matching `sent_key`, a subprotocol only if one was
// offered, and no extension unless we offered one (`offered_extensions`: the
// caller then checks what was accepted, deflate.h).
// Returns kNone, kHandshakeBadResponse or kHandshakeBadAccept.
Error validate_server_response(const HttpResponse& response, std::string_view sent_key,
                               std::span<const std::string> offered_subprotocols = {},
                               bool offered_extensions = false);

}  // namespace ws
