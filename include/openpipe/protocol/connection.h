// The WebSocket connection as a state machine with no I/O ("sans-I/O"):
// bytes in (receive_data) -> events out (ConnectionHandler callbacks) and
// bytes to send (pending_output). For both roles, through every state:
//
//   CONNECTING --handshake--> OPEN --close()--> CLOSING --peer's close--> CLOSED
//                              OPEN --peer's close (echoed) / failure / EOF--> CLOSED
//
// Owns: the handshake parser, the frame decoder, the message being assembled
// and its UTF-8 state, and the output not yet written. Does not own a socket:
// the server and the client (io/) move bytes between it and the kernel, and
// close the TCP connection when wants_close_transport() says so.
// RFC 6455 §4 (handshake), §5 (framing), §6 (messages), §7 (closing).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/core/buffer.h"
#include "openpipe/core/error.h"
#include "openpipe/protocol/close.h"
#include "openpipe/protocol/deflate.h"
#include "openpipe/protocol/frame.h"
#include "openpipe/protocol/handshake.h"
#include "openpipe/protocol/http_body.h"
#include "openpipe/protocol/http_parser.h"
#include "openpipe/protocol/utf8.h"

namespace ws {

enum class State : uint8_t { kConnecting, kOpen, kClosing, kClosed };
const char* to_string(State state);
std::ostream& operator<<(std::ostream& out, State state);  // the name, for test messages

//> connection.limits
struct ConnectionLimits {
  uint64_t max_message_size = 16 << 20;  // bytes, across all fragments: else 1009
  size_t max_output = 64 << 20;          // pending output bytes: sends beyond fail
  HttpLimits http;                       // the opening handshake's limits
  size_t max_requests = 1000;            // plain HTTP requests per connection, then it closes
};
//< connection.limits

class Connection;

// Events, in the order the bytes carried them. Every callback may call the
// connection's send_*() or close() functions. Views passed to a callback are
// valid only during the call.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Server role, CONNECTING: the request head is complete. The handler must
  // answer before returning: accept() (which validates the upgrade) or
  // respond()/reject(). Bytes that followed the request are then processed.
  // Plain HTTP requests may follow one another on the connection (keep-
  // alive): on_request runs once per request, in order, and may answer with
  // reply() (the connection stays open if both sides want it) until one is
  // an upgrade. request.body holds the body, read whole before the call.
  virtual void on_request(Connection& connection, const HttpRequest& request);
  // Server role: the head of a request that has a body is complete, and the
  // body is not read yet. Returns how many body bytes this request may carry
  // (a larger Content-Length is answered 413 at once, a chunked body 413 when
  // it grows past it); HttpLimits::max_body_size bounds it anyway. Or it
  // answers now with reject() (411, 404, 405), and the body is never read.
  virtual uint64_t on_request_head(Connection&, const HttpRequest&) { return UINT64_MAX; }
  // The handshake is complete (server: after accept(); client: the 101 checked).
  virtual void on_open(Connection&) {}
  virtual void on_text(Connection&, std::string_view) {}
  virtual void on_binary(Connection&, std::span<const uint8_t>) {}
  // A pong with the same payload is already queued when on_ping runs (§5.5.2).
  virtual void on_ping(Connection&, std::span<const uint8_t>) {}
  virtual void on_pong(Connection&, std::span<const uint8_t>) {}
  // Called once, only for connections that reached OPEN.
  // The closing handshake finished, or the connection ended without one:
  // `code` is the peer's code, 1005 if its close had none, 1006 if the TCP
  // connection ended with no close frame, or our code if we failed it.
  virtual void on_close(Connection&, uint16_t /*code*/, std::string_view /*reason*/) {}
  // The peer broke the protocol; the connection is being failed with
  // close_code(error) (or, in CONNECTING, answered with http_status(error)).
  virtual void on_error(Connection&, Error) {}
};

//> connection.reply-body
// A reply body the I/O layer sends itself after the head (a file, with
// sendfile()): the protocol only knows its size. io/static_files.h has one.
class ReplyBody {
 public:
  virtual ~ReplyBody() = default;
  virtual uint64_t size() const = 0;
};
//< connection.reply-body

struct ClientOptions {
  std::string host;                       // Host header: "localhost:8000"
  std::string resource = "/";             // path and query: "/ws?room=1"
  std::vector<std::string> subprotocols;  // offered, in preference order
  std::string extra_headers;              // full "Name: value\r\n" lines
  // Fills its argument with random bytes from a CSPRNG (the I/O layer passes
  // getrandom(); tests pass a fixed sequence). Used for the Sec-WebSocket-Key
  // and for every frame's masking key (§5.3: "unpredictable").
  std::function<void(std::span<uint8_t>)> random_bytes;
  // Offer permessage-deflate (RFC 7692) with this state's config; null: no
  // offer. Not owned: it must outlive the connection.
  DeflateShared* deflate = nullptr;
};

