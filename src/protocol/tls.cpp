// TLS through memory BIOs. See include/openpipe/protocol/tls.h.
#include "openpipe/protocol/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace ws {

struct TlsSavedSession {
  explicit TlsSavedSession(SSL_SESSION* s) : session(s) {}
  ~TlsSavedSession() { SSL_SESSION_free(session); }
  SSL_SESSION* session;  // owned (one reference)
};

namespace {

// The oldest error OpenSSL queued on this thread, as text, and the queue
// emptied (a stale error would otherwise be blamed on the next call).
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0 && ERR_SYSTEM_ERROR(code)) {
    text = std::strerror(ERR_GET_REASON(code));  // fopen() failed: "No such file or directory"
  } else if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    text = reason ? reason : "error " + std::to_string(code);
  }
  ERR_clear_error();
  return text.empty() ? "unknown TLS error" : text;
}

//> tls.alpn-select
// RFC 7301 §3.2: the server picks one of the client's protocols; if it
// speaks none of them it "SHALL respond with a fatal
// no_application_protocol alert". A client that offers no ALPN at all is
// fine (the callback is not called).
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void*) {
  // The offer is a list of length-prefixed names: "\x02h2\x08http/1.1".
  for (unsigned int i = 0; i < offered_length;) {
    unsigned int length = offered[i];
    if (i + 1 + length > offered_length) break;  // malformed: OpenSSL checks too
    std::string_view name(reinterpret_cast<const char*>(offered + i + 1), length);
    if (name == kTlsAlpn) {
      *out = offered + i + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + length;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}
//< tls.alpn-select

//> tls.common-settings
// What both sides share: TLS 1.2 and 1.3 only (SSL 3, TLS 1.0 and 1.1 are
// broken or deprecated: RFC 8996), no renegotiation (a TLS 1.2 feature with
// a history of attacks, and a write that waits for a read in mid-stream),
// and writes that may be partial and may be retried from a moved buffer.
bool common_settings(SSL_CTX* ctx) {
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
         SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1;
}
//< tls.common-settings

bool is_ip_address(std::string_view host) {
  return !host.empty() && (host.find(':') != std::string_view::npos ||
                           std::all_of(host.begin(), host.end(),
                                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; }));
}

}  // namespace

// ---- TlsContext -----------------------------------------------------------------

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

//> tls.server-context
TlsContext::Result TlsContext::server(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  if (cert_file.empty() || key_file.empty()) {
    return {nullptr, "TLS needs both a certificate (--tls-cert) and a key (--tls-key)"};
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || !common_settings(ctx)) {
    SSL_CTX_free(ctx);
    return {nullptr, "cannot create a TLS context: " + openssl_error()};
  }
  std::shared_ptr<TlsContext> context(new TlsContext(ctx, TlsRole::kServer));
  // The file holds the server's certificate, then the intermediates: the
  // client needs the whole chain up to (not including) its trusted root.
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return {nullptr, "cannot load the certificate '" + cert_file + "': " + openssl_error()};
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return {nullptr, "cannot load the private key '" + key_file + "': " + openssl_error()};
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return {nullptr, "the key '" + key_file + "' does not match the certificate '" + cert_file +
                         "': " + openssl_error()};
  }
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  // Session tickets (RFC 8446 §4.6.1; RFC 5077 for 1.2) are on by default:
  // the server keeps no per-client state, the ticket key is random per
  // context. The id context scopes cached sessions to this server.
  static const unsigned char kSessionContext[] = "openpipe";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return {context, {}};
}
//< tls.server-context

//> tls.client-context
TlsContext::Result TlsContext::client(const TlsClientOptions& options) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx || !common_settings(ctx)) {
    SSL_CTX_free(ctx);
    return {nullptr, "cannot create a TLS context: " + openssl_error()};
  }
  std::shared_ptr<TlsContext> context(new TlsContext(ctx, TlsRole::kClient));
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      return {nullptr, "cannot load the CA file '" + options.ca_file + "': " + openssl_error()};
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return {nullptr, "cannot load the system's trusted CAs: " + openssl_error()};
  }
  // Without SSL_VERIFY_PEER a client accepts any certificate, an attacker's
  // included: the handshake must fail when the chain does not verify.
  SSL_CTX_set_verify(ctx, options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpnOffer[] = "\x08http/1.1";
  if (SSL_CTX_set_alpn_protos(ctx, kAlpnOffer, sizeof kAlpnOffer - 1) != 0) {  // 0 is success
    return {nullptr, "cannot set ALPN: " + openssl_error()};
  }
  return {context, {}};
}
//< tls.client-context

// ---- TlsSession -------------------------------------------------------------------

//> tls.session-new
TlsSession::TlsSession(const TlsContext& context, std::string_view host,
                       std::shared_ptr<TlsSavedSession> resume)
    : out_(Buffer::kDefaultMaxSize) {
  ssl_ = SSL_new(context.native());
  in_ = BIO_new(BIO_s_mem());
  out_bio_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_bio_) {
    BIO_free(in_);
    BIO_free(out_bio_);
    error_ = "cannot create a TLS session: " + openssl_error();
    return;
  }
  // An empty memory BIO must say "retry later" (like EAGAIN on a
  // non-blocking socket), not "end of file" (like a closed one).
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_bio_, -1);
  SSL_set_bio(ssl_, in_, out_bio_);  // the SSL object owns both BIOs now
  if (context.role() == TlsRole::kServer) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  std::string name(host);
  if (is_ip_address(name)) {
    // RFC 6066 §3: SNI carries names only, "Literal IPv4 and IPv6 addresses
    // are not permitted"; the certificate must list the address instead.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else if (!name.empty()) {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());  // RFC 6125: checked against the SANs
  }
  if (resume) SSL_set_session(ssl_, resume->session);
  // The client speaks first: the ClientHello is ready to send at once.
  read_plaintext({});
}
//< tls.session-new

