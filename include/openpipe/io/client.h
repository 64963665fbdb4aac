// The WebSocket client: ws:// and wss:// URLs (RFC 6455 §3), a blocking
// Client that drives a client-role Connection over one TCP socket with
// poll(2), through TLS for wss:// (tls_transport.h), and reconnection with
// exponential backoff and jitter.
// Owns: the socket, the TLS session, the Connection and the queue of received
// events. Does not own the protocol rules (connection.h) or TLS's (tls.h).
// RFC 6455 §3 (URLs), §4.1 (client handshake), §5.3 (masking), §7.1.1 (closing).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/io/fd.h"
#include "openpipe/io/random.h"
#include "openpipe/io/tls_transport.h"
#include "openpipe/protocol/connection.h"

namespace ws {

using Duration = std::chrono::milliseconds;

// ---- URLs (RFC 6455 §3) ---------------------------------------------------------

//> client.url
// ws://host[:port]/path[?query] or wss://..., taken apart.
struct Url {
  std::string host;            // "localhost", "127.0.0.1" or "::1" (no brackets)
  uint16_t port = 80;          // §3: "the default for ws is port 80", 443 for wss
  std::string resource = "/";  // path and query, "/ws?room=1"; "/" if the URL has none
  bool tls = false;            // wss:// (§3: "secure"): TLS with host name checks

  // The Host header (§4.1 item 4): "localhost:8000", "[::1]:8000", and the
  // host alone when the port is the default.
  std::string host_header() const;
  // Back to text: "ws://[::1]:8000/ws", "wss://localhost:8443/ws".
  std::string to_string() const;
};

// A Url, or why the text is not a ws:// URL this client can use.
struct UrlResult {
  Url url;            // valid only if ok()
  std::string error;  // "unsupported scheme 'http://': use ws:// or wss://"
  bool ok() const { return error.empty(); }
};
//< client.url

UrlResult parse_url(std::string_view text);

// ---- what receive() returns -------------------------------------------------------

enum class ClientEventType : uint8_t { kText, kBinary, kPing, kPong, kClose, kError, kTimeout };
const char* to_string(ClientEventType type);
std::ostream& operator<<(std::ostream& out, ClientEventType type);  // the name, for tests

struct ClientEvent {
  ClientEventType type = ClientEventType::kTimeout;
  std::string data;   // the text, the bytes, the ping/pong payload, the close
                      // reason, or the error message
  uint16_t code = 0;  // kClose only: the code (1005: none given, 1006: TCP dropped)
};

// The outcome of a call that can fail: an empty error means success.
struct ClientStatus {
  std::string error;  // readable: "connection refused", "server answered HTTP 404 Not Found"
  bool ok() const { return error.empty(); }
};

// ---- the client -------------------------------------------------------------------

struct ClientConfig {
  std::vector<std::string> subprotocols;  // offered in the handshake, preferred first
  std::string extra_headers;              // full "Name: value\r\n" lines (Origin, cookies...)
  ConnectionLimits limits;                // largest message accepted, output queue size
  Duration send_timeout{5000};            // longest wait for room in the socket buffer
  Duration close_timeout{2000};           // longest wait for the closing handshake
  TlsClientOptions tls;                   // wss://: which CAs to trust, or --insecure
  // The CSPRNG for the handshake key and the masking keys (§5.3, §10.3).
  // Tests may pass a fixed sequence; programs keep getrandom().
  std::function<void(std::span<uint8_t>)> random = random_bytes;
  // permessage-deflate (RFC 7692, chapter 22): offered if deflate.enabled.
  // Off by default here; ws_client --deflate turns it on.
  DeflateConfig deflate = DeflateConfig{.enabled = false};
};

// A synchronous client: every call returns when its work is done or its
// timeout passed. Events are queued as the Connection produces them, so one
// read that carries three messages gives three receive() results.
class Client {
 public:
  explicit Client(ClientConfig config = {});
  // Drops the TCP connection without a closing handshake: call close() first.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // TCP connect, then the opening handshake (§4.1), both within `timeout`
  // (the TCP connect itself is bounded by the kernel: see connect_tcp()).
  // Errors: "connection refused", "server answered HTTP 404 Not Found",
  // "handshake failed: handshake-bad-accept", "handshake timed out".
  // A Client may connect again after a close or an error.
  ClientStatus connect(std::string_view url, Duration timeout);
  ClientStatus connect(const Url& url, Duration timeout);

  // ---- sends: queued in the Connection, then written (waiting with
  // poll(POLLOUT) while the socket buffer is full, at most send_timeout) ----
  ClientStatus send_text(std::string_view text);
  ClientStatus send_binary(std::span<const uint8_t> data);
  ClientStatus send_frame(Opcode opcode, std::span<const uint8_t> payload, bool fin);
  ClientStatus ping(std::span<const uint8_t> payload = {});

  // The next event: a queued one at once, else waits up to `timeout` for
  // bytes (kTimeout if none came). Pongs to the server's pings are sent
  // meanwhile. After the kClose event, returns kError "not connected".
  ClientEvent receive(Duration timeout);

