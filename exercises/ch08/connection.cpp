// EXERCISE SKELETON for chapter 08 (tutorial/08-connection.md): src/protocol/connection.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=08
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/protocol/connection.cpp 08-connection.md
// The connection state machine (see connection.h): the handshake, message
// assembly (RFC 6455 §5.4, §6.2), control frames (§5.5) and the closing
// handshake (§7). Bytes in, events and bytes out; no system calls.
#include "openpipe/protocol/connection.h"
#include "todo.h"  // todo(): what every stub below calls

#include "openpipe/protocol/extensions.h"

#include <algorithm>
#include <array>
#include <optional>
#include <ostream>
#include <utility>

namespace ws {
namespace {

// Output room kept for control frames beyond ConnectionLimits::max_output, so
// that a pong or a close frame can always be queued, even when data sends are
// refused because a client stopped reading.
constexpr size_t kControlReserve = 1024;

}  // namespace

const char* to_string(State state) {
  switch (state) {
    case State::kConnecting: return "CONNECTING";
    case State::kOpen: return "OPEN";
    case State::kClosing: return "CLOSING";
    case State::kClosed: return "CLOSED";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, State state) {
  return out << to_string(state);
}

void ConnectionHandler::on_request(Connection& connection, const HttpRequest&) {
  (void)connection;
  todo("ConnectionHandler::on_request (tutorial/08-connection.md)");
}

// What only some connections ever need, allocated the first time it is.
struct Connection::Extras {
  std::string message;       // the payload of a message that arrived in pieces
  std::string control;       // a control frame's payload split across reads
  std::string subprotocol;   // chosen in the handshake
  std::string close_reason;  // how it ended
};

Connection::Extras& Connection::extras() {
  todo("Connection::extras (tutorial/08-connection.md)");
}

size_t Connection::buffered_message_size() const {
  todo("Connection::buffered_message_size (tutorial/08-connection.md)");
}

const std::string& Connection::subprotocol() const {
  todo("Connection::subprotocol (tutorial/08-connection.md)");
}

const std::string& Connection::close_reason() const {
  todo("Connection::close_reason (tutorial/08-connection.md)");
}

// Only alive while CONNECTING: a parser for the other side's head, the key a
// client sent (to check the server's Sec-WebSocket-Accept), and, on a server,
// the plain HTTP requests that may come before an upgrade.
struct Connection::HandshakeState {
  HttpRequestParser request_parser;     // server role
  HttpResponseParser response_parser;   // client role
  std::string client_key;               // client role: our Sec-WebSocket-Key
  HttpLimits limits;                    // server role: for check_request_head()
  size_t max_requests;                  // ConnectionLimits::max_requests
  size_t requests = 0;                  // requests answered on this connection
  bool answered = false;                // the current request has its answer
  std::optional<HttpBodyDecoder> body;  // the current request's body is being read
  std::unique_ptr<ReplyBody> streamed;  // a reply body the I/O layer is sending
  std::string held;                     // bytes received while `streamed` is sent

  HandshakeState(const HttpLimits& http, size_t max_requests)
      : request_parser(http), response_parser(http), limits(http), max_requests(max_requests) {}
};

Connection::Connection(const ConnectionLimits& limits)
    : role_(Role::kServer),
      max_message_size_(limits.max_message_size),
      max_output_(limits.max_output),
      decoder_(Role::kServer, limits.max_message_size),
      out_(limits.max_output + kControlReserve),
      handshake_(std::make_unique<HandshakeState>(limits.http, limits.max_requests)) {}

Connection::Connection(ClientOptions client, const ConnectionLimits& limits)
    : role_(Role::kClient),
      max_message_size_(limits.max_message_size),
      max_output_(limits.max_output),
      decoder_(Role::kClient, limits.max_message_size),
      out_(limits.max_output + kControlReserve),
      handshake_(std::make_unique<HandshakeState>(limits.http, limits.max_requests)),
      client_(std::make_unique<ClientOptions>(std::move(client))) {
  (void)client;
  (void)limits;
  todo("Connection::Connection (tutorial/08-connection.md, region connection.client-start)");
}

Connection::~Connection() = default;
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;

// ---- bytes in ---------------------------------------------------------------

void Connection::receive_data(std::span<uint8_t> data, ConnectionHandler& handler) {
  (void)data;
  (void)handler;
  todo("Connection::receive_data (tutorial/08-connection.md, region connection.receive-data)");
}

void Connection::receive_eof(ConnectionHandler& handler) {
  (void)handler;
  todo("Connection::receive_eof (tutorial/08-connection.md)");
}

// Server role, before the upgrade: plain HTTP requests one after another on
// the same connection (keep-alive and pipelining, RFC 9112 §9.3), until one is
// an upgrade or the connection closes. Each request is answered before the
// next is read, so the answers leave in request order.
void Connection::process_server_handshake(std::span<uint8_t>& data, ConnectionHandler& handler) {
  (void)data;
  (void)handler;
  todo(
      "Connection::process_server_handshake (tutorial/08-connection.md, region "
      "connection.server-handshake)");
}

// The head is complete: where does this message end (RFC 9112 §6.3)?
bool Connection::start_body(ConnectionHandler& handler) {
  (void)handler;
  todo("Connection::start_body (tutorial/08-connection.md, region connection.start-body)");
}

void Connection::fail_request(Error error, ConnectionHandler& handler) {
  (void)error;
  (void)handler;
  todo("Connection::fail_request (tutorial/08-connection.md)");
}

void Connection::answer_request(ConnectionHandler& handler) {
  (void)handler;
  todo("Connection::answer_request (tutorial/08-connection.md, region connection.answer-request)");
}

void Connection::process_client_handshake(std::span<uint8_t>& data, ConnectionHandler& handler) {
  (void)data;
  (void)handler;
  todo(
      "Connection::process_client_handshake (tutorial/08-connection.md, region "
      "connection.client-handshake)");
}

void Connection::fail_handshake(Error error, ConnectionHandler& handler) {
  (void)error;
  (void)handler;
  todo("Connection::fail_handshake (tutorial/08-connection.md)");
}

void Connection::process_frames(std::span<uint8_t> data, ConnectionHandler& handler) {
  (void)data;
  (void)handler;
  todo("Connection::process_frames (tutorial/08-connection.md, region connection.process-frames)");
}

void Connection::on_frame_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  (void)piece;
  (void)handler;
  todo("Connection::on_frame_piece (tutorial/08-connection.md)");
}

// RFC 6455 §5.4: a message is one frame with FIN set, or a text/binary frame
// without FIN followed by continuation frames, the last one with FIN.
// Control frames may come in between; data frames of another message may not.

void Connection::on_data_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  (void)piece;
  (void)handler;
  todo("Connection::on_data_piece (tutorial/08-connection.md, region message.data-piece)");
}

