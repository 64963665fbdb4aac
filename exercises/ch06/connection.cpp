// EXERCISE SKELETON for chapter 06 (tutorial/06-messages.md): src/protocol/connection.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=06
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/protocol/connection.cpp 06-messages.md Connection::on_frame_piece Connection::on_data_piece Connection::deliver_message
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

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string_view as_text(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

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
  // A handler that does not route requests serves nothing.
  connection.reject(404, "Not Found\n");
}

// What only some connections ever need, allocated the first time it is.
struct Connection::Extras {
  std::string message;       // the payload of a message that arrived in pieces
  std::string control;       // a control frame's payload split across reads
  std::string subprotocol;   // chosen in the handshake
  std::string close_reason;  // how it ended
};

Connection::Extras& Connection::extras() {
  if (!extras_) extras_ = std::make_unique<Extras>();
  return *extras_;
}

size_t Connection::buffered_message_size() const {
  return extras_ ? extras_->message.size() : 0;
}

const std::string& Connection::subprotocol() const {
  static const std::string kNone;
  return extras_ ? extras_->subprotocol : kNone;
}

const std::string& Connection::close_reason() const {
  static const std::string kNone;
  return extras_ ? extras_->close_reason : kNone;
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
  // RFC 6455 §4.1: the key is "a randomly selected 16-byte value that has
  // been base64-encoded".
  std::array<uint8_t, 16> nonce{};
  client_->random_bytes(nonce);
  handshake_->client_key = base64_encode(nonce);
  std::string extra = client_->extra_headers;
  if (client_->deflate != nullptr && client_->deflate->config().enabled) {
    extra += "Sec-WebSocket-Extensions: " + deflate_offer(client_->deflate->config()) + "\r\n";
  }
  out_.append(build_client_request(client_->host, client_->resource, handshake_->client_key,
                                   client_->subprotocols, extra));
}

Connection::~Connection() = default;
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;

// ---- bytes in ---------------------------------------------------------------

void Connection::receive_data(std::span<uint8_t> data, ConnectionHandler& handler) {
  if (state_ == State::kConnecting) {
    if (role_ == Role::kServer) {
      process_server_handshake(data, handler);
    } else {
      process_client_handshake(data, handler);
    }
  }
  // Bytes that followed the handshake in the same read are the first frames.
  if (state_ == State::kOpen || state_ == State::kClosing) process_frames(data, handler);
}

void Connection::receive_eof(ConnectionHandler& handler) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kConnecting) {
    state_ = State::kClosed;
    if (role_ == Role::kClient) handler.on_error(*this, Error::kHandshakeBadResponse);
    return;
  }
  // RFC 6455 §7.1.5: the TCP connection closed with no close frame: 1006.
  finish(kCloseAbnormal, {}, handler);
}

// Server role, before the upgrade: plain HTTP requests one after another on
// the same connection (keep-alive and pipelining, RFC 9112 §9.3), until one is
// an upgrade or the connection closes. Each request is answered before the
// next is read, so the answers leave in request order.
void Connection::process_server_handshake(std::span<uint8_t>& data, ConnectionHandler& handler) {
  while (state_ == State::kConnecting) {
    HandshakeState& hs = *handshake_;
    if (hs.streamed) {  // a file is still being sent: keep what follows for later
      hs.held.append(as_text(data));
      data = {};
      return;
    }
    if (!hs.body) {  // the head
      if (data.empty()) return;
      ParseResult parsed = hs.request_parser.feed(data);
      data = data.subspan(parsed.consumed);
      if (parsed.status == ParseStatus::kNeedMore) return;
      // RFC 6455 §4.2.1: answer with "an appropriate error code (such as 400
      // Bad Request)": http_status() gives 400, 414 or 431.
      if (parsed.status == ParseStatus::kError) return fail_request(parsed.error, handler);
      if (!start_body(handler)) return;
    }
    // The body (none at all for most requests: then this takes no byte).
    ParseResult parsed = hs.body->feed(data, hs.request_parser.request().body);
    data = data.subspan(parsed.consumed);
    if (parsed.status == ParseStatus::kNeedMore) return;
    if (parsed.status == ParseStatus::kError) return fail_request(parsed.error, handler);
    hs.body.reset();
    answer_request(handler);
  }
}

