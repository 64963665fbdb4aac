// EXERCISE SKELETON for chapter 03 (tutorial/03-handshake.md): src/protocol/handshake.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=03
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/protocol/handshake.cpp 03-handshake.md
// The opening handshake (see handshake.h): the checks on a client's request,
// the accept key, the 101 and error responses, and the client's side of it.
// The only file of the library that uses libcrypto (for SHA-1). RFC 6455 §4.
#include "openpipe/protocol/handshake.h"
#include "todo.h"  // todo(): what every stub below calls

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

// RFC 6455 §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a
// base64-encoded ... value that, when decoded, is 16 bytes in length."
// Sent twice, the two copies must agree: which one would we answer?

// The order of the checks, and so which error a request with several faults
// gets: method, HTTP version, Host, Upgrade, Connection, Sec-WebSocket-Version,
// Sec-WebSocket-Key. It follows RFC 6455 §4.2.1 except for one swap: once
// Upgrade and Connection say "this is a WebSocket", the version comes before
// the key. A client speaking another version may shape its key differently,
// and what helps it is the 426 naming version 13 (§4.4), not a 400 about a key.

// RFC 6455 §4.2.2 /subprotocol/: "The value chosen MUST be derived from the
// client's handshake, specifically by selecting one of the values from the
// |Sec-WebSocket-Protocol| field that the server is willing to use".
// The server's order wins. The client may send several such headers, each a
// comma list. Names are compared exactly: a browser checks our answer
// byte for byte against what it offered.

// What build_error_response() says, in plain words, about each error.

}  // namespace

// ---- the accept key (RFC 6455 §1.3, §4.2.2) ------------------------------------

// RFC 4648 §4: every 3 bytes (24 bits) become 4 letters of 6 bits each; a
// last group of 1 or 2 bytes is padded with "==" or "=".
std::string base64_encode(std::span<const uint8_t> bytes) {
  (void)bytes;
  todo("base64_encode (tutorial/03-handshake.md, region handshake.base64)");
}

// RFC 6455 §4.2.2 item 5.4: "concatenating /key/ ... with the string
// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", taking the SHA-1 hash of this
// concatenated value to obtain a 20-byte value and base64-encoding ... this
// 20-byte hash." The key is used as sent: it is never decoded.
std::string compute_accept_key(std::string_view client_key) {
  (void)client_key;
  todo("compute_accept_key (tutorial/03-handshake.md, region handshake.accept-key)");
}

bool is_valid_client_key(std::string_view key) {
  (void)key;
  todo("is_valid_client_key (tutorial/03-handshake.md)");
}

bool is_websocket_upgrade(const HttpRequest& request) {
  (void)request;
  todo("is_websocket_upgrade (tutorial/03-handshake.md)");
}

// ---- server role ---------------------------------------------------------------

Handshake validate_client_handshake(const HttpRequest& request,
                                    std::span<const std::string> server_subprotocols) {
  (void)request;
  (void)server_subprotocols;
  todo("validate_client_handshake (tutorial/03-handshake.md, region handshake.validate)");
}

std::string build_accept_response(const Handshake& handshake, std::string_view extra_headers) {
  (void)handshake;
  (void)extra_headers;
  todo("build_accept_response (tutorial/03-handshake.md, region handshake.accept-response)");
}

std::string build_reply_head(const HttpReply& reply, uint64_t content_length,
                             std::string_view connection) {
  (void)reply;
  (void)content_length;
  (void)connection;
  todo("build_reply_head (tutorial/03-handshake.md, region handshake.reply-head)");
}

std::string build_http_response(int status, std::string_view content_type, std::string_view body,
                                std::string_view extra_headers) {
  (void)status;
  (void)content_type;
  (void)body;
  (void)extra_headers;
  todo("build_http_response (tutorial/03-handshake.md)");
}

std::string build_error_response(Error error) {
  (void)error;
  todo("build_error_response (tutorial/03-handshake.md, region handshake.error-response)");
}

std::string_view status_reason(int status) {
  (void)status;
  todo("status_reason (tutorial/03-handshake.md)");
}

// ---- client role (RFC 6455 §4.1) ------------------------------------------------

std::string build_client_request(std::string_view host, std::string_view resource,
                                 std::string_view key, std::span<const std::string> subprotocols,
                                 std::string_view extra_headers) {
  (void)host;
  (void)resource;
  (void)key;
  (void)subprotocols;
  (void)extra_headers;
  todo("build_client_request (tutorial/03-handshake.md)");
}

// RFC 6455 §4.1, the client's checks on the server's answer, in the RFC's order.
Error validate_server_response(const HttpResponse& response, std::string_view sent_key,
                               std::span<const std::string> offered_subprotocols,
                               bool offered_extensions) {
  (void)response;
  (void)sent_key;
  (void)offered_subprotocols;
  (void)offered_extensions;
  todo("validate_server_response (tutorial/03-handshake.md, region handshake.client-checks)");
}

}  // namespace ws