void Connection::deliver_message(std::span<const uint8_t> payload, ConnectionHandler& handler) {
  (void)payload;
  (void)handler;
  todo("Connection::deliver_message (tutorial/08-connection.md, region message.deliver)");
}

void Connection::on_control_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  (void)piece;
  (void)handler;
  todo("Connection::on_control_piece (tutorial/08-connection.md, region connection.control-piece)");
}

void Connection::on_close_frame(std::span<const uint8_t> payload, ConnectionHandler& handler) {
  (void)payload;
  (void)handler;
  todo("Connection::on_close_frame (tutorial/08-connection.md, region close.receive)");
}

// RFC 6455 §7.1.7 _Fail the WebSocket Connection_: send a close frame with
// the error's code (if none was sent yet), stop reading, and close TCP.
void Connection::fail(Error error, ConnectionHandler& handler) {
  (void)error;
  (void)handler;
  todo("Connection::fail (tutorial/08-connection.md, region connection.fail)");
}

void Connection::finish(uint16_t code, std::string_view reason, ConnectionHandler& handler) {
  (void)code;
  (void)reason;
  (void)handler;
  todo("Connection::finish (tutorial/08-connection.md)");
}

// ---- server handshake answers -------------------------------------------------

Error Connection::accept(std::span<const std::string> subprotocols, std::string_view extra_headers,
                         DeflateShared* deflate) {
  (void)subprotocols;
  (void)extra_headers;
  (void)deflate;
  todo("Connection::accept (tutorial/08-connection.md, region connection.accept)");
}