// The head is complete: where does this message end (RFC 9112 §6.3)?
bool Connection::start_body(ConnectionHandler& handler) {
  HandshakeState& hs = *handshake_;
  const HttpRequest& request = hs.request_parser.request();
  BodyFraming framing;
  Error error = check_request_head(request, hs.limits, framing);
  // An upgrade with a body is refused at its head: the WebSocket would start
  // where one side thinks the body does (see chapter 02, "Message framing").
  if (error == Error::kNone && framing.kind != BodyKind::kNone && is_websocket_upgrade(request)) {
    error = Error::kHandshakeHasBody;
  }
  if (error != Error::kNone) {
    fail_request(error, handler);
    return false;
  }
  uint64_t limit = 0;
  hs.answered = false;
  if (framing.kind != BodyKind::kNone) {
    limit = std::min(handler.on_request_head(*this, request), hs.limits.max_body_size);
    // Answered without reading the body: the connection cannot find the next
    // request behind a body it never read, so it closes.
    if (state_ != State::kConnecting || hs.answered) {
      if (state_ == State::kConnecting) state_ = State::kClosed;
      return false;
    }
  }
  hs.body.emplace(framing, limit, hs.limits);
  return true;
}

void Connection::fail_request(Error error, ConnectionHandler& handler) {
  handler.on_error(*this, error);
  respond(build_error_response(error));  // and close: the framing is lost
}

void Connection::answer_request(ConnectionHandler& handler) {
  HandshakeState& hs = *handshake_;
  hs.answered = false;
  handler.on_request(*this, hs.request_parser.request());
  if (state_ == State::kConnecting && !hs.answered) {
    reject(500, "The server did not answer this request.\n");
  }
  if (state_ == State::kOpen) {
    handshake_.reset();  // the parser's memory is not needed any more
    handler.on_open(*this);
  } else if (state_ == State::kConnecting) {
    hs.request_parser.reset();  // keep-alive: the next request
  }
}

void Connection::process_client_handshake(std::span<uint8_t>& data, ConnectionHandler& handler) {
  ParseResult parsed = handshake_->response_parser.feed(data);
  data = data.subspan(parsed.consumed);
  if (parsed.status == ParseStatus::kNeedMore) return;
  if (parsed.status == ParseStatus::kError) return fail_handshake(parsed.error, handler);
  const HttpResponse& response = handshake_->response_parser.response();
  const bool offered = client_->deflate != nullptr && client_->deflate->config().enabled;
  Error error =
      validate_server_response(response, handshake_->client_key, client_->subprotocols, offered);
  if (error != Error::kNone) return fail_handshake(error, handler);
  std::vector<ExtensionOffer> accepted;
  if (!parse_extensions(response.header_values("Sec-WebSocket-Extensions"), accepted)) {
    return fail_handshake(Error::kHandshakeBadResponse, handler);
  }
  if (!accepted.empty()) {  // only possible if we offered (checked above)
    DeflateParams params;
    if (Error bad = read_deflate_response(accepted, params); bad != Error::kNone) {
      return fail_handshake(bad, handler);
    }
    start_deflate(params, *client_->deflate);
  }
  if (const std::string* chosen = response.header("Sec-WebSocket-Protocol")) {
    extras().subprotocol = *chosen;
  }
  state_ = State::kOpen;
  handshake_.reset();
  handler.on_open(*this);
}

void Connection::fail_handshake(Error error, ConnectionHandler& handler) {
  // RFC 6455 §4.1: "the client MUST _Fail the WebSocket Connection_": there
  // is no WebSocket yet, so no close frame; the TCP connection just closes.
  state_ = State::kClosed;
  close_code_ = kCloseAbnormal;
  extras().close_reason = to_string(error);
  handler.on_error(*this, error);
}

void Connection::process_frames(std::span<uint8_t> data, ConnectionHandler& handler) {
  // Frames are handled strictly in order: a message that precedes a bad
  // frame in the same read is delivered (and answered) before the failure.
  while (!data.empty() && state_ != State::kClosed) {
    DecodeResult piece = decoder_.decode(data);
    data = data.subspan(piece.consumed);
    if (piece.status == DecodeStatus::kNeedMore) return;
    if (piece.status == DecodeStatus::kError) return fail(piece.error, handler);
    on_frame_piece(piece, handler);
  }
}

