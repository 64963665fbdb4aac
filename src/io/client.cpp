// The WebSocket client. See include/openpipe/io/client.h.
#include "openpipe/io/client.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ostream>
#include <thread>

#include "openpipe/io/socket.h"

namespace ws {
namespace {

// One read() takes at most this much; the Connection keeps partial frames.
constexpr size_t kReadChunk = 64 * 1024;
// A timeout longer than this is "wait a very long time" (and cannot
// overflow the clock when added to now()).
constexpr Duration kLongestWait = std::chrono::hours(24 * 365);

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// strerror() with a lower-case first letter, to sit inside a sentence.
std::string error_text(int error) {
  std::string text = std::strerror(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// "::1", "fe80::1", "::ffff:127.0.0.1": hex digits, colons, dots, and at
// least one colon (the system's parser has the final word when connecting).
bool is_ipv6_literal(const std::string& host) {
  auto ok = [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
  };
  return host.find(':') != std::string::npos && std::all_of(host.begin(), host.end(), ok);
}

// Bytes that would break the request line "GET <resource> HTTP/1.1": a
// space ends the target, CR LF would start a header of the URL's choosing.
bool is_resource_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

// "8000" -> 8000; nullopt unless it is 1 to 65535 in plain digits.
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

Duration clamp(Duration timeout) {
  return std::clamp(timeout, Duration(0), kLongestWait);
}

// Milliseconds left until `deadline`, rounded up, for poll().
int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<Duration>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

// ---- URLs ------------------------------------------------------------------------

//> client.parse-authority
// "host", "host:port", "[v6]" or "[v6]:port" into url.host and url.port.
// Returns "" on success, else why not.
std::string parse_authority(std::string_view authority, Url& url) {
  if (authority.find('@') != std::string_view::npos) {
    return "user:password@ is not allowed in a ws:// URL";
  }
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // an IPv6 literal: [::1]:8000
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
    url.host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return "expected ':port' after ']'";
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
    if (!is_ipv6_literal(url.host)) return "'[" + url.host + "]' is not an IPv6 address";
  } else {
    size_t colon = authority.find(':');
    url.host = authority.substr(0, colon);
    has_port = colon != std::string_view::npos;
    if (has_port) port = authority.substr(colon + 1);
    if (port.find(':') != std::string_view::npos) {
      return "an IPv6 address needs brackets: ws://[::1]:8000/";
    }
    if (url.host.empty()) return "the URL names no host";
    if (!std::all_of(url.host.begin(), url.host.end(), is_host_char)) {
      return "invalid character in host '" + url.host + "'";
    }
  }
  if (!has_port) return {};  // §3: "the default for ws is port 80"
  std::optional<uint16_t> number = parse_port(port);
  if (!number) return "invalid port '" + std::string(port) + "' (1 to 65535)";
  url.port = *number;
  return {};
}
//< client.parse-authority

}  // namespace

//> client.parse-url
// RFC 6455 §3:  ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ]
//               wss-URI = "wss:" "//" host [ ":" port ] path [ "?" query ]
UrlResult parse_url(std::string_view text) {
  UrlResult result;
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    result.error = "expected ws://host[:port]/path, got '" + std::string(text) + "'";
    return result;
  }
  std::string scheme = lower(text.substr(0, scheme_end));
  if (scheme == "wss") {
    result.url.tls = true;
    result.url.port = 443;  // §3: "the default for wss is port 443"
  } else if (scheme != "ws") {
    result.error = "unsupported scheme '" + scheme + "://': use ws:// or wss://";
  }
  if (result.ok() && text.find('#') != std::string_view::npos) {
    // §3: "Fragment identifiers ... MUST NOT be used on these URIs."
    result.error = "a ws:// URL has no #fragment (RFC 6455 §3): write # as %23";
  }
  if (!result.ok()) return result;
  std::string_view rest = text.substr(scheme_end + 3);
  size_t authority_end = std::min(rest.find_first_of("/?"), rest.size());
  result.error = parse_authority(rest.substr(0, authority_end), result.url);
  if (!result.ok()) return result;
  std::string_view resource = rest.substr(authority_end);
  if (!std::all_of(resource.begin(), resource.end(), is_resource_char)) {
    result.error = "the path holds a space or a control character: percent-encode it (%20)";
    return result;
  }
  // §3: the resource name is "/" if the path is empty, then "?" and the query.
  bool no_path = resource.empty() || resource.front() == '?';
  result.url.resource = no_path ? "/" + std::string(resource) : std::string(resource);
  return result;
}
//< client.parse-url

std::string Url::host_header() const {
  std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  // §4.1 item 4: host, "plus optionally ":" followed by /port/ (when not
  // using the default port)".
  if (port == (tls ? 443 : 80)) return name;
  return name + ":" + std::to_string(port);
}

std::string Url::to_string() const {
  return (tls ? "wss://" : "ws://") + host_header() + resource;
}

// ---- events ------------------------------------------------------------------------

const char* to_string(ClientEventType type) {
  switch (type) {
    case ClientEventType::kText: return "text";
    case ClientEventType::kBinary: return "binary";
    case ClientEventType::kPing: return "ping";
    case ClientEventType::kPong: return "pong";
    case ClientEventType::kClose: return "close";
    case ClientEventType::kError: return "error";
    case ClientEventType::kTimeout: return "timeout";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, ClientEventType type) {
  return out << to_string(type);
}

namespace {
std::string as_string(std::span<const uint8_t> bytes) {
  return {bytes.begin(), bytes.end()};
}
}  // namespace

void Client::Recorder::reset() {
  events.clear();
  error = Error::kNone;
  opened = false;
}

void Client::Recorder::on_text(Connection&, std::string_view text) {
  events.push_back({ClientEventType::kText, std::string(text), 0});
}
void Client::Recorder::on_binary(Connection&, std::span<const uint8_t> data) {
  events.push_back({ClientEventType::kBinary, as_string(data), 0});
}
void Client::Recorder::on_ping(Connection&, std::span<const uint8_t> data) {
  events.push_back({ClientEventType::kPing, as_string(data), 0});
}
void Client::Recorder::on_pong(Connection&, std::span<const uint8_t> data) {
  events.push_back({ClientEventType::kPong, as_string(data), 0});
}
void Client::Recorder::on_close(Connection&, uint16_t code, std::string_view reason) {
  events.push_back({ClientEventType::kClose, std::string(reason), code});
}
void Client::Recorder::on_error(Connection&, Error protocol_error) {
  error = protocol_error;
  if (!opened) return;  // a handshake error: connect() returns it instead
  events.push_back({ClientEventType::kError,
                    "protocol error: " + std::string(ws::to_string(protocol_error)), 0});
}

// ---- connecting ----------------------------------------------------------------------

Client::Client(ClientConfig config) : config_(std::move(config)), response_(config_.limits.http) {}

Client::~Client() = default;

const std::string& Client::subprotocol() const {
  static const std::string kNone;
  return connection_ ? connection_->subprotocol() : kNone;
}

ClientStatus Client::connect(std::string_view text, Duration timeout) {
  UrlResult parsed = parse_url(text);
  if (!parsed.ok()) return {parsed.error};
  return connect(parsed.url, timeout);
}

//> client.connect
ClientStatus Client::connect(const Url& url, Duration timeout) {
  disconnect();
  Deadline deadline = Clock::now() + clamp(timeout);
  fd_ = connect_tcp(url.host, url.port);
  if (!fd_) {
    if (errno == EINVAL) return {"cannot resolve '" + url.host + "': use an address or localhost"};
    return {"cannot connect to " + url.host_header() + ": " + error_text(errno)};
  }
  set_nodelay(fd_.get());  // small frames leave at once
  if (url.tls) {
    if (ClientStatus status = start_tls(url); !status.ok()) {
      disconnect();
      return status;
    }
  }
  // RFC 6455 §4.1: the Connection queues the GET with a fresh random key.
  ClientOptions options{url.host_header(), url.resource, config_.subprotocols,
                        config_.extra_headers, config_.random};
  if (config_.deflate.enabled && !deflate_)
    deflate_ = std::make_unique<DeflateShared>(config_.deflate);
  options.deflate = deflate_.get();
  connection_.emplace(std::move(options), config_.limits);
  while (state() == State::kConnecting && fd_) {
    if (!pump(deadline, deadline)) {
      disconnect();
      return {"handshake timed out after " + std::to_string(clamp(timeout).count()) + " ms"};
    }
  }
  // OPEN, or already CLOSED if a close frame came right behind the 101: the
  // handshake succeeded either way, and the close event is queued.
  if (!recorder_.opened) {
    std::string why = handshake_failure();
    disconnect();
    return {why};
  }
  return {};
}
//< client.connect

// What went wrong in the handshake, in words: the HTTP status when the
// server answered something other than 101, else the protocol's error name.
std::string Client::handshake_failure() const {
  if (!tls_error_.empty()) return "TLS handshake failed: " + tls_error_;
  // The Connection read the same bytes; our copy of the answer only serves
  // to say which status came back.
  const HttpResponse& response = response_.response();
  if (response.status != 0 && response.status != 101) {
    std::string text = "server answered HTTP " + std::to_string(response.status);
    if (!response.reason.empty()) text += " " + response.reason;
    return text;
  }
  if (recorder_.error == Error::kNone || (eof_ && response.status == 0)) {
    return "server closed the connection during the handshake";
  }
  return "handshake failed: " + std::string(ws::to_string(recorder_.error));
}

void Client::disconnect() {
  if (tls_ && tls_->session().handshake_done()) {
    // A ticket arrives after the handshake: keep it to resume next time.
    if (auto saved = tls_->session().saved_session()) tls_resume_ = std::move(saved);
  }
  tls_.reset();
  tls_error_.clear();
  fd_.reset();
  connection_.reset();
  recorder_.reset();
  response_.reset();
  eof_ = false;
}

// ---- moving bytes -------------------------------------------------------------------

// poll() on our socket until one of `events` is ready: the ready bits, or 0
// once the deadline passed.
short Client::wait_for(short events, Deadline deadline) {
  for (;;) {
    pollfd entry{fd_.get(), events, 0};
    int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return entry.revents;
    if (ready == 0) return 0;
    if (errno != EINTR) return POLLERR;  // let the read or write report it
  }
}

//> client.read-once
void Client::read_once() {
  read_buffer_.resize(kReadChunk);
  ssize_t n = read_some(fd_.get(), read_buffer_);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n > 0) return deliver(read_buffer_, static_cast<size_t>(n));
  // 0: the server closed its end; -1: reset. No more bytes will come, and
  // without a close frame first the Connection reports 1006 (§7.1.5).
  if (n < 0 && recorder_.opened) {
    recorder_.events.push_back({ClientEventType::kError, "read failed: " + error_text(errno), 0});
  }
  eof_ = true;
  connection_->receive_eof(recorder_);
}
//< client.read-once

//> client.flush
// Writes what the Connection queued. A full socket buffer (EAGAIN) means
// wait for POLLOUT, and read meanwhile: a server that is itself blocked
// writing to us would otherwise never read again, and we would both wait.
ClientStatus Client::flush(Deadline deadline) {
  while (fd_ && has_output()) {
    std::span<const uint8_t> output = wire_output();
    if (output.empty()) {  // TLS cannot write before the server's next message
      if (eof_ || wait_for(POLLIN, deadline) == 0) return {"send timed out: TLS handshake"};
      read_once();
      continue;
    }
    ssize_t n = send_nosignal(fd_.get(), output);
    if (n > 0) {
      mark_wire_sent(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      short ready = wait_for(eof_ ? POLLOUT : POLLOUT | POLLIN, deadline);
      if (ready == 0) return {"send timed out: the server is not reading"};
      if (ready & POLLIN) read_once();
      continue;
    }
    // EPIPE, ECONNRESET: the server is gone; nothing more can be sent.
    std::string why = "connection lost: " + error_text(errno);
    eof_ = true;
    fd_.reset();
    connection_->receive_eof(recorder_);
    return {why};
  }
  return {};
}
//< client.flush

//> client.tls
// wss://: the same Connection, behind a TlsTransport. The ClientHello is
// queued at once; the first flush() sends it, and the request waits in the
// Connection until TLS can take it (write_plaintext says "blocked").
ClientStatus Client::start_tls(const Url& url) {
  if (!tls_context_) {
    TlsContext::Result result = TlsContext::client(config_.tls);
    if (!result.ok()) return {result.error};
    tls_context_ = std::move(result.context);
  }
  std::string target = url.host + ":" + std::to_string(url.port);
  if (tls_resume_for_ != target) tls_resume_.reset();  // tickets are per server
  tls_resume_for_ = target;
  tls_ = std::make_unique<TlsTransport>(*tls_context_, url.host, tls_resume_);
  if (tls_->session().failed()) return {tls_->session().error_text()};
  return {};
}

bool Client::has_output() const {
  if (tls_) return tls_->wants_write(*connection_) || connection_->buffered_amount() > 0;
  return !connection_->pending_output().empty();
}

std::span<const uint8_t> Client::wire_output() {
  return tls_ ? tls_->output(*connection_) : connection_->pending_output();
}

void Client::mark_wire_sent(size_t n) {
  if (tls_) return tls_->mark_sent(n);
  connection_->mark_sent(n);
}

// `n` bytes just read into `buffer`: to the Connection, through TLS if any.
void Client::deliver(std::span<uint8_t> buffer, size_t n) {
  if (!tls_) {
    std::span<uint8_t> bytes = buffer.first(n);
    if (state() == State::kConnecting) response_.feed(bytes);  // for handshake_failure()
    return connection_->receive_data(bytes, recorder_);
  }
  // The ciphertext is copied into the session, so `buffer` takes the
  // plaintext, which goes where plain bytes go (response_ included).
  TlsSession& session = tls_->session();
  session.receive_ciphertext(buffer.first(n));
  TlsRead read;
  while ((read = session.read_plaintext(buffer)).status == TlsStatus::kOk) {
    std::span<uint8_t> plaintext = buffer.first(read.size);
    if (state() == State::kConnecting) response_.feed(plaintext);
    connection_->receive_data(plaintext, recorder_);
  }
  TlsStatus status = read.status;
  if (status == TlsStatus::kNeedMore) return;
  if (status == TlsStatus::kError) tls_error_ = session.error_text();
  eof_ = true;  // close_notify or a TLS failure: nothing more can be read
  if (connection_->state() != State::kClosed) connection_->receive_eof(recorder_);
}
//< client.tls

//> client.pump
// One step of every wait: write what is queued (our frames, automatic
// pongs, the close reply), wait for bytes, hand them to the Connection.
// False if the deadline passed with nothing to read.
bool Client::pump(Deadline deadline, Deadline close_deadline) {
  flush(deadline);
  if (fd_ && !connection_->wants_close_transport()) {
    short ready = wait_for(POLLIN, deadline);
    if (ready == 0) return false;
    read_once();
    flush(deadline);  // answer at once: a pong (§5.5.2), the reply to a close
  }
  if (fd_ && connection_->wants_close_transport()) finish_transport(close_deadline);
  return true;
}
//< client.pump

//> client.finish-transport
// The Connection is CLOSED. RFC 6455 §7.1.1: "the client SHOULD wait for the
// server to close the connection but MAY close the connection at any time
// after sending and receiving a Close message, for example, if it has not
// received a TCP Close from the server in a reasonable time period."
// Waiting leaves TIME_WAIT on the server, which can afford it, and makes
// sure our close frame was read before any reset could destroy it.
void Client::finish_transport(Deadline deadline) {
  flush(deadline);
  // A failed handshake has no closing handshake (§4.1: just close TCP).
  while (fd_ && recorder_.opened && !eof_) {
    if (wait_for(POLLIN, deadline) == 0) break;
    read_once();  // the Connection ignores bytes after CLOSED; EOF ends the loop
  }
  fd_.reset();
}
//< client.finish-transport

// ---- sending and receiving --------------------------------------------------------------

ClientStatus Client::queued(bool ok, std::string_view what) {
  if (!fd_ || !connection_) return {"not connected"};
  if (!ok) {
    if (state() != State::kOpen) {
      return {std::string("cannot send ") + std::string(what) + ": the connection is " +
              ws::to_string(state())};
    }
    return {"cannot send " + std::string(what) +
            ": refused by the connection (output queue full?)"};
  }
  return flush(Clock::now() + clamp(config_.send_timeout));
}

ClientStatus Client::send_text(std::string_view text) {
  return queued(connection_ && connection_->send_text(text), "text");
}

ClientStatus Client::send_binary(std::span<const uint8_t> data) {
  return queued(connection_ && connection_->send_binary(data), "binary");
}

ClientStatus Client::send_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin) {
  return queued(connection_ && connection_->send_frame(opcode, payload, fin), "frame");
}

ClientStatus Client::ping(std::span<const uint8_t> payload) {
  // §5.5: "All control frames MUST have a payload length of 125 bytes or less".
  if (payload.size() > kMaxControlPayload) return {"a ping carries at most 125 bytes"};
  return queued(connection_ && connection_->send_ping(payload), "ping");
}

//> client.receive
ClientEvent Client::receive(Duration timeout) {
  Deadline deadline = Clock::now() + clamp(timeout);
  while (recorder_.events.empty()) {
    if (!fd_) return {ClientEventType::kError, "not connected", 0};
    if (!pump(deadline, Clock::now() + clamp(config_.close_timeout))) return {};  // kTimeout
  }
  ClientEvent event = std::move(recorder_.events.front());
  recorder_.events.pop_front();
  return event;
}
//< client.receive

//> client.close
ClientStatus Client::close(uint16_t code, std::string_view reason) {
  if (!connection_) return {"not connected"};
  if (!fd_) return {};  // already closed: the close event is queued or was received
  if (state() == State::kOpen && !connection_->close(code, reason)) {
    return {"invalid close code " + std::to_string(code) + " (RFC 6455 §7.4)"};
  }
  // Send our close, read until the server's close arrives, then until the
  // server closes TCP: pump() does all three.
  Deadline deadline = Clock::now() + clamp(config_.close_timeout);
  while (fd_) {
    if (!pump(deadline, deadline)) {
      fd_.reset();  // §7.1.1: "MAY close the connection at any time" after waiting
      connection_->receive_eof(recorder_);  // CLOSED, with a 1006 close event
      return {"the server did not finish the closing handshake in time"};
    }
  }
  return {};
}
//< client.close

// ---- reconnecting ------------------------------------------------------------------------

Backoff::Backoff(Duration initial, Duration cap, Uniform uniform)
    : initial_(std::max(initial, Duration(1))),
      cap_(std::max(cap, initial_)),
      ceiling_(initial_),
      uniform_(std::move(uniform)) {}

//> client.backoff-next
Duration Backoff::next_delay() {
  // "Full jitter": anywhere from 0 to the ceiling, not ceiling +/- a little,
  // so that clients which failed together spread over the whole window.
  auto upper = static_cast<uint64_t>(ceiling_.count());
  Duration delay(static_cast<Duration::rep>(std::min(uniform_(upper), upper)));
  // Doubling stops at the cap, so the ceiling never overflows.
  ceiling_ = ceiling_ >= cap_ / 2 ? cap_ : ceiling_ * 2;
  return delay;
}
//< client.backoff-next

void sleep_between_attempts(Duration delay, const std::string&) {
  std::this_thread::sleep_for(delay);
}

//> client.connect-with-retry
ClientStatus connect_with_retry(Client& client, const Url& url, int attempts, Duration timeout,
                                Backoff& backoff, const RetryWait& wait) {
  ClientStatus status{"no attempt made (attempts < 1)"};
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    status = client.connect(url, timeout);
    if (status.ok()) {
      backoff.reset();
      return status;
    }
    if (attempt < attempts) wait(backoff.next_delay(), status.error);
  }
  if (attempts >= 1) {
    status.error = "gave up after " + std::to_string(attempts) + " attempts: " + status.error;
  }
  return status;
}
//< client.connect-with-retry

}  // namespace ws