// RFC 6455 §9.1 and RFC 7692 §5: the first offer of permessage-deflate we
// can accept is named in the 101; any other extension is declined by not
// naming it. Returns the header line for the 101 ("" declines them all).
std::string Connection::negotiate_extensions(DeflateShared* deflate) {
  (void)deflate;
  todo(
      "Connection::negotiate_extensions (tutorial/08-connection.md, region "
      "deflate.connection-accept)");
}

void Connection::start_deflate(const DeflateParams& params, DeflateShared& shared) {
  (void)params;
  (void)shared;
  todo("Connection::start_deflate (tutorial/08-connection.md, region deflate.connection-accept)");
}

void Connection::respond(std::string_view response_bytes) {
  (void)response_bytes;
  todo("Connection::respond (tutorial/08-connection.md)");
}

void Connection::reject(int status, std::string_view body, std::string_view extra_headers) {
  (void)status;
  (void)body;
  (void)extra_headers;
  todo("Connection::reject (tutorial/08-connection.md)");
}

// ---- plain HTTP answers and keep-alive -------------------------------------------

// RFC 9112 §9.3: "HTTP/1.1 defaults to the use of persistent connections";
// "close" in the request's Connection header ends it after this answer. An
// HTTP/1.0 client keeps it only if it asked with "keep-alive" (§9.3, and
// Appendix C.2.2: we answer its "keep-alive" with ours).
bool Connection::keep_alive_after(const HttpReply& reply) const {
  (void)reply;
  todo("Connection::keep_alive_after (tutorial/08-connection.md, region connection.keep-alive)");
}

// RFC 9110 §9.3.2: HEAD is GET without the content; §15.4.5: a 304 has none.
bool Connection::answers_head_only(const HttpReply& reply) const {
  (void)reply;
  todo("Connection::answers_head_only (tutorial/08-connection.md, region connection.keep-alive)");
}

void Connection::reply(const HttpReply& reply) {
  (void)reply;
  todo("Connection::reply (tutorial/08-connection.md, region connection.keep-alive)");
}

bool Connection::reply_streamed(const HttpReply& head, std::unique_ptr<ReplyBody> body) {
  (void)head;
  (void)body;
  todo("Connection::reply_streamed (tutorial/08-connection.md, region connection.keep-alive)");
}

void Connection::finish_answer(bool keep_alive) {
  (void)keep_alive;
  todo("Connection::finish_answer (tutorial/08-connection.md)");
}

ReplyBody* Connection::streamed_body() const {
  todo("Connection::streamed_body (tutorial/08-connection.md)");
}

void Connection::streamed_body_sent(ConnectionHandler& handler) {
  (void)handler;
  todo("Connection::streamed_body_sent (tutorial/08-connection.md)");
}

bool Connection::idle_between_requests() const {
  todo("Connection::idle_between_requests (tutorial/08-connection.md)");
}

void Connection::close_idle() {
  todo("Connection::close_idle (tutorial/08-connection.md)");
}

bool Connection::wants_close_transport() const {
  todo("Connection::wants_close_transport (tutorial/08-connection.md)");
}

// ---- application sends -----------------------------------------------------------

bool Connection::send_text(std::string_view text) {
  (void)text;
  todo("Connection::send_text (tutorial/08-connection.md)");
}

bool Connection::send_binary(std::span<const uint8_t> data) {
  (void)data;
  todo("Connection::send_binary (tutorial/08-connection.md)");
}