void Connection::on_frame_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  (void)piece;
  (void)handler;
  todo("Connection::on_frame_piece (tutorial/06-messages.md)");
}

// RFC 6455 §5.4: a message is one frame with FIN set, or a text/binary frame
// without FIN followed by continuation frames, the last one with FIN.
// Control frames may come in between; data frames of another message may not.

void Connection::on_data_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  (void)piece;
  (void)handler;
  todo("Connection::on_data_piece (tutorial/06-messages.md, region message.data-piece)");
}

void Connection::deliver_message(std::span<const uint8_t> payload, ConnectionHandler& handler) {
  (void)payload;
  (void)handler;
  todo("Connection::deliver_message (tutorial/06-messages.md, region message.deliver)");
}

void Connection::on_control_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  // A control payload (at most 125 bytes, §5.5) may still arrive in pieces.
  std::span<const uint8_t> payload = piece.payload;
  if (!(piece.frame_start && piece.frame_end)) {
    std::string& control = extras().control;
    if (piece.frame_start) control.clear();
    control.append(as_text(piece.payload));
    if (!piece.frame_end) return;
    payload = as_bytes(control);
  }
  switch (decoder_.header().opcode) {
    case Opcode::kPing:
      // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send
      // a Pong frame in response ... [with] identical Application data".
      if (state_ == State::kOpen) queue_frame(Opcode::kPong, payload, true);
      handler.on_ping(*this, payload);
      break;
    case Opcode::kPong: handler.on_pong(*this, payload); break;
    default: on_close_frame(payload, handler); break;
  }
}

void Connection::on_close_frame(std::span<const uint8_t> payload, ConnectionHandler& handler) {
  ClosePayload close;
  if (Error error = parse_close_payload(payload, close); error != Error::kNone) {
    return fail(error, handler);  // 1002 for a bad code, 1007 for a bad reason
  }
  // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not
  // previously send a Close frame, the endpoint MUST send a Close frame in
  // response. ... typically echoing the status code it received."
  if (!close_sent_) queue_close(close.code, {});
  finish(close.code, close.reason, handler);
}

// RFC 6455 §7.1.7 _Fail the WebSocket Connection_: send a close frame with
// the error's code (if none was sent yet), stop reading, and close TCP.
void Connection::fail(Error error, ConnectionHandler& handler) {
  handler.on_error(*this, error);
  if (!close_sent_) queue_close(ws::close_code(error), to_string(error));
  finish(ws::close_code(error), to_string(error), handler);
}

void Connection::finish(uint16_t code, std::string_view reason, ConnectionHandler& handler) {
  state_ = State::kClosed;
  close_code_ = code;
  std::string_view kept_reason = truncate_utf8(reason, kMaxCloseReason);
  if (!kept_reason.empty() || extras_) extras().close_reason.assign(kept_reason);
  in_message_ = false;
  if (extras_) {
    std::string().swap(extras_->message);
    std::string().swap(extras_->control);
  }
  handler.on_close(*this, close_code_, close_reason());
}

// ---- server handshake answers -------------------------------------------------

Error Connection::accept(std::span<const std::string> subprotocols, std::string_view extra_headers,
                         DeflateShared* deflate) {
  if (role_ != Role::kServer || state_ != State::kConnecting || !handshake_) {
    return Error::kHandshakeBadResponse;  // not a request waiting for an answer
  }
  Handshake handshake =
      validate_client_handshake(handshake_->request_parser.request(), subprotocols);
  if (handshake.error != Error::kNone) {
    respond(build_error_response(handshake.error));  // 400, 405 or 426
    return handshake.error;
  }
  std::string extensions = negotiate_extensions(deflate);
  out_.append(build_accept_response(handshake, std::string(extra_headers) + extensions));
  if (!handshake.subprotocol.empty()) extras().subprotocol = std::move(handshake.subprotocol);
  state_ = State::kOpen;
  return Error::kNone;
}