TlsSession::~TlsSession() {
  SSL_free(ssl_);  // frees the BIOs too
}

void TlsSession::receive_ciphertext(std::span<const uint8_t> bytes) {
  write_blocked_ = false;  // whatever waited for the peer may go now
  if (!ssl_ || bytes.empty()) return;
  // A memory BIO takes everything (it grows): the caller bounds how much it
  // reads per call, and read_plaintext() consumes every complete record.
  BIO_write(in_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
}

//> tls.read
TlsRead TlsSession::read_plaintext(std::span<uint8_t> out) {
  if (failed()) return {TlsStatus::kError, 0};
  if (closed_by_peer_) return {TlsStatus::kClosed, 0};
  ERR_clear_error();
  // SSL_read runs the handshake first if it is not finished, so one call
  // serves both: handshake messages produce output, records produce data.
  int n = out.empty()
              ? SSL_do_handshake(ssl_)
              : SSL_read(ssl_, out.data(), static_cast<int>(std::min<size_t>(out.size(), INT_MAX)));
  drain_output();  // the handshake's answer, a ticket, an alert: ready to send
  if (n > 0 && !out.empty()) return {TlsStatus::kOk, static_cast<size_t>(n)};
  int error = SSL_get_error(ssl_, n);
  if (n > 0 || error == SSL_ERROR_WANT_READ) return {TlsStatus::kNeedMore, 0};
  if (error == SSL_ERROR_ZERO_RETURN) {  // RFC 8446 §6.1: close_notify
    closed_by_peer_ = true;
    return {TlsStatus::kClosed, 0};
  }
  fail(error);
  return {TlsStatus::kError, 0};
}
//< tls.read

//> tls.write
size_t TlsSession::write_plaintext(std::span<const uint8_t> plaintext) {
  if (failed() || close_sent_ || closed_by_peer_ || plaintext.empty()) return 0;
  ERR_clear_error();
  int n = SSL_write(ssl_, plaintext.data(),
                    static_cast<int>(std::min<size_t>(plaintext.size(), INT_MAX)));
  drain_output();
  if (n > 0) return static_cast<size_t>(n);
  int error = SSL_get_error(ssl_, n);
  // The handshake (ours to finish, or a renegotiation) needs the peer's
  // next message before any record can go: the write waits for a READ. On
  // an event loop this is the classic trap: the socket is writable, yet
  // nothing can be written until it is readable. The caller keeps the bytes.
  if (error == SSL_ERROR_WANT_READ) {
    write_blocked_ = true;
    return 0;
  }
  // A memory BIO never fills up, so WANT_WRITE cannot happen: anything
  // else is fatal.
  fail(error);
  return 0;
}
//< tls.write

//> tls.close
void TlsSession::close() {
  if (close_sent_ || failed() || !handshake_done()) return;
  close_sent_ = true;
  ERR_clear_error();
  // One call queues our close_notify; we do not wait for the peer's (RFC
  // 8446 §6.1 allows closing without it once ours is sent).
  SSL_shutdown(ssl_);
  ERR_clear_error();
  drain_output();
}
//< tls.close

void TlsSession::mark_sent(size_t n) {
  out_.consume(n);
}

void TlsSession::release_memory_if_idle() {
  out_.release_if_empty();
}

//> tls.drain
// Moves what OpenSSL wrote into its output BIO to our Buffer, where the
// caller sees it as one contiguous span (pending_output()).
void TlsSession::drain_output() {
  while (BIO_ctrl_pending(out_bio_) > 0) {
    size_t waiting = BIO_ctrl_pending(out_bio_);
    std::span<uint8_t> space = out_.prepare(waiting);
    if (space.empty()) {  // past the Buffer's hard limit: treat as fatal
      error_ = "TLS output exceeds its limit";
      return;
    }
    int n = BIO_read(out_bio_, space.data(), static_cast<int>(std::min<size_t>(waiting, INT_MAX)));
    if (n <= 0) return;
    out_.commit(static_cast<size_t>(n));
  }
}
//< tls.drain

void TlsSession::fail(int ssl_error) {
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK && !handshake_done()) {
    error_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    ERR_clear_error();
  } else if (ssl_error == SSL_ERROR_SSL) {
    error_ = openssl_error();
  } else {
    error_ = "TLS error " + std::to_string(ssl_error) + ": " + openssl_error();
  }
}

bool TlsSession::handshake_done() const {
  return ssl_ && SSL_is_init_finished(ssl_);
}

std::string TlsSession::alpn() const {
  const unsigned char* name = nullptr;
  unsigned int length = 0;
  if (ssl_) SSL_get0_alpn_selected(ssl_, &name, &length);
  return name ? std::string(reinterpret_cast<const char*>(name), length) : std::string();
}

std::string TlsSession::version() const {
  return ssl_ ? SSL_get_version(ssl_) : "";
}

bool TlsSession::resumed() const {
  return ssl_ && SSL_session_reused(ssl_) == 1;
}

std::shared_ptr<TlsSavedSession> TlsSession::saved_session() const {
  if (!ssl_) return nullptr;
  SSL_SESSION* current = SSL_get0_session(ssl_);
  if (!current || SSL_SESSION_is_resumable(current) != 1) return nullptr;
  // A copy: OpenSSL marks a connection's own session unusable when the
  // connection is freed without a close_notify (a TLS 1.2-era rule), and a
  // client may well be dropped that way.
  SSL_SESSION* copy = SSL_SESSION_dup(current);
  return copy ? std::make_shared<TlsSavedSession>(copy) : nullptr;
}

}  // namespace ws
