// TLS as a sans-I/O layer: OpenSSL's libssl driven through two memory BIOs,
// so that ciphertext goes in as bytes and plaintext comes out as bytes, and
// the reverse. Owns: the SSL_CTX (TlsContext) and one SSL object with its two
// memory BIOs and the ciphertext waiting to be sent (TlsSession). Does not own
// a socket, never reads or writes one (no SSL_set_fd), and knows nothing of
// WebSocket: io/tls_transport.h moves bytes between a socket, a TlsSession
// and a Connection. RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 7301 (ALPN),
// RFC 6125 (host names in certificates), RFC 6455 §4.1 and §11.1.2 (wss://).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "openpipe/core/buffer.h"

// OpenSSL's types, declared rather than included: only tls.cpp sees libssl.
struct ssl_ctx_st;
struct ssl_st;
struct bio_st;
struct ssl_session_st;

namespace ws {

enum class TlsRole : uint8_t { kServer, kClient };

//> tls.limits
// The most plaintext TLS puts in one record (RFC 8446 §5.1: 2^14 bytes).
inline constexpr size_t kTlsMaxRecordPlaintext = 16 * 1024;
// Ciphertext queued in a session before it stops taking plaintext: the rest
// waits, unencrypted, in the Connection's output, so backpressure and
// buffered_amount() work as they do without TLS (and memory is not doubled).
inline constexpr size_t kTlsOutputHighWater = 64 * 1024;
// ALPN (RFC 7301): the one application protocol we speak over TLS.
inline constexpr std::string_view kTlsAlpn = "http/1.1";
//< tls.limits

//> tls.context
// What a client checks. The default is what a browser does: the chain must
// lead to a CA in the system store and the certificate must name the host.
struct TlsClientOptions {
  std::string ca_file;  // PEM file of trusted CAs ("" = the system store)
  bool verify = true;   // false (--insecure): accept any certificate
};

// The configuration shared by every session of a server or client: the
// certificate and key, the versions (TLS 1.2 and 1.3 only), ALPN, session
// tickets. Made once at start-up; a file that cannot be loaded is an error
// value with one readable line.
class TlsContext {
 public:
  struct Result;
  static Result server(const std::string& cert_file, const std::string& key_file);
  static Result client(const TlsClientOptions& options = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  TlsRole role() const { return role_; }
  ssl_ctx_st* native() const { return ctx_; }

 private:
  TlsContext(ssl_ctx_st* ctx, TlsRole role) : ctx_(ctx), role_(role) {}
  ssl_ctx_st* ctx_;  // owned
  TlsRole role_;     // which side its sessions play
};

struct TlsContext::Result {
  std::shared_ptr<TlsContext> context;  // null on error
  std::string error;  // "cannot load the certificate 'x.pem': No such file or directory"
  bool ok() const { return context != nullptr; }
};
//< tls.context

// A session a client may offer again to skip the full handshake (RFC 8446
// §2.2, resumption with a ticket). Opaque; shared by the clients that reuse it.
struct TlsSavedSession;

//> tls.session-api
// What read_plaintext() returns.
enum class TlsStatus : uint8_t {
  kOk,        // `size` bytes of plaintext were written to the buffer
  kNeedMore,  // every complete record is used up: give more ciphertext
  kClosed,    // the peer sent close_notify: no more plaintext will come
  kError,     // a failed handshake or a bad record: see error_text()
};
struct TlsRead {
  TlsStatus status = TlsStatus::kNeedMore;
  size_t size = 0;  // plaintext bytes, kOk only
};

class TlsSession {
 public:
  // A server session, or a client session that checks `host` (a DNS name
  // or an IP address) against the certificate and sends it as SNI. A
  // client queues its ClientHello at once: pending_output() is not empty.
  TlsSession(const TlsContext& context, std::string_view host = {},
             std::shared_ptr<TlsSavedSession> resume = nullptr);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // ---- ciphertext in, plaintext out ----
  // Ciphertext from the peer, in any pieces (OpenSSL keeps partial records).
  void receive_ciphertext(std::span<const uint8_t> bytes);
  // Decrypts what has arrived into `out`, advancing the handshake on the
  // way. Call it until it returns something other than kOk.
  TlsRead read_plaintext(std::span<uint8_t> out);

  // ---- plaintext in, ciphertext out ----
  // Encrypts as much of `plaintext` as TLS takes now and returns how much
  // that was. 0 with write_blocked() when TLS must first hear from the peer
  // (SSL_ERROR_WANT_READ: the handshake is not finished): keep the bytes and
  // call again after the next receive_ciphertext().
  size_t write_plaintext(std::span<const uint8_t> plaintext);
  // Queues our close_notify alert (RFC 8446 §6.1): the last bytes we send.
  void close();
  // Ciphertext to send: handshake messages, records, alerts.
  std::span<const uint8_t> pending_output() const { return out_.readable(); }
  void mark_sent(size_t n);
  size_t buffered_amount() const { return out_.size(); }
  void release_memory_if_idle();

  // ---- state ----
  bool handshake_done() const;
  bool write_blocked() const { return write_blocked_; }
  bool close_sent() const { return close_sent_; }
  bool closed_by_peer() const { return closed_by_peer_; }
  bool failed() const { return !error_.empty(); }
  const std::string& error_text() const { return error_; }  // "certificate verify failed: ..."
  std::string alpn() const;                                 // "http/1.1", or "" if none
  std::string version() const;                              // "TLSv1.3"
  bool resumed() const;  // the handshake was abbreviated (a ticket was accepted)
  // Client: the session to offer next time (null before the server sent one).
  std::shared_ptr<TlsSavedSession> saved_session() const;
  //< tls.session-api

 private:
  void drain_output();
  void fail(int ssl_error);

  ssl_st* ssl_ = nullptr;      // owned; owns the two BIOs below
  bio_st* in_ = nullptr;       // memory BIO: ciphertext from the peer, read by OpenSSL
  bio_st* out_bio_ = nullptr;  // memory BIO: ciphertext written by OpenSSL
  Buffer out_;                 // ciphertext taken out of out_bio_, not yet sent
  std::string error_;          // why the session failed ("" if it did not)
  bool write_blocked_ = false;
  bool close_sent_ = false;
  bool closed_by_peer_ = false;
};

}  // namespace ws