// RFC 6455 §9.1 and RFC 7692 §5: the first offer of permessage-deflate we
// can accept is named in the 101; any other extension is declined by not
// naming it. Returns the header line for the 101 ("" declines them all).
std::string Connection::negotiate_extensions(DeflateShared* deflate) {
  if (deflate == nullptr) return "";
  const HttpRequest& request = handshake_->request_parser.request();
  std::vector<ExtensionOffer> offers;
  // A header we cannot parse says nothing we can trust: decline every offer.
  if (!parse_extensions(request.header_values("Sec-WebSocket-Extensions"), offers)) return "";
  DeflateParams params;
  std::string accepted = negotiate_deflate(offers, deflate->config(), params);
  if (accepted.empty()) return "";
  start_deflate(params, *deflate);
  return "Sec-WebSocket-Extensions: " + accepted + "\r\n";
}

void Connection::start_deflate(const DeflateParams& params, DeflateShared& shared) {
  deflate_ = std::make_unique<PerMessageDeflate>(params, role_, shared);
  decoder_.allow_rsv1(true);
}

void Connection::respond(std::string_view response_bytes) {
  if (state_ != State::kConnecting) return;
  if (handshake_) handshake_->answered = true;
  out_.append(response_bytes);
  state_ = State::kClosed;
  close_code_ = kCloseAbnormal;  // there never was a WebSocket
}

void Connection::reject(int status, std::string_view body, std::string_view extra_headers) {
  respond(build_http_response(status, "text/plain; charset=utf-8", body, extra_headers));
}

// ---- plain HTTP answers and keep-alive -------------------------------------------

// RFC 9112 §9.3: "HTTP/1.1 defaults to the use of persistent connections";
// "close" in the request's Connection header ends it after this answer. An
// HTTP/1.0 client keeps it only if it asked with "keep-alive" (§9.3, and
// Appendix C.2.2: we answer its "keep-alive" with ours).
bool Connection::keep_alive_after(const HttpReply& reply) const {
  const HttpRequest& request = handshake_->request_parser.request();
  if (reply.close || handshake_->requests + 1 >= handshake_->max_requests) return false;
  if (request.header_has_token("Connection", "close")) return false;
  return request.version_minor >= 1 || request.header_has_token("Connection", "keep-alive");
}

// RFC 9110 §9.3.2: HEAD is GET without the content; §15.4.5: a 304 has none.
bool Connection::answers_head_only(const HttpReply& reply) const {
  return handshake_->request_parser.request().method == "HEAD" || reply.status == 304 ||
         reply.status == 204;
}

void Connection::reply(const HttpReply& reply) {
  if (role_ != Role::kServer || state_ != State::kConnecting || !handshake_) return;
  bool keep = keep_alive_after(reply);
  const HttpRequest& request = handshake_->request_parser.request();
  std::string_view connection = !keep ? "close" : request.version_minor == 0 ? "keep-alive" : "";
  out_.append(build_reply_head(reply, reply.body.size(), connection));
  if (!answers_head_only(reply)) out_.append(reply.body);
  finish_answer(keep);
}

bool Connection::reply_streamed(const HttpReply& head, std::unique_ptr<ReplyBody> body) {
  if (role_ != Role::kServer || state_ != State::kConnecting || !handshake_) return false;
  bool keep = keep_alive_after(head);
  const HttpRequest& request = handshake_->request_parser.request();
  std::string_view connection = !keep ? "close" : request.version_minor == 0 ? "keep-alive" : "";
  out_.append(build_reply_head(head, body->size(), connection));
  bool sends = !answers_head_only(head) && body->size() > 0;
  if (sends) handshake_->streamed = std::move(body);
  finish_answer(keep);
  return sends;
}

void Connection::finish_answer(bool keep_alive) {
  handshake_->answered = true;
  ++handshake_->requests;
  if (!keep_alive) {
    state_ = State::kClosed;
    close_code_ = kCloseAbnormal;  // there never was a WebSocket
  }
}

ReplyBody* Connection::streamed_body() const {
  return handshake_ ? handshake_->streamed.get() : nullptr;
}