class Connection {
 public:
  // A server-side connection, CONNECTING until it accepts a request.
  explicit Connection(const ConnectionLimits& limits = {});
  // A client-side connection: queues the opening handshake request at once.
  Connection(ClientOptions client, const ConnectionLimits& limits = {});
  ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;

  Role role() const { return role_; }
  State state() const { return state_; }

  // ---- bytes in ----
  // Processes bytes received from the peer, calling `handler` for each event.
  // Takes every byte (keeping partial frames inside). May modify `data`:
  // payloads are unmasked in place so a whole message can be handed out
  // without a copy.
  void receive_data(std::span<uint8_t> data, ConnectionHandler& handler);
  // The peer closed its end of the TCP connection (read() returned 0).
  void receive_eof(ConnectionHandler& handler);

  // ---- server handshake (only inside on_request) ----
  // Validates the request as a WebSocket upgrade; on success queues the 101
  // and the connection is OPEN (Error::kNone). On failure queues the error
  // response (400/405/426) and the connection is CLOSED. With `deflate`
  // (the loop's shared state, which must outlive the connection), an offer
  // of permessage-deflate is accepted if its config allows (RFC 7692 §5).
  Error accept(std::span<const std::string> subprotocols = {}, std::string_view extra_headers = {},
               DeflateShared* deflate = nullptr);
  // Queues a complete HTTP response (any status) and closes: for plain HTTP
  // requests, 404s, 401/403 from an auth or origin check, 503 when full.
  void respond(std::string_view response_bytes);
  void reject(int status, std::string_view body, std::string_view extra_headers = {});
  const std::string& subprotocol() const;
  // The permessage-deflate parameters agreed on, or null if not negotiated.
  const DeflateParams* deflate() const { return deflate_ ? &deflate_->params() : nullptr; }
  // The extension's zlib state held right now (a test looks at it).
  const PerMessageDeflate* deflate_session() const { return deflate_.get(); }

  // ---- plain HTTP answers (server, inside on_request) ----
  // Queues the answer with Content-Length; HEAD gets the head only. The
  // connection stays for the next request (RFC 9112 §9.3: HTTP/1.1 persists
  // by default, HTTP/1.0 with "keep-alive") unless the request or the reply
  // says close, or it was request number ConnectionLimits::max_requests.
  void reply(const HttpReply& reply);
  // The same with a body the caller sends after pending_output() (a file).
  // True if it must: false for HEAD and 304, and `body` is dropped. Until
  // streamed_body_sent(), bytes received are held, not parsed (the answers
  // to pipelined requests must not overtake the file).
  bool reply_streamed(const HttpReply& head, std::unique_ptr<ReplyBody> body);
  ReplyBody* streamed_body() const;  // being sent by the I/O layer, or null
  void streamed_body_sent(ConnectionHandler& handler);
  // Keep-alive: at least one request was answered and not a byte of the
  // next has come. close_idle() ends such a connection quietly (§9.8).
  bool idle_between_requests() const;
  void close_idle();