bool Connection::send_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin) {
  (void)opcode;
  (void)payload;
  (void)fin;
  todo("Connection::send_frame (tutorial/08-connection.md, region connection.send-frame)");
}

// Below kDirectSendMin a copy costs less than a system call of its own:
// small replies are gathered in the output and leave with one send per loop
// turn (16 in flight: one send for 16 replies). Above it, the copy into the
// output (a pass over every byte) is what the direct path saves.
size_t Connection::frame_direct(Opcode opcode, std::span<const uint8_t> payload,
                                std::span<uint8_t, kMaxFrameHeaderSize> header) const {
  (void)opcode;
  (void)payload;
  (void)header;
  todo("Connection::frame_direct (tutorial/08-connection.md, region connection.direct-send)");
}

// Queues what the kernel did not take: the rest of the header, then the rest
// of the payload. The output was empty (frame_direct() checked), so this
// frame's remainder is first in it, and the payload fits (<= max_output_).
void Connection::direct_sent(std::span<const uint8_t> header, std::span<const uint8_t> payload,
                             size_t written) {
  (void)header;
  (void)payload;
  (void)written;
  todo("Connection::direct_sent (tutorial/08-connection.md, region connection.direct-send)");
}

bool Connection::send_encoded(std::span<const uint8_t> frame) {
  (void)frame;
  todo("Connection::send_encoded (tutorial/08-connection.md)");
}

bool Connection::send_ping(std::span<const uint8_t> payload) {
  (void)payload;
  todo("Connection::send_ping (tutorial/08-connection.md)");
}

bool Connection::send_pong(std::span<const uint8_t> payload) {
  (void)payload;
  todo("Connection::send_pong (tutorial/08-connection.md)");
}

bool Connection::close(uint16_t code, std::string_view reason) {
  (void)code;
  (void)reason;
  todo("Connection::close (tutorial/08-connection.md, region connection.close)");
}

void Connection::queue_close(uint16_t code, std::string_view reason) {
  (void)code;
  (void)reason;
  todo("Connection::queue_close (tutorial/08-connection.md)");
}

bool Connection::queue_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin, bool rsv1) {
  (void)opcode;
  (void)payload;
  (void)fin;
  (void)rsv1;
  todo("Connection::queue_frame (tutorial/08-connection.md, region connection.queue-frame)");
}

// Out of line: the key and the call to random_bytes() stay off a server's path.
[[gnu::noinline]] bool Connection::queue_masked_frame(Opcode opcode,
                                                      std::span<const uint8_t> payload, bool fin,
                                                      bool rsv1) {
  (void)opcode;
  (void)payload;
  (void)fin;
  (void)rsv1;
  todo("Connection::queue_masked_frame (tutorial/08-connection.md, region connection.queue-frame)");
}

// RFC 7692 §7.2.1: the message is compressed whole and sent as one frame
// with RSV1 set (§6: "the first frame of the message").
bool Connection::queue_compressed(Opcode opcode, std::span<const uint8_t> message) {
  (void)opcode;
  (void)message;
  todo("Connection::queue_compressed (tutorial/08-connection.md, region deflate.connection-send)");
}

// A piece of a compressed message: inflated as it arrives, so that the
// limit (→ 1009) and UTF-8 (→ 1007) are checked on what it becomes, chunk by
// chunk, and a bomb is stopped after max_message_size bytes, not after it
// has filled the memory.
void Connection::on_compressed_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  (void)piece;
  (void)handler;
  todo(
      "Connection::on_compressed_piece (tutorial/08-connection.md, region "
      "deflate.connection-receive)");
}

bool Connection::inflate_into(std::string& message, std::span<const uint8_t> in,
                              ConnectionHandler& handler) {
  (void)message;
  (void)in;
  (void)handler;
  todo("Connection::inflate_into (tutorial/08-connection.md, region deflate.connection-receive)");
}

void Connection::release_memory_if_idle() {
  todo("Connection::release_memory_if_idle (tutorial/08-connection.md)");
}

}  // namespace ws