void Connection::streamed_body_sent(ConnectionHandler& handler) {
  if (!handshake_ || !handshake_->streamed) return;
  handshake_->streamed.reset();
  if (state_ != State::kConnecting || handshake_->held.empty()) return;
  // The pipelined requests that came while the file was sent, in order.
  std::string held = std::move(handshake_->held);
  handshake_->held = {};
  receive_data({reinterpret_cast<uint8_t*>(held.data()), held.size()}, handler);
}

bool Connection::idle_between_requests() const {
  return role_ == Role::kServer && state_ == State::kConnecting && handshake_ &&
         handshake_->requests > 0 && !handshake_->streamed && !handshake_->body &&
         handshake_->request_parser.idle();
}

void Connection::close_idle() {
  if (idle_between_requests()) state_ = State::kClosed;
}

bool Connection::wants_close_transport() const {
  return state_ == State::kClosed && !streamed_body();
}

// ---- application sends -----------------------------------------------------------

bool Connection::send_text(std::string_view text) {
  return send_frame(Opcode::kText, as_bytes(text), true);
}

bool Connection::send_binary(std::span<const uint8_t> data) {
  return send_frame(Opcode::kBinary, data, true);
}

bool Connection::send_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin) {
  if (state_ != State::kOpen || is_control(opcode)) return false;
  // §5.4: fragments of one message may not be interleaved with another's.
  bool continues = opcode == Opcode::kContinuation;
  if (continues != sending_fragments_) return false;
  if (payload.size() > max_output_ - std::min(out_.size(), max_output_)) return false;
  // A whole message of some size goes out compressed, if the extension was
  // negotiated (a fragmented one is sent as it is: RSV1 is per message).
  if (deflate_ && fin && !continues && deflate_->worth_compressing(payload.size())) {
    return queue_compressed(opcode, payload);
  }
  if (!queue_frame(opcode, payload, fin)) return false;
  sending_fragments_ = !fin;
  return true;
}

// Below kDirectSendMin a copy costs less than a system call of its own:
// small replies are gathered in the output and leave with one send per loop
// turn (16 in flight: one send for 16 replies). Above it, the copy into the
// output (a pass over every byte) is what the direct path saves.
size_t Connection::frame_direct(Opcode opcode, std::span<const uint8_t> payload,
                                std::span<uint8_t, kMaxFrameHeaderSize> header) const {
  if (role_ != Role::kServer || state_ != State::kOpen || is_control(opcode)) return 0;
  if (opcode == Opcode::kContinuation || sending_fragments_ || !out_.empty()) return 0;
  if (payload.size() < kDirectSendMin || payload.size() > max_output_) return 0;
  if (deflate_ && deflate_->worth_compressing(payload.size())) return 0;
  return encode_server_header(header, opcode, payload.size());
}

// Queues what the kernel did not take: the rest of the header, then the rest
// of the payload. The output was empty (frame_direct() checked), so this
// frame's remainder is first in it, and the payload fits (<= max_output_).
void Connection::direct_sent(std::span<const uint8_t> header, std::span<const uint8_t> payload,
                             size_t written) {
  if (written < header.size()) {
    out_.append(header.subspan(written));
    written = header.size();
  }
  out_.append(payload.subspan(std::min(written - header.size(), payload.size())));
}

bool Connection::send_encoded(std::span<const uint8_t> frame) {
  if (state_ != State::kOpen || role_ != Role::kServer || sending_fragments_) return false;
  if (frame.size() > max_output_ - std::min(out_.size(), max_output_)) return false;
  return out_.append(frame);
}

bool Connection::send_ping(std::span<const uint8_t> payload) {
  if (state_ != State::kOpen || payload.size() > kMaxControlPayload) return false;
  return queue_frame(Opcode::kPing, payload, true);
}

bool Connection::send_pong(std::span<const uint8_t> payload) {
  if (state_ != State::kOpen || payload.size() > kMaxControlPayload) return false;
  return queue_frame(Opcode::kPong, payload, true);
}

bool Connection::close(uint16_t code, std::string_view reason) {
  if (state_ != State::kOpen) return false;
  if (code != kCloseNoStatus && !is_valid_close_code(code)) return false;
  queue_close(code, reason);
  state_ = State::kClosing;  // §7.1.2: now wait for the peer's close frame
  return true;
}

