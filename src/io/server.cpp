// The server (see server.h): one epoll loop, one read buffer for everyone,
// one ClientSocket per TCP connection that moves bytes between the kernel and
// its protocol Connection, and a periodic sweep for every deadline.
#include "openpipe/io/server.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "openpipe/io/proxy.h"
#include "openpipe/io/static_files.h"
#include "openpipe/io/tls_transport.h"

namespace ws {

// How much one read() may take. One buffer serves every connection: an idle
// connection keeps no read buffer of its own (only bytes a partial frame
// left behind are kept, inside its Connection).
inline constexpr size_t kReadBufferSize = 256 * 1024;

// How long a quiet connection keeps its output and message buffers.
inline constexpr Millis kKeepBuffersWhileBusy{1000};

// TCP connections allowed beyond max_connections, to answer them with 503.
inline constexpr size_t kExtraSockets = 1024;

// The history's clock (max_age_ms): any steady one will do.
namespace {
int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

// A TCP connection: the socket, the protocol state machine, the application's
// handle, and the bookkeeping for timers and backpressure.
class ClientSocket final : public WebSocket, public IoHandler, public ConnectionHandler {
 public:
  ClientSocket(Server& server, Fd fd, uint64_t id, const TlsContext* tls);

  void on_io(uint32_t events) override;
  void flush();
  void check_deadlines(EventLoop::TimePoint now);
  void start_shutdown();
  void end(ConnectionHandler& handler);
  void after_protocol_step();
  bool deliver(std::span<const uint8_t> frame);
  bool send_message(Opcode opcode, std::span<const uint8_t> payload);
  bool send_direct(std::span<const uint8_t> header, std::span<const uint8_t> payload);

  int fd() const { return fd_.get(); }
  Connection& protocol() { return protocol_; }
  const Connection& protocol() const { return protocol_; }
  std::string peer_text() const;
  bool opened() const { return opened_; }
  const Route& route() const { return route_->route; }  // valid once opened()
  Server& server() const { return server_; }

 private:
  // ConnectionHandler: events from the protocol state machine.
  void on_request(Connection& c, const HttpRequest& request) override;
  uint64_t on_request_head(Connection& c, const HttpRequest& request) override;
  void on_open(Connection& c) override;
  void on_text(Connection& c, std::string_view text) override;
  void on_binary(Connection& c, std::span<const uint8_t> data) override;
  void on_ping(Connection& c, std::span<const uint8_t> payload) override;
  void on_pong(Connection& c, std::span<const uint8_t> payload) override;
  void on_close(Connection& c, uint16_t code, std::string_view reason) override;
  void on_error(Connection& c, Error error) override;

  void read_once();
  void receive_tls(TlsTransport& tls, std::span<uint8_t> buffer, size_t n);
  bool write_tls(TlsTransport& tls);
  TlsTransport* tls() const { return details_ ? details_->tls.get() : nullptr; }
  size_t queued() const;  // output not yet written: the Connection's, then TLS's
  void trust_forwarded_for(const HttpRequest& request);
  void begin_lingering_close();
  void set_interest();
  void upgrade_or_refuse(const HttpRequest& request, const RouteEntry& entry);
  void serve_plain_http(const HttpRequest& request);
  void answer_http_route(const HttpRequest& request, const HttpRoute& route);
  bool send_streamed_body();
  bool answers_still_queued() const {
    State state = protocol_.state();
    return (state == State::kConnecting || state == State::kClosed) &&
           (protocol_.buffered_amount() > 0 || protocol_.streamed_body());
  }
  void trace_flush();
  Tracer* tracer() const;

  //> server.client-socket-state
  // Only what is needed to run an idle plain connection is stored here;
  // the details for --trace, TLS and a proxied client's address live behind
  // one pointer, null for a plain connection, logging or not: the log lines
  // ask the kernel for the peer's address when they are printed, so logging
  // costs a getpeername() per line, not memory per connection.
  struct Details {
    std::string peer;                   // with --trace, or "client via proxy" (proxy.h)
    std::unique_ptr<Tracer> tracer;     // only with --trace
    std::string trace_text;             // the tracer's output, printed per step
    std::unique_ptr<TlsTransport> tls;  // only on the TLS port (chapter 23)
  };
  Server& server_;
  Fd fd_;  // owned: closed when the socket is freed

 public:                          // the server's bookkeeping (small fields together: no padding)
  uint32_t index = 0;             // position in Server::sockets_
  bool queued_for_flush = false;  // in Server::pending_flush_
  bool dead = false;              // destroyed; freed before the loop sleeps