  // ---- application sends (OPEN only; false if not OPEN or output full) ----
  bool send_text(std::string_view text);
  bool send_binary(std::span<const uint8_t> data);
  // One frame of a fragmented message (§5.4): first with kText/kBinary, then
  // kContinuation; `fin` on the last.
  bool send_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin);
  // Queues a whole data frame made by encode_frame(): the same bytes for
  // many connections (Server::publish encodes once). Server role only (a
  // client masks each frame with a key of its own), and not in the middle of
  // a fragmented message.
  bool send_encoded(std::span<const uint8_t> frame);
  bool send_ping(std::span<const uint8_t> payload = {});  // at most 125 bytes
  //> connection.direct-api
  // A large message without a copy (the I/O layer's fast path, chapter 16):
  // a server's whole data message with nothing queued before it can be
  // written straight from the caller's memory. frame_direct() writes the
  // frame's header into `header` and returns its size, or 0 when the
  // message must go through send_frame() instead (not OPEN, output queued, a
  // fragmented send in progress, compressed, a client, or shorter than
  // kDirectSendMin). The I/O layer then writes the header and the payload
  // (one writev) and calls direct_sent() with the bytes the kernel took,
  // before the payload's memory may change: the rest is queued, so nothing
  // is lost and later frames stay behind it.
  static constexpr size_t kDirectSendMin = 16 << 10;
  size_t frame_direct(Opcode opcode, std::span<const uint8_t> payload,
                      std::span<uint8_t, kMaxFrameHeaderSize> header) const;
  void direct_sent(std::span<const uint8_t> header, std::span<const uint8_t> payload,
                   size_t written);
  //< connection.direct-api
  bool send_pong(std::span<const uint8_t> payload = {});
  // Starts the closing handshake (§7.1.2): queues a close frame; the state
  // becomes CLOSING until the peer's close arrives.
  bool close(uint16_t code = kCloseNormal, std::string_view reason = {});

  // ---- bytes out ----
  std::span<const uint8_t> pending_output() const { return out_.readable(); }
  void mark_sent(size_t n) { out_.consume(n); }
  size_t buffered_amount() const { return out_.size(); }
  // Gives back buffers kept for the next message (call it when the
  // connection has been quiet for a while: keeping them while busy saves an
  // allocation per message).
  void release_memory_if_idle();
  // True once the connection is CLOSED: write what is pending, then close
  // TCP. (§7.1.1: the server closes the TCP connection first.)
  // A streamed reply body is sent first.
  bool wants_close_transport() const;

  // How it ended (valid once CLOSED).
  uint16_t close_code() const { return close_code_; }
  const std::string& close_reason() const;

 private:
  // The implementation's private helpers and state are declared here.
  struct HandshakeState;
  struct Extras;
  Extras& extras();
  size_t buffered_message_size() const;
  void process_frames(std::span<uint8_t> data, ConnectionHandler& handler);
  void on_frame_piece(const DecodeResult& piece, ConnectionHandler& handler);
  void on_data_piece(const DecodeResult& piece, ConnectionHandler& handler);
  void on_control_piece(const DecodeResult& piece, ConnectionHandler& handler);
  void on_close_frame(std::span<const uint8_t> payload, ConnectionHandler& handler);
  void fail(Error error, ConnectionHandler& handler);
  void finish(uint16_t code, std::string_view reason, ConnectionHandler& handler);
  bool queue_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin, bool rsv1 = false);
  bool queue_masked_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin, bool rsv1);
  bool queue_compressed(Opcode opcode, std::span<const uint8_t> message);
  void on_compressed_piece(const DecodeResult& piece, ConnectionHandler& handler);
  bool inflate_into(std::string& message, std::span<const uint8_t> in, ConnectionHandler& handler);
  void start_deflate(const DeflateParams& params, DeflateShared& shared);
  std::string negotiate_extensions(DeflateShared* deflate);
  void queue_close(uint16_t code, std::string_view reason);
  void deliver_message(std::span<const uint8_t> payload, ConnectionHandler& handler);
  void fail_handshake(Error error, ConnectionHandler& handler);
  void process_server_handshake(std::span<uint8_t>& data, ConnectionHandler& handler);
  bool start_body(ConnectionHandler& handler);
  void answer_request(ConnectionHandler& handler);
  void fail_request(Error error, ConnectionHandler& handler);
  bool keep_alive_after(const HttpReply& reply) const;
  bool answers_head_only(const HttpReply& reply) const;
  void finish_answer(bool keep_alive);
  void process_client_handshake(std::span<uint8_t>& data, ConnectionHandler& handler);

  //> connection.members
  // An idle connection is this object and nothing else: what only some
  // connections need (a handshake in progress, a client's options, a split
  // control frame, a message arriving in pieces, a subprotocol, a close
  // reason) lives behind a pointer that stays null until it is needed.
  Role role_;                                   // who masks
  State state_ = State::kConnecting;            // see the picture above
  bool close_sent_ = false;                     // our close frame is queued
  bool in_message_ = false;                     // a received message is not finished
  bool sending_fragments_ = false;              // we are sending a fragmented message
  Opcode message_opcode_ = Opcode::kText;       // the type of the message being received
  uint16_t close_code_ = kCloseAbnormal;        // how it ended
  Utf8Validator utf8_;                          // text checked as it arrives
  bool compressed_ = false;                     // the message being received has RSV1 (RFC 7692)
  uint64_t max_message_size_;                   // ConnectionLimits::max_message_size
  size_t max_output_;                           // ConnectionLimits::max_output
  FrameDecoder decoder_;                        // bytes -> frame pieces
  Buffer out_;                                  // bytes not yet written
  std::unique_ptr<HandshakeState> handshake_;   // only while CONNECTING
  std::unique_ptr<ClientOptions> client_;       // client role only
  std::unique_ptr<Extras> extras_;              // rarely needed: see Extras
  std::unique_ptr<PerMessageDeflate> deflate_;  // permessage-deflate, if negotiated
  //< connection.members
};

}  // namespace ws