void Connection::queue_close(uint16_t code, std::string_view reason) {
  ClosePayloadBytes payload;
  size_t size = build_close_payload(code, reason, payload);
  queue_frame(Opcode::kClose, std::span<const uint8_t>(payload.data(), size), true);
  close_sent_ = true;
}

bool Connection::queue_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin, bool rsv1) {
  if (role_ == Role::kServer) return append_frame(out_, opcode, fin, payload, nullptr, rsv1);
  return queue_masked_frame(opcode, payload, fin, rsv1);
}

// Out of line: the key and the call to random_bytes() stay off a server's path.
[[gnu::noinline]] bool Connection::queue_masked_frame(Opcode opcode,
                                                      std::span<const uint8_t> payload, bool fin,
                                                      bool rsv1) {
  // RFC 6455 §5.3: a client masks every frame with a fresh, unpredictable key.
  MaskKey key;
  client_->random_bytes(key);
  return append_frame(out_, opcode, fin, payload, &key, rsv1);
}

// RFC 7692 §7.2.1: the message is compressed whole and sent as one frame
// with RSV1 set (§6: "the first frame of the message").
bool Connection::queue_compressed(Opcode opcode, std::span<const uint8_t> message) {
  std::span<const uint8_t> compressed = deflate_->compress(message);
  // zlib failed (out of memory): the message still goes, uncompressed.
  if (compressed.empty() && !message.empty()) return queue_frame(opcode, message, true);
  return queue_frame(opcode, compressed, true, /*rsv1=*/true);
}

// A piece of a compressed message: inflated as it arrives, so that the
// limit (→ 1009) and UTF-8 (→ 1007) are checked on what it becomes, chunk by
// chunk, and a bomb is stopped after max_message_size bytes, not after it
// has filled the memory.
void Connection::on_compressed_piece(const DecodeResult& piece, ConnectionHandler& handler) {
  const bool message_ends = piece.frame_end && decoder_.header().fin;
  // A message in one piece (the common case) is inflated into the loop's
  // buffer and delivered from there: the connection keeps no copy of it.
  const bool whole = piece.frame_start && message_ends && buffered_message_size() == 0;
  std::string& message = whole ? deflate_->shared_message() : extras().message;
  if (whole) message.clear();
  if (!inflate_into(message, piece.payload, handler)) return;
  if (!message_ends) return;
  // §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the
  // payload of the message" and inflate them too: they finish the last block.
  if (!inflate_into(message, kDeflateTail, handler)) return;
  deflate_->end_message();
  deliver_message(as_bytes(message), handler);
  if (whole && message.capacity() > kInflateChunk * 64) std::string().swap(message);
}

bool Connection::inflate_into(std::string& message, std::span<const uint8_t> in,
                              ConnectionHandler& handler) {
  std::array<uint8_t, kInflateChunk> chunk;  // each step writes at most this much
  while (true) {
    const InflateResult r = deflate_->inflate(in, chunk);
    in = in.subspan(r.consumed);
    if (r.error != Error::kNone) {
      fail(r.error, handler);
      return false;
    }
    if (r.produced > max_message_size_ - message.size()) {
      fail(Error::kMessageTooLarge, handler);
      return false;
    }
    const std::span<const uint8_t> out(chunk.data(), r.produced);
    if (message_opcode_ == Opcode::kText && !utf8_.feed(out)) {
      fail(Error::kMessageInvalidUtf8, handler);
      return false;
    }
    message.append(as_text(out));
    // A full chunk may mean more output is waiting; otherwise, when all the
    // input is taken (or no progress is possible), this piece is done.
    if (r.produced < chunk.size() && (in.empty() || r.consumed == 0)) return true;
  }
}

void Connection::release_memory_if_idle() {
  out_.release_if_empty();
  // Not while a message or a frame is only partly here: its bytes live there.
  if (!extras_ || in_message_ || !decoder_.at_frame_boundary()) return;
  std::string().swap(extras_->message);
  std::string().swap(extras_->control);
  if (extras_->subprotocol.empty() && extras_->close_reason.empty()) extras_.reset();
}

}  // namespace ws