  // The closing handshake (§7.1.2): sends a close frame, waits for the
  // server's close frame and then for the server to close TCP (§7.1.1), at
  // most close_timeout; then closes the socket in any case. The close event
  // stays queued for receive(). Messages that arrive after our close frame
  // are dropped by the Connection (§5.5.1 gives them "no guarantee").
  // Closing an already closed client succeeds and does nothing.
  ClientStatus close(uint16_t code = kCloseNormal, std::string_view reason = {});
  // Closes the socket now, with no closing handshake (the server sees 1006).
  void disconnect();

  State state() const { return connection_ ? connection_->state() : State::kClosed; }
  bool is_open() const { return fd_.valid() && state() == State::kOpen; }
  const std::string& subprotocol() const;  // chosen by the server, "" if none
  // permessage-deflate as agreed with the server; null if not negotiated.
  const DeflateParams* deflate() const { return connection_ ? connection_->deflate() : nullptr; }
  // The TLS session of a wss:// connection (null for ws://): version, ALPN,
  // whether it was resumed.
  const TlsSession* tls_session() const { return tls_ ? &tls_->session() : nullptr; }
  // The socket, to poll it alongside other descriptors (-1 when closed).
  int fd() const { return fd_.get(); }
  // True if receive() would return an event without waiting.
  bool has_event() const { return !recorder_.events.empty(); }

 private:
  using Clock = std::chrono::steady_clock;
  using Deadline = Clock::time_point;

  //> client.recorder
  // Turns the Connection's callbacks into queued events.
  class Recorder final : public ConnectionHandler {
   public:
    std::deque<ClientEvent> events;  // not yet returned by receive()
    Error error = Error::kNone;      // the last protocol error (on_error)
    bool opened = false;             // the handshake succeeded (on_open)
    void reset();
    void on_open(Connection&) override { opened = true; }
    void on_text(Connection&, std::string_view text) override;
    void on_binary(Connection&, std::span<const uint8_t> data) override;
    void on_ping(Connection&, std::span<const uint8_t> data) override;
    void on_pong(Connection&, std::span<const uint8_t> data) override;
    void on_close(Connection&, uint16_t code, std::string_view reason) override;
    void on_error(Connection&, Error error) override;
  };
  //< client.recorder

  ClientStatus start_tls(const Url& url);
  bool has_output() const;
  std::span<const uint8_t> wire_output();
  void mark_wire_sent(size_t n);
  void deliver(std::span<uint8_t> buffer, size_t n);
  ClientStatus queued(bool ok, std::string_view what);
  ClientStatus flush(Deadline deadline);
  bool pump(Deadline deadline, Deadline close_deadline);
  void read_once();
  short wait_for(short events, Deadline deadline);
  void finish_transport(Deadline deadline);
  std::string handshake_failure() const;

  ClientConfig config_;                     // what to offer, limits and timeouts
  Fd fd_;                                   // the TCP connection; empty when closed
  std::unique_ptr<DeflateShared> deflate_;  // zlib state, if deflate is offered
  std::optional<Connection> connection_;    // the protocol state; empty before connect
  Recorder recorder_;                       // events waiting for receive()
  HttpResponseParser response_;             // a copy of the handshake answer, for errors
  std::vector<uint8_t> read_buffer_;        // one read() at a time lands here
  bool eof_ = false;                        // the server closed its end of TCP
  // wss:// only (chapter 23):
  std::shared_ptr<TlsContext> tls_context_;      // made at the first wss:// connect
  std::unique_ptr<TlsTransport> tls_;            // this connection's TLS session
  std::shared_ptr<TlsSavedSession> tls_resume_;  // offered on the next connect...
  std::string tls_resume_for_;                   // ...to this host:port
  std::string tls_error_;                        // why the TLS handshake failed
};

// ---- reconnecting -----------------------------------------------------------------

//> client.backoff
// Waits between reconnection attempts: exponential backoff with "full jitter".
// The ceiling starts at `initial` and doubles after every attempt up to
// `cap`; each wait is uniform in [0, ceiling]. The randomness spreads the
// clients of a restarted server over the whole window instead of having them
// all return at the same instants (the thundering herd).
class Backoff {
 public:
  // Returns a number in [0, upper], uniformly. Tests pass a fixed one.
  using Uniform = std::function<uint64_t(uint64_t upper)>;

  Backoff(Duration initial, Duration cap, Uniform uniform = random_below_or_equal);

  // The wait before the next attempt; then the ceiling doubles (up to cap).
  Duration next_delay();
  // The current ceiling: initial * 2^attempts, at most cap.
  Duration ceiling() const { return ceiling_; }
  // After a success: the next failure waits little again.
  void reset() { ceiling_ = initial_; }

 private:
  Duration initial_;  // first ceiling, at least 1 ms
  Duration cap_;      // the ceiling never passes it
  Duration ceiling_;  // the current ceiling
  Uniform uniform_;   // the jitter's source
};
//< client.backoff

// Called between two attempts with the wait and why the last attempt
// failed. The default sleeps; a program may also print; tests only record.
using RetryWait = std::function<void(Duration delay, const std::string& error)>;
void sleep_between_attempts(Duration delay, const std::string& error);

// Up to `attempts` connects (each within `timeout`), waiting
// backoff.next_delay() between them. The backoff is reset on success. On
// failure the error names the attempts and the last reason.
ClientStatus connect_with_retry(Client& client, const Url& url, int attempts, Duration timeout,
                                Backoff& backoff, const RetryWait& wait = sleep_between_attempts);

}  // namespace ws