 private:
  bool awaiting_pong_ = false;        // a heartbeat ping is unanswered
  bool reading_paused_ = false;       // backpressure: output above the high-water mark
  bool lingering_ = false;            // we sent FIN (shutdown SHUT_WR); reading until EOF
  bool closing_ = false;              // the closing handshake (or FIN) has started
  bool busy_ = false;                 // messages flow: keep buffers (see flush())
  bool opened_ = false;               // the WebSocket is open: route_'s callbacks apply
  Connection protocol_;               // every byte goes through it
  std::unique_ptr<Details> details_;  // null unless --trace, TLS or a proxy
  // One timestamp serves three deadlines that never overlap: the accept time
  // (CONNECTING: the handshake deadline), the ping's time (OPEN while
  // awaiting_pong_), the start of closing (closing_).
  EventLoop::TimePoint phase_since_;
  EventLoop::TimePoint last_heard_;    // last bytes from the client: the ping timer
  EventLoop::TimePoint last_message_;  // last message: the idle timer
  //< server.client-socket-state
};

// ---- WebSocket: the application's handle ------------------------------------------------

// The handle is the ClientSocket itself, seen through its public base.
static ClientSocket& socket_of(WebSocket& socket) {
  return static_cast<ClientSocket&>(socket);
}
static const ClientSocket& socket_of(const WebSocket& socket) {
  return static_cast<const ClientSocket&>(socket);
}

bool WebSocket::send_text(std::string_view text) {
  return socket_of(*this).send_message(
      Opcode::kText, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}
bool WebSocket::send_binary(std::span<const uint8_t> data) {
  return socket_of(*this).send_message(Opcode::kBinary, data);
}
bool WebSocket::ping(std::span<const uint8_t> payload) {
  bool ok = socket_of(*this).protocol().send_ping(payload);
  socket_of(*this).after_protocol_step();  // written before the loop sleeps
  return ok;
}
bool WebSocket::close(uint16_t code, std::string_view reason) {
  bool ok = socket_of(*this).protocol().close(code, reason);
  socket_of(*this).after_protocol_step();  // written before the loop sleeps
  return ok;
}
size_t WebSocket::buffered_amount() const {
  return socket_of(*this).protocol().buffered_amount();
}
const std::string& WebSocket::subprotocol() const {
  return socket_of(*this).protocol().subprotocol();
}
State WebSocket::state() const {
  return socket_of(*this).protocol().state();
}
const DeflateParams* WebSocket::deflate() const {
  return socket_of(*this).protocol().deflate();
}
std::string WebSocket::peer() const {
  return socket_of(*this).peer_text();
}
const std::string& WebSocket::path() const {
  static const std::string kNone;
  return route_ ? route_->path : kNone;
}

//> server.subscribe
bool WebSocket::subscribe(std::string_view topic) {
  ClientSocket& socket = socket_of(*this);
  if (socket.dead || state() == State::kClosing || state() == State::kClosed) return false;
  return socket.server().topics_.subscribe(this, topic);
}
bool WebSocket::unsubscribe(std::string_view topic) {
  return socket_of(*this).server().topics_.unsubscribe(this, topic);
}
//< server.subscribe

//> server.resume
// The seam between history and live messages. Everything below runs on the
// loop's thread, in one call: a publish from another thread (post()) or
// from another client's message runs on this thread too, so it lands either
// wholly before this call (it is in `missed`) or wholly after it (the socket
// is subscribed and gets it live, after whatever the caller queues now).
// Nothing is lost between the snapshot and the subscription, and nothing is
// in both. With a broker (chapter 20) the history is this process's only:
// messages published by other processes are not in it, so a resume answers
// kNoHistory rather than a list with holes.
Recovery WebSocket::subscribe_resume(std::string_view topic, uint64_t offset,
                                     std::string_view epoch) {
  Server& server = socket_of(*this).server();
  subscribe(topic);
  TopicHistory* history = server.history(topic);
  if (history == nullptr || server.topics_.observer() != nullptr) {
    Recovery none;
    if (history != nullptr) {
      none.epoch = history->epoch();
      none.last_offset = history->last_offset();
    }
    return none;  // recovered = false, kNoHistory
  }
  return history->since(offset, epoch, steady_ms());
}
//< server.resume

//> server.resume-shared
// With a shared history (Redis) the answer comes later, from the broker,
// at its seam (history.h, SharedHistory::since): the socket is subscribed
// then, in the same call that hands the Recovery to the application, so the
// next live message it gets is the one after recovery.last_offset. It is
// found again by id: it may have closed while Redis was answering.
void WebSocket::subscribe_from(std::string_view topic, uint64_t offset, std::string_view epoch,
                               ResumeDone done) {
  Server& server = socket_of(*this).server();
  const HistoryLimits* limits = server.histories_.limits_for(topic);
  if (server.shared_history_ == nullptr || limits == nullptr) {
    Recovery recovery;
    if (!epoch.empty()) {
      recovery = subscribe_resume(topic, offset, epoch);
    } else if (subscribe(topic); const TopicHistory* history = server.history(topic)) {
      recovery.epoch = history->epoch();
      recovery.last_offset = history->last_offset();
    }
    return done(*this, recovery);
  }
  auto answered_now = std::make_shared<bool>(true);  // since() may answer before returning
  server.shared_history_->since(
      topic, *limits, offset, epoch,
      [this, &server, id = id_, name = std::string(topic), done, answered_now](Recovery& r) {
        WebSocket* socket = *answered_now ? this : server.find(id);
        if (socket == nullptr) return;  // closed meanwhile: nobody to tell
        socket->subscribe(name);
        done(*socket, r);
      });
  *answered_now = false;
}
//< server.resume-shared
std::vector<std::string> WebSocket::topics() const {
  return socket_of(*this).server().topics_.topics_of(this);
}
uint64_t WebSocket::dropped_messages() const {
  return socket_of(*this).server().topics_.dropped(this);
}

// ---- ClientSocket --------------------------------------------------------------------------

ClientSocket::ClientSocket(Server& server, Fd fd, uint64_t id, const TlsContext* tls)
    : server_(server), fd_(std::move(fd)), protocol_(server.config().limits) {
  id_ = id;
  phase_since_ = last_heard_ = last_message_ = server_.loop().now();
  const ServerConfig& config = server_.config();
  if (!config.trace && !tls) return;
  details_ = std::make_unique<Details>();
  if (tls) details_->tls = std::make_unique<TlsTransport>(*tls);
  if (config.trace) {
    details_->peer = peer_name(fd_.get());
    TraceOptions options;
    options.role = Role::kServer;
    options.colour = isatty(STDERR_FILENO) != 0;
    options.label = "[" + std::to_string(id) + "] ";
    details_->tracer = std::make_unique<Tracer>(details_->trace_text, options);
    details_->tracer->note("connection from " + details_->peer);
  }
}

std::string ClientSocket::peer_text() const {
  if (details_ && !details_->peer.empty()) return details_->peer;
  // Not stored: the kernel knows it while the connection lasts. After a
  // reset it no longer does (getpeername: ENOTCONN), and the line says so.
  std::string name = peer_name(fd_.get());
  return name.empty() ? "(disconnected)" : name;
}

Tracer* ClientSocket::tracer() const {
  return details_ ? details_->tracer.get() : nullptr;
}

//> server.on-io
void ClientSocket::on_io(uint32_t events) {
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_once();
  if (!dead && (events & EPOLLOUT)) flush();
  trace_flush();
}
//< server.on-io

//> server.read
void ClientSocket::read_once() {
  std::span<uint8_t> buffer(server_.read_buffer_);
  ssize_t n = read_some(fd_.get(), buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;  // spurious wake-up: wait again
  if (n == 0 && answers_still_queued()) {
    // Plain HTTP: a client may send its requests and its FIN together
    // (`printf 'GET / ...' | nc`). No more requests, but the answers go out.
    protocol_.receive_eof(*this);
    reading_paused_ = true;  // the EOF stays readable: do not wake for it again
    set_interest();
    return after_protocol_step();
  }
  if (n <= 0) return end(*this);  // 0: the client closed its end; < 0: reset or another error
  last_heard_ = server_.loop().now();
  awaiting_pong_ = false;  // any bytes prove the client is alive
  if (lingering_) return;  // after our FIN, what the client still sends is dropped
  if (TlsTransport* t = tls()) return receive_tls(*t, buffer, static_cast<size_t>(n));
  std::span<uint8_t> received = buffer.first(static_cast<size_t>(n));
  if (Tracer* t = tracer()) t->on_received(received);
  protocol_.receive_data(received, *this);
  after_protocol_step();
}
//< server.read

// After the protocol produced output or changed state: schedule the write
// (batched: one send per connection per loop turn), apply backpressure.
//> server.after-step
void ClientSocket::after_protocol_step() {
  if (dead) return;
  if (queued() > 0 || protocol_.wants_close_transport()) server_.schedule_flush(this);
  if (!reading_paused_ && queued() > server_.config().high_water_mark) {
    reading_paused_ = true;  // the client is not reading: stop reading it too
    set_interest();
  }
}
//< server.after-step

//> server.flush
void ClientSocket::flush() {
  TlsTransport* tls_transport = tls();
  while (!dead && !tls_transport) {
    if (protocol_.buffered_amount() == 0) {
      // A file follows its head (static files): sendfile() once the head is out.
      if (!protocol_.streamed_body() || !send_streamed_body()) break;
      continue;
    }
    std::span<const uint8_t> output = protocol_.pending_output();
    ssize_t n = send_nosignal(fd_.get(), output);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;  // the kernel's buffer is full: EPOLLOUT will tell
    if (n < 0) return end(*this);         // EPIPE, ECONNRESET: the client is gone
    if (Tracer* t = tracer()) t->on_sent(output.first(static_cast<size_t>(n)));
    protocol_.mark_sent(static_cast<size_t>(n));
  }
  if (tls_transport && !write_tls(*tls_transport)) return;  // the connection ended
  if (dead) return;
  if (reading_paused_ && queued() <= server_.config().high_water_mark / 2) {
    reading_paused_ = false;  // drained enough: read the client again
  }
  if (queued() == 0) {
    // A connection that is exchanging messages keeps its buffers for the
    // next one; any other (just opened, or only pushed to) gives them back.
    if (!busy_) protocol_.release_memory_if_idle();
    if (protocol_.wants_close_transport() && !lingering_) begin_lingering_close();
  }
  set_interest();
  trace_flush();
}
//< server.flush

//> server.send-message
// A message from the application. A small one is queued and written before
// the loop sleeps, with the others of this turn. A large one with nothing
// queued before it is written at once from the caller's memory: the header
// and the payload in one sendmsg(), no copy into the output (chapter 16).
// Only what the kernel did not take is queued, before this returns: the
// caller may free or reuse the payload as soon as it does. TLS and --trace
// keep the copy (the bytes must be encrypted, or shown, first).
bool ClientSocket::send_message(Opcode opcode, std::span<const uint8_t> payload) {
  // The size first: a small reply (the common case) pays one comparison.
  if (payload.size() >= Connection::kDirectSendMin && !tls() && !tracer() && !dead) {
    std::array<uint8_t, kMaxFrameHeaderSize> frame_header;
    if (size_t size = protocol_.frame_direct(opcode, payload, frame_header); size > 0) {
      return send_direct({frame_header.data(), size}, payload);
    }
  }
  bool ok = protocol_.send_frame(opcode, payload, true);
  after_protocol_step();  // written before the loop sleeps
  return ok;
}

bool ClientSocket::send_direct(std::span<const uint8_t> header, std::span<const uint8_t> payload) {
  ssize_t n;
  do {
    n = send_two_nosignal(fd_.get(), header, payload);
  } while (n < 0 && errno == EINTR);
  // EAGAIN: all of it is queued, EPOLLOUT will tell. Another error (the
  // client is gone): queued too, and the next flush() meets the error and
  // ends the connection, outside the application's callback.
  protocol_.direct_sent(header, payload, n > 0 ? static_cast<size_t>(n) : 0);
  after_protocol_step();
  return true;
}
//< server.send-message

//> server.deliver
// This socket's share of a publish or broadcast: the frame's bytes, encoded
// once for everyone, appended to its output and written before the loop
// sleeps with the rest of it. A socket already above its route's mark gets
// the slow-subscriber policy instead, so its queue stays bounded.
bool ClientSocket::deliver(std::span<const uint8_t> frame) {
  if (!opened_ || protocol_.state() != State::kOpen) return false;
  const Route& r = route();
  size_t mark = r.high_water_mark > 0 ? r.high_water_mark : server_.config().high_water_mark;
  if (protocol_.buffered_amount() > mark) {
    server_.topics_.count_dropped(this);
    ++server_.dropped_messages_;
    if (r.slow_subscriber == SlowSubscriberPolicy::kClose) {
      protocol_.close(kClosePolicyViolation, "too slow");  // RFC 6455 §7.4.1: 1008
      after_protocol_step();
    }
    return false;
  }
  bool queued = protocol_.send_encoded(frame);
  after_protocol_step();
  return queued;
}
//< server.deliver

//> server.lingering-close
// RFC 6455 §7.1.1: "the underlying TCP connection ... SHOULD be closed first
// by the server". shutdown(SHUT_WR) sends our FIN but keeps reading: closing
// the socket outright while the client's last bytes are unread would send a
// RST, and a RST can destroy our close frame before the client reads it.
void ClientSocket::begin_lingering_close() {
  lingering_ = true;
  reading_paused_ = false;  // read until the client's EOF (maybe already here)
  if (!closing_) {
    closing_ = true;
    phase_since_ = server_.loop().now();
  }
  ::shutdown(fd_.get(), SHUT_WR);
}
//< server.lingering-close

//> server.tls-seam
// With TLS (chapter 23) the same two steps go through the TlsTransport: the
// ciphertext read is decrypted into the Connection, and the Connection's
// output is encrypted before it is written. Nothing else changes.
void ClientSocket::receive_tls(TlsTransport& tls, std::span<uint8_t> buffer, size_t n) {
  TlsStatus status = tls.receive(buffer, n, protocol_, *this, tracer());
  if (status == TlsStatus::kError) {
    // A failed handshake (a plain-HTTP client on this port, an unknown CA)
    // or a forged record: nothing more can be read. Send the alert, if
    // OpenSSL made one, and close.
    server_.log("refused " + peer() + ": TLS: " + tls.session().error_text());
    std::span<const uint8_t> alert = tls.session().pending_output();
    if (!alert.empty()) [[maybe_unused]]
      ssize_t sent = send_nosignal(fd_.get(), alert);
    return end(*this);
  }
  if (status == TlsStatus::kClosed) return end(*this);  // close_notify: like EOF
  after_protocol_step();
}

// Writes ciphertext until the kernel's buffer is full or nothing is left.
// False if the connection ended.
bool ClientSocket::write_tls(TlsTransport& tls) {
  while (!dead) {
    std::span<const uint8_t> output = tls.output(protocol_, tracer());
    if (output.empty()) break;
    ssize_t n = send_nosignal(fd_.get(), output);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;  // EPOLLOUT will tell
    if (n < 0) {
      end(*this);
      return false;
    }
    tls.mark_sent(static_cast<size_t>(n));
  }
  if (!dead && protocol_.wants_close_transport() && !tls.session().handshake_done()) {
    end(*this);  // a handshake that never finished has no close_notify to send
  }
  return !dead;
}
//< server.tls-seam

size_t ClientSocket::queued() const {
  size_t bytes = protocol_.buffered_amount();
  if (TlsTransport* t = tls()) bytes += t->buffered_amount();
  return bytes;
}

//> server.forwarded-for
// Behind a reverse proxy every connection comes from the proxy; the client's
// address is in X-Forwarded-For, which anyone can send. It is believed only
// from a configured proxy, and only its last entry: the one the proxy
// appended itself (nginx's $proxy_add_x_forwarded_for). Earlier entries came
// from the client and prove nothing.
void ClientSocket::trust_forwarded_for(const HttpRequest& request) {
  const std::string* forwarded = request.header("X-Forwarded-For");
  if (!forwarded) return;
  std::string proxy = peer_host(peer_name(fd_.get()));
  const std::vector<std::string>& trusted = server_.config().trusted_proxies;
  if (std::find(trusted.begin(), trusted.end(), proxy) == trusted.end()) return;
  std::string client = last_forwarded_address(*forwarded);
  if (client.empty()) return;
  if (!details_) details_ = std::make_unique<Details>();
  details_->peer = client + " via " + proxy;
}
//< server.forwarded-for

//> server.set-interest
void ClientSocket::set_interest() {
  uint32_t events = 0;
  // While a file is sent, pipelined requests wait in the kernel, not in us.
  bool streaming = protocol_.streamed_body() != nullptr;
  if (!reading_paused_ && !streaming) events |= EPOLLIN;
  // EPOLLOUT only while output waits (and, with TLS, can move: tls_transport.h).
  if (TlsTransport* t = tls()) {
    if (t->wants_write(protocol_)) events |= EPOLLOUT;
  } else if (protocol_.buffered_amount() > 0 || streaming) {
    events |= EPOLLOUT;
  }
  if (server_.loop().interest(fd_.get()) != events) server_.loop().modify(fd_.get(), events);
}
//< server.set-interest

void ClientSocket::trace_flush() {
  if (!details_ || details_->trace_text.empty()) return;
  std::string& text = details_->trace_text;
  std::fwrite(text.data(), 1, text.size(), stderr);
  text.clear();
}

//> server.deadlines
void ClientSocket::check_deadlines(EventLoop::TimePoint now) {
  const ServerConfig& config = server_.config();
  auto passed = [now](EventLoop::TimePoint since, Millis limit) {
    return limit.count() > 0 && now - since >= limit;
  };
  State state = protocol_.state();
  size_t queued_before = protocol_.buffered_amount();
  // Buffers are kept while a connection is busy (no allocation per message)
  // and given back once it has been quiet for a second.
  if (busy_ && queued_before == 0 && now - last_heard_ >= kKeepBuffersWhileBusy) {
    busy_ = false;
    protocol_.release_memory_if_idle();
  }
  if (closing_ && passed(phase_since_, config.close_timeout)) return end(*this);
  // A TLS handshake that did not finish in time cannot even carry a 408.
  if (state == State::kConnecting && tls() && !tls()->session().handshake_done() &&
      passed(phase_since_, config.handshake_timeout)) {
    return end(*this);
  }
  if (state == State::kConnecting && protocol_.idle_between_requests()) {
    // RFC 9112 §9.8: a server closes an idle persistent connection quietly.
    if (passed(phase_since_, config.keep_alive_timeout)) protocol_.close_idle();
  } else if (state == State::kConnecting && !protocol_.streamed_body() &&
             passed(phase_since_, config.handshake_timeout)) {
    protocol_.reject(408, "The request did not arrive in time.\n");  // slowloris
  } else if (state == State::kOpen && awaiting_pong_ && passed(phase_since_, config.pong_timeout)) {
    protocol_.close(kClosePolicyViolation, "no pong");
  } else if (state == State::kOpen && passed(last_message_, config.idle_timeout)) {
    protocol_.close(kCloseGoingAway, "idle timeout");
  } else if (state == State::kOpen && !awaiting_pong_ &&
             passed(last_heard_, config.ping_interval)) {
    protocol_.send_ping();  // RFC 6455 §5.5.2: "a Ping frame ... as a keepalive"
    awaiting_pong_ = true;
    phase_since_ = now;
  }
  if (!closing_ && protocol_.state() == State::kClosing) {
    closing_ = true;
    phase_since_ = now;
  }
  // Only what this check queued is scheduled: output that waits for the
  // client to read is EPOLLOUT's business, not the sweep's.
  if (protocol_.buffered_amount() != queued_before || protocol_.state() != state) {
    after_protocol_step();
  }
}
//< server.deadlines

//> server.start-shutdown
void ClientSocket::start_shutdown() {
  if (protocol_.state() == State::kConnecting) {
    protocol_.reject(503, "The server is shutting down.\n");
  } else {
    protocol_.close(kCloseGoingAway, "server shutting down");
  }
  if (!closing_) {
    closing_ = true;
    phase_since_ = server_.loop().now();
  }
  after_protocol_step();
}
//< server.start-shutdown

// The TCP connection is over: report 1006 if the WebSocket had not closed,
// then hand the socket to the server to free.
void ClientSocket::end(ConnectionHandler& handler) {
  if (dead) return;
  if (protocol_.state() != State::kClosed) protocol_.receive_eof(handler);
  if (Tracer* t = tracer()) t->on_closed();
  trace_flush();
  server_.destroy(this);
}

// ---- ClientSocket: protocol events ----------------------------------------------------------

//> server.on-request
void ClientSocket::on_request(Connection&, const HttpRequest& request) {
  const RouteEntry* route = server_.find_route(request.path());
  if (!server_.config().trusted_proxies.empty()) trust_forwarded_for(request);
  if (server_.shutting_down_) {
    protocol_.reject(503, "The server is shutting down.\n");
  } else if (!is_websocket_upgrade(request)) {
    if (const HttpRouteEntry* http = server_.find_http_route(request.path())) {
      answer_http_route(request, http->route);
    } else if (route) {
      // A WebSocket endpoint asked for as a plain page.
      protocol_.reject(426, missing_upgrade_text(request),
                       "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    } else {
      serve_plain_http(request);
    }
  } else if (!route) {
    protocol_.reject(404, "No WebSocket endpoint at this path.\n");
  } else if (server_.open_count_ >= server_.config().max_connections) {
    protocol_.reject(503, "Too many connections; try again later.\n", "Retry-After: 5\r\n");
  } else {
    upgrade_or_refuse(request, *route);
  }
  // Keep-alive: the wait for the next request starts now.
  if (protocol_.state() == State::kConnecting) phase_since_ = server_.loop().now();
  trace_flush();  // the trace of this request first, then its log line
  server_.log("http " + peer() + " " + request.method + " " + std::string(request.path()));
}
//< server.on-request

//> server.upgrade
void ClientSocket::upgrade_or_refuse(const HttpRequest& request, const RouteEntry& entry) {
  const Route& route = entry.route;
  // Cross-Site WebSocket Hijacking: browsers send the page's Origin; only the
  // allowed ones may open a WebSocket (RFC 6455 §10.2).
  const std::vector<std::string>& allowed = server_.config().allowed_origins;
  if (!allowed.empty()) {
    const std::string* origin = request.header("Origin");
    if (!origin || std::find(allowed.begin(), allowed.end(), *origin) == allowed.end()) {
      return protocol_.reject(403, "This Origin may not open a WebSocket here.\n");
    }
  }
  // A request that is no valid upgrade is answered now (400/405/426), so
  // the application's hook only ever sees well-formed WebSocket requests.
  if (Error error = validate_client_handshake(request).error; error != Error::kNone) {
    return protocol_.respond(build_error_response(error));
  }
  route_ = &entry;  // path() works from here on, in on_upgrade too
  if (route.on_upgrade) {
    UpgradeDecision decision = route.on_upgrade(request, *this);
    if (decision.status != 0) return protocol_.reject(decision.status, decision.body);
  }
  opened_ = protocol_.accept(route.subprotocols, {}, server_.deflate_.get()) == Error::kNone;
}
//< server.upgrade

//> server.plain-http
// RFC 9110 §9.3.7: "OPTIONS *" asks about the server as a whole.
void ClientSocket::serve_plain_http(const HttpRequest& request) {
  if (request.form == TargetForm::kAsterisk) {
    HttpReply reply = HttpReply::text(200, "");
    reply.headers = "Allow: GET, HEAD, OPTIONS, POST\r\n";
    return protocol_.reply(reply);
  }
  StaticAnswer answer = serve_static_file(server_.config().web_root, request);
  if (answer.file && tls()) {
    // sendfile() bypasses TLS: over https the file goes through the Connection.
    answer.reply.body = answer.file->read_all();
    protocol_.reply(answer.reply);
  } else if (answer.file) {
    protocol_.reply_streamed(answer.reply, std::move(answer.file));
  } else {
    protocol_.reply(answer.reply);
  }
}

static bool allows(const HttpRoute& route, std::string_view method) {
  return std::find(route.methods.begin(), route.methods.end(), method) != route.methods.end();
}

static std::string allow_header(const HttpRoute& route) {
  std::string list;
  for (const std::string& method : route.methods) list += (list.empty() ? "" : ", ") + method;
  return "Allow: " + list + "\r\n";  // RFC 9110 §15.5.6: a 405 MUST carry Allow
}

// Before a body is read: may this request carry one, and how large?
uint64_t ClientSocket::on_request_head(Connection&, const HttpRequest& request) {
  const HttpRouteEntry* entry = server_.find_http_route(request.path());
  if (!entry) {
    // Only static files and WebSockets here. A POST (or PUT...) is refused for
    // its method, as it is without a body (RFC 9110 §15.5.6: 405 with Allow);
    // a GET or HEAD carrying a body is refused for the body, which nothing reads.
    if (request.method != "GET" && request.method != "HEAD") {
      protocol_.reject(405, "Only GET and HEAD are served here.\n", "Allow: GET, HEAD\r\n");
    } else {
      protocol_.reject(413, "This resource takes no request body.\n");
    }
    return 0;
  }
  const HttpRoute& route = entry->route;
  if (!allows(route, request.method)) {
    protocol_.reject(405, "Method not allowed here.\n", allow_header(route));
  } else if (route.length_required && !request.header("Content-Length")) {
    protocol_.reject(411, "This resource needs a Content-Length.\n");
  }
  return route.max_body;
}

void ClientSocket::answer_http_route(const HttpRequest& request, const HttpRoute& route) {
  HttpReply reply;
  if (!allows(route, request.method)) {
    reply = HttpReply::text(405, "Method not allowed here.\n");
    reply.headers = allow_header(route);
  } else if (route.length_required && !request.header("Content-Length")) {
    reply = HttpReply::text(411, "This resource needs a Content-Length.\n");
  } else if (route.on_request) {
    reply = route.on_request(request);
  } else {
    reply = HttpReply::text(404, "Not Found\n");
  }
  protocol_.reply(reply);
}

// Sends the file behind a reply head; true when all of it went.
bool ClientSocket::send_streamed_body() {
  // The server streams only static files (serve_plain_http).
  auto* file = static_cast<StaticFile*>(protocol_.streamed_body());
  while (!file->done()) {
    ssize_t n = file->send_to(fd_.get());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;  // EPOLLOUT will call flush() again
    if (n <= 0) {  // the client left, or the file shrank: Content-Length can't be kept
      end(*this);
      return false;
    }
  }
  phase_since_ = server_.loop().now();  // keep-alive: the wait starts once the file is out
  protocol_.streamed_body_sent(*this);  // pipelined requests held meanwhile are read now
  return true;
}
//< server.plain-http

//> server.events
void ClientSocket::on_open(Connection&) {
  ++server_.open_count_;
  trace_flush();
  server_.log("open  " + peer() + " " + path());
  if (route().on_open) route().on_open(*this);
}

void ClientSocket::on_text(Connection&, std::string_view text) {
  last_message_ = last_heard_;  // read_once() just set it: no second clock read
  busy_ = true;
  if (route().on_message) route().on_message(*this, text, MessageType::kText);
}

void ClientSocket::on_binary(Connection&, std::span<const uint8_t> data) {
  last_message_ = last_heard_;
  busy_ = true;
  std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
  if (route().on_message) route().on_message(*this, bytes, MessageType::kBinary);
}

void ClientSocket::on_ping(Connection&, std::span<const uint8_t>) {}  // pong already queued

void ClientSocket::on_pong(Connection&, std::span<const uint8_t>) {
  awaiting_pong_ = false;
}

void ClientSocket::on_close(Connection&, uint16_t code, std::string_view reason) {
  if (!opened_) return;  // never opened: nothing to tell the application
  --server_.open_count_;
  trace_flush();
  server_.log("close " + peer() + " " + path() + " code=" + std::to_string(code) + " reason=\"" +
              std::string(reason) + "\"");
  if (route().on_close) route().on_close(*this, code, reason);
  server_.topics_.unsubscribe_all(this);  // after the callback: it may still ask topics()
}

void ClientSocket::on_error(Connection&, Error error) {
  if (opened_ && route().on_error) route().on_error(*this, error);
  if (!opened_) server_.log("refused " + peer() + ": " + std::string(to_string(error)));
}
//< server.events

// ---- Server ------------------------------------------------------------------------------------

void ServerConfig::default_log(std::string_view line) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
  std::fprintf(stderr, "%s %.*s\n", stamp, static_cast<int>(line.size()), line.data());
}

void Server::ReturnToPool::operator()(ClientSocket* socket) const {
  BlockPool& pool = socket->server().socket_pool_;
  socket->~ClientSocket();
  pool.release(socket);
}

Server::Server(ServerConfig config)
    : config_(std::move(config)),
      listener_(
          listen_tcp(config_.host, config_.port, ListenOptions{.reuse_port = config_.reuse_port})),
      acceptor_(listener_.fd.get()),
      post_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      socket_pool_(sizeof(ClientSocket)),
      read_buffer_(kReadBufferSize) {
  if (config_.deflate.enabled) deflate_ = std::make_unique<DeflateShared>(config_.deflate);
  ignore_sigpipe();
  if (!post_fd_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  loop_.add(listener_.fd.get(), EPOLLIN, &accept_handler_);
  loop_.add(post_fd_.get(), EPOLLIN, &post_handler_);
  if (!config_.tls_cert.empty() || !config_.tls_key.empty()) listen_tls();
  loop_.add_before_sleep([this] { flush_pending(); });
  loop_.add_periodic(sweep_interval(), [this] { sweep_deadlines(); });
}

//> server.listen-tls
// The certificate and key are loaded once, at start-up: a file that cannot
// be read stops the program with one line (TlsContext says which and why).
void Server::listen_tls() {
  TlsContext::Result result = TlsContext::server(config_.tls_cert, config_.tls_key);
  if (!result.ok()) throw std::runtime_error("TLS: " + result.error);
  tls_context_ = std::move(result.context);
  tls_listener_ = listen_tcp(config_.host, config_.tls_port);
  tls_acceptor_ = std::make_unique<Acceptor>(tls_listener_.fd.get());
  loop_.add(tls_listener_.fd.get(), EPOLLIN, &tls_accept_handler_);
}
//< server.listen-tls

Server::~Server() {
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    post_closed_ = true;
  }
  topics_.set_observer(nullptr);  // the observer may be gone already
  for (const auto& socket : sockets_) loop_.remove(socket->fd());
}

void Server::route(std::string path, Route route) {
  routes_.push_back({std::move(path), std::move(route)});
}

void Server::handle(std::string path_prefix, HttpRoute route) {
  http_routes_.push_back({std::move(path_prefix), std::move(route)});
}

// The longest prefix that is the whole path or ends where a segment does.
const HttpRouteEntry* Server::find_http_route(std::string_view path) const {
  const HttpRouteEntry* best = nullptr;
  for (const HttpRouteEntry& entry : http_routes_) {
    const std::string& prefix = entry.prefix;
    bool below = path.starts_with(prefix) && (path.size() == prefix.size() ||
                                              prefix.ends_with('/') || path[prefix.size()] == '/');
    if (below && (!best || prefix.size() > best->prefix.size())) best = &entry;
  }
  return best;
}

const RouteEntry* Server::find_route(std::string_view path) const {
  for (const RouteEntry& entry : routes_) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

//> server.sweep-interval
// Deadlines are checked by one periodic sweep instead of one timer per
// connection: cheap (a few comparisons per connection), and precise enough
// at a quarter of the shortest deadline (but at least once a second).
Millis Server::sweep_interval() const {
  Millis shortest{4000};
  for (Millis limit : {config_.handshake_timeout, config_.keep_alive_timeout, config_.ping_interval,
                       config_.pong_timeout, config_.close_timeout, config_.idle_timeout}) {
    if (limit.count() > 0) shortest = std::min(shortest, limit);
  }
  return std::clamp(shortest / 4, Millis{5}, Millis{1000});
}
//< server.sweep-interval

//> server.accept
void Server::on_acceptable(Acceptor& acceptor, const TlsContext* tls) {
  // Accept everything that waits (bounded, so one busy listener cannot
  // starve the connections already open).
  for (int i = 0; i < 64; ++i) {
    Fd fd = acceptor.accept();
    if (!fd.valid()) {
      if (errno == EMFILE || errno == ENFILE) {
        log("out of file descriptors: a connection was dropped");
        continue;  // the Acceptor freed the queue slot; try the next one
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: nothing more waits
    }
    // Beyond the limit, handshakes get a 503 (see on_request); far beyond
    // it, connections are closed at once so descriptors stay bounded.
    if (shutting_down_ || sockets_.size() >= config_.max_connections + kExtraSockets) continue;
    set_nodelay(fd.get());
    SocketPtr socket(new (socket_pool_.allocate())
                         ClientSocket(*this, std::move(fd), next_id_++, tls));
    socket->index = static_cast<uint32_t>(sockets_.size());
    loop_.add(socket->fd(), EPOLLIN, socket.get());
    sockets_.push_back(std::move(socket));
  }
}
//< server.accept

void Server::schedule_flush(ClientSocket* socket) {
  if (socket->queued_for_flush) return;
  socket->queued_for_flush = true;
  pending_flush_.push_back(socket);
}

//> server.before-sleep
// Runs once per loop turn, just before epoll_wait: every connection that got
// output during this turn is written with one send(). Most replies leave here
// and never need EPOLLOUT (Redis ae.c's beforeSleep does the same).
void Server::flush_pending() {
  for (size_t i = 0; i < pending_flush_.size(); ++i) {
    ClientSocket* socket = pending_flush_[i];
    socket->queued_for_flush = false;
    if (!socket->dead) socket->flush();
  }
  pending_flush_.clear();
  graveyard_.clear();  // sockets ended during this turn are freed now
  if (shutting_down_ && sockets_.empty()) loop_.stop();
}
//< server.before-sleep

//> server.destroy
void Server::destroy(ClientSocket* socket) {
  socket->dead = true;
  topics_.unsubscribe_all(socket);  // never opened, or on_close already did it
  loop_.remove(socket->fd());
  // Keep the object alive until the end of the turn (a callback may still be
  // running on it); its descriptor closes when it is freed, so the number
  // cannot be reused before then.
  uint32_t index = socket->index;
  graveyard_.push_back(std::move(sockets_[index]));
  // Swap-remove from the list of live sockets: the last one takes its place.
  if (index + 1 < sockets_.size()) {
    sockets_[index] = std::move(sockets_.back());
    sockets_[index]->index = index;
  }
  sockets_.pop_back();
}
//< server.destroy

//> server.sweep
void Server::sweep_deadlines() {
  EventLoop::TimePoint now = loop_.now();
  for (size_t i = 0; i < sockets_.size();) {
    ClientSocket* socket = sockets_[i].get();
    socket->check_deadlines(now);
    if (!socket->dead) ++i;  // a dead socket was swapped out: look at index i again
  }
  if (shutting_down_ && now >= shutdown_deadline_) {
    while (!sockets_.empty()) sockets_.back()->end(*sockets_.back());
    loop_.stop();
  }
}
//< server.sweep

//> server.shutdown
void Server::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    post_closed_ = true;  // from now on post() refuses
  }
  shutdown_deadline_ = loop_.now() + config_.shutdown_timeout;
  loop_.remove(listener_.fd.get());  // no new connections
  if (tls_listener_.fd) loop_.remove(tls_listener_.fd.get());
  log("shutting down: closing " + std::to_string(sockets_.size()) + " connection(s) with 1001");
  for (size_t i = 0; i < sockets_.size(); ++i) sockets_[i]->start_shutdown();
  if (sockets_.empty()) loop_.stop();
}
//< server.shutdown

//> server.post
// Any thread: append under the lock; the first callback of a batch also
// writes the eventfd, which makes the loop's epoll_wait return. One queue in
// order of arrival: callbacks of one thread keep their order.
bool Server::post(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(post_mutex_);
  if (post_closed_) return false;  // `callback` is destroyed on return
  posted_.push_back(std::move(callback));
  if (posted_.size() == 1) {
    uint64_t one = 1;  // an eventfd adds what is written to its counter
    [[maybe_unused]] ssize_t n = ::write(post_fd_.get(), &one, sizeof one);
  }
  return true;
}

// The loop's thread: reset the eventfd first, then take the whole queue, so
// a post() that lands in between wakes the loop again rather than being
// missed. Callbacks run without the lock: they may post() in turn.
void Server::run_posted() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(post_fd_.get(), &count, sizeof count);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    batch.swap(posted_);
  }
  for (auto& callback : batch) callback();
}
//< server.post

//> server.run
void Server::request_shutdown() {
  post([this] { shutdown(); });  // false if it has begun already: nothing to do
}

void Server::run() {
  loop_.on_signal(SIGINT, [this](int) { shutdown(); });
  loop_.on_signal(SIGTERM, [this](int) { shutdown(); });
  loop_.run();
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    post_closed_ = true;  // the loop may have been stopped without shutdown()
  }
  run_posted();  // what was accepted before shutdown began still runs, once
}
//< server.run

TimerId Server::every(Millis interval, std::function<void()> callback) {
  return loop_.add_periodic(interval, std::move(callback));
}

TimerId Server::after(Millis delay, std::function<void()> callback) {
  return loop_.add_timer(delay, std::move(callback));
}

//> server.push
void Server::for_each(const std::function<void(WebSocket&)>& visit) {
  // Copy the list: a callback may close (and so remove) sockets.
  std::vector<ClientSocket*> open;
  for (const auto& socket : sockets_) {
    if (socket->opened() && socket->protocol().state() == State::kOpen)
      open.push_back(socket.get());
  }
  for (ClientSocket* socket : open) {
    if (!socket->dead) visit(*socket);
  }
}

WebSocket* Server::find(uint64_t id) {
  for (const auto& socket : sockets_) {
    if (socket->id() == id && socket->opened() && socket->protocol().state() == State::kOpen) {
      return socket.get();
    }
  }
  return nullptr;
}
//< server.push

//> server.publish
size_t Server::publish(std::string_view topic, std::string_view data, MessageType type) {
  if (histories_.enabled()) histories_.append(topic, data, type, steady_ms());  // chapter 21
  if (TopicObserver* observer = topics_.observer()) observer->on_local_publish(topic, data, type);
  return deliver_local(topic, data, type);
}

size_t Server::deliver_local(std::string_view topic, std::string_view data, MessageType type) {
  return deliver(topics_.subscribers(topic), data, type);
}

size_t Server::broadcast(std::string_view data, MessageType type) {
  std::vector<WebSocket*> open;
  open.reserve(sockets_.size());
  for (const auto& socket : sockets_) open.push_back(socket.get());
  return deliver(open, data, type);
}

// Encodes the frame once; every socket gets a copy of the same bytes. No
// application code runs in the loop, so the list cannot change under it.
size_t Server::deliver(std::span<WebSocket* const> sockets, std::string_view data,
                       MessageType type) {
  if (sockets.empty()) return 0;
  Opcode opcode = type == MessageType::kText ? Opcode::kText : Opcode::kBinary;
  encode_frame(frame_, opcode, {reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  size_t reached = 0;
  for (WebSocket* socket : sockets) reached += socket_of(*socket).deliver(frame_) ? 1 : 0;
  return reached;
}
//< server.publish

size_t Server::publish_volatile(std::string_view topic, std::string_view data, MessageType type) {
  if (TopicObserver* observer = topics_.observer()) observer->on_local_publish(topic, data, type);
  return deliver_local(topic, data, type);
}

//> server.publish-numbered
std::optional<uint64_t> Server::publish_numbered(std::string_view topic, std::string_view before,
                                                 std::string_view after, MessageType type) {
  if (const HistoryLimits* limits = histories_.limits_for(topic); limits && shared_history_) {
    if (!shared_history_->append(topic, *limits, before, after, type)) return std::nullopt;
    return 0;  // numbered by Redis; delivered here too when it comes back
  }
  const TopicHistory* history = this->history(topic);
  const uint64_t offset = history ? history->next_offset() : 0;
  std::string data;
  data.reserve(before.size() + 20 + after.size());
  data.append(before).append(std::to_string(offset)).append(after);
  publish(topic, data, type);
  return offset;
}
//< server.publish-numbered

void Server::keep_history(std::string prefix, HistoryLimits limits) {
  histories_.keep(std::move(prefix), limits);
}

size_t Server::subscriber_count(std::string_view topic) const {
  return topics_.subscriber_count(topic);
}

void Server::log(std::string_view line) const {
  if (config_.log) config_.log(line);
}

}  // namespace ws
