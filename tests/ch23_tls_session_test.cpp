// Chapter 23 — TLS as a sans-I/O layer: a client and a server TlsSession
// talk through nothing but byte vectors, with no socket anywhere. The
// handshake arrives in every possible split and one byte at a time; a write
// before the handshake waits for a READ; close_notify, ALPN, resumption; a
// plain-HTTP client and a certificate for the wrong name are refused. Then a
// whole WebSocket Connection runs on top, unchanged.
// Run: make test CH=23   or   ./build/tests/ch23_tls_session_test
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/io/tls_transport.h"
#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/tls.h"
#include "support/recorder.h"
#include "support/test_tls.h"

namespace ws {
namespace {

using test::TestCa;

// One CA and certificate for the whole binary (key generation is the slow part).
struct Certificates {
  TestCa ca;
  test::PemPair server = ca.issue("server");
  test::PemPair wrong_name = ca.issue("elsewhere", "DNS:elsewhere.test");
  std::shared_ptr<TlsContext> server_context = TlsContext::server(server.cert, server.key).context;
  std::shared_ptr<TlsContext> client_context = TlsContext::client({ca.ca_file(), true}).context;
};
Certificates& certs() {
  static Certificates instance;
  return instance;
}

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Moves what `from` has to send into `to`, in pieces of `chunk` bytes (0: all
// at once), reading after every piece. Returns the plaintext `to` got, and
// stops at the first status other than kOk / kNeedMore.
struct Delivery {
  std::string plaintext;
  TlsStatus last = TlsStatus::kNeedMore;
  size_t bytes = 0;  // ciphertext moved
};
Delivery deliver(TlsSession& from, TlsSession& to, size_t chunk = 0) {
  Delivery result;
  std::vector<uint8_t> wire(from.pending_output().begin(), from.pending_output().end());
  from.mark_sent(wire.size());
  result.bytes = wire.size();
  size_t step = chunk == 0 ? wire.size() : chunk;
  uint8_t buffer[kTlsMaxRecordPlaintext];
  for (size_t at = 0; at < wire.size() || (wire.empty() && at == 0); at += step) {
    to.receive_ciphertext(std::span(wire).subspan(at, std::min(step, wire.size() - at)));
    for (;;) {
      TlsRead read = to.read_plaintext(buffer);
      result.last = read.status;
      if (read.status != TlsStatus::kOk) break;
      result.plaintext.append(reinterpret_cast<char*>(buffer), read.size);
    }
    if (result.last == TlsStatus::kError || result.last == TlsStatus::kClosed) break;
    if (wire.empty()) break;
  }
  return result;
}

// Runs the handshake to the end, flights moved whole. True if both finished.
bool handshake(TlsSession& client, TlsSession& server) {
  for (int flight = 0; flight < 6 && !(client.handshake_done() && server.handshake_done());
       ++flight) {
    deliver(client, server);
    deliver(server, client);
  }
  return client.handshake_done() && server.handshake_done();
}

// ===== the handshake through memory ====================================================

TEST(Ch23_TlsSession, ClientSpeaksFirst) {
  TlsSession client(*certs().client_context, "localhost");
  ASSERT_FALSE(client.failed()) << client.error_text();
  ASSERT_GE(client.buffered_amount(), 5u) << "the ClientHello is queued at once";
  EXPECT_EQ(client.pending_output()[0], 0x16)
      << "RFC 8446 §5.1: a TLS record of type 22 (handshake) carries the ClientHello";
  TlsSession server(*certs().server_context);
  EXPECT_EQ(server.buffered_amount(), 0u) << "a server waits for the ClientHello";
}

TEST(Ch23_TlsSession, HandshakeCompletesThroughMemoryOnly) {
  TlsSession client(*certs().client_context, "localhost");
  TlsSession server(*certs().server_context);
  ASSERT_TRUE(handshake(client, server)) << client.error_text() << server.error_text();
  EXPECT_EQ(client.version(), "TLSv1.3") << "both sides allow 1.3: it is chosen";
  EXPECT_EQ(client.alpn(), "http/1.1") << "RFC 7301: ALPN names HTTP/1.1 (the upgrade's protocol)";
  EXPECT_EQ(server.alpn(), "http/1.1");
}

TEST(Ch23_TlsSession, PlaintextCrossesBothWays) {
  TlsSession client(*certs().client_context, "localhost");
  TlsSession server(*certs().server_context);
  ASSERT_TRUE(handshake(client, server));
  ASSERT_EQ(client.write_plaintext(bytes_of("GET / HTTP/1.1\r\n\r\n")), 18u);
  EXPECT_EQ(deliver(client, server).plaintext, "GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(server.write_plaintext(bytes_of("HTTP/1.1 101 ...")), 16u);
  EXPECT_EQ(deliver(server, client).plaintext, "HTTP/1.1 101 ...");
}

//> ch23.split-every-point
// The ClientHello cut in two at every byte, then the server's whole flight
// cut at every byte: OpenSSL keeps partial records inside the memory BIO, and
// the handshake ends the same way each time.
TEST(Ch23_TlsSession, HandshakeSplitAtEveryPoint) {
  TlsSession probe(*certs().client_context, "localhost");
  const size_t hello = probe.buffered_amount();
  for (size_t cut = 0; cut <= hello; ++cut) {
    TlsSession client(*certs().client_context, "localhost");
    TlsSession server(*certs().server_context);
    std::vector<uint8_t> wire(client.pending_output().begin(), client.pending_output().end());
    client.mark_sent(wire.size());
    std::span<const uint8_t> all(wire);
    server.receive_ciphertext(all.first(cut));
    EXPECT_EQ(server.read_plaintext({}).status, TlsStatus::kNeedMore) << "cut at " << cut;
    EXPECT_EQ(server.buffered_amount(), cut == wire.size() ? server.buffered_amount() : 0u)
        << "no answer before the whole ClientHello, cut at " << cut;
    server.receive_ciphertext(all.subspan(cut));
    server.read_plaintext({});
    ASSERT_TRUE(handshake(client, server)) << "ClientHello cut at " << cut;
  }
  TlsSession client(*certs().client_context, "localhost");
  TlsSession server(*certs().server_context);
  deliver(client, server);
  std::vector<uint8_t> flight(server.pending_output().begin(), server.pending_output().end());
  for (size_t cut = 0; cut <= flight.size(); ++cut) {
    TlsSession c(*certs().client_context, "localhost");
    TlsSession s(*certs().server_context);
    deliver(c, s);
    std::vector<uint8_t> wire(s.pending_output().begin(), s.pending_output().end());
    s.mark_sent(wire.size());
    std::span<const uint8_t> all(wire);
    c.receive_ciphertext(all.first(std::min(cut, wire.size())));
    c.read_plaintext({});
    EXPECT_FALSE(c.failed()) << "server flight cut at " << cut << ": " << c.error_text();
    c.receive_ciphertext(all.subspan(std::min(cut, wire.size())));
    c.read_plaintext({});
    ASSERT_TRUE(handshake(c, s)) << "server flight cut at " << cut << ": " << c.error_text();
  }
}
//< ch23.split-every-point

TEST(Ch23_TlsSession, HandshakeOneByteAtATime) {
  TlsSession client(*certs().client_context, "localhost");
  TlsSession server(*certs().server_context);
  for (int flight = 0; flight < 6 && !(client.handshake_done() && server.handshake_done());
       ++flight) {
    EXPECT_NE(deliver(client, server, 1).last, TlsStatus::kError) << server.error_text();
    EXPECT_NE(deliver(server, client, 1).last, TlsStatus::kError) << client.error_text();
  }
  ASSERT_TRUE(client.handshake_done() && server.handshake_done())
      << "every byte a separate receive_ciphertext(): the handshake still completes";
  ASSERT_EQ(client.write_plaintext(bytes_of("hello")), 5u);
  EXPECT_EQ(deliver(client, server, 1).plaintext, "hello") << "a record delivered byte by byte";
}

// ===== WANT_READ during a write ==========================================================

//> ch23.want-read-during-write
TEST(Ch23_TlsSession, WriteBeforeHandshakeWaitsForARead) {
  TlsSession client(*certs().client_context, "localhost");
  TlsSession server(*certs().server_context);
  EXPECT_EQ(client.write_plaintext(bytes_of("GET / HTTP/1.1\r\n\r\n")), 0u)
      << "no record can be sent before the handshake finishes";
  EXPECT_TRUE(client.write_blocked())
      << "SSL_ERROR_WANT_READ: the write waits for the peer's bytes, not for a writable socket";
  deliver(client, server);
  deliver(server, client);  // the server's flight: the client may now finish
  EXPECT_FALSE(client.write_blocked()) << "new bytes from the peer: try the write again";
  EXPECT_EQ(client.write_plaintext(bytes_of("GET / HTTP/1.1\r\n\r\n")), 18u);
  EXPECT_EQ(deliver(client, server).plaintext, "GET / HTTP/1.1\r\n\r\n")
      << "the retried write arrives once, whole, after the client's Finished";
}
//< ch23.want-read-during-write

// ===== the end ==========================================================================

TEST(Ch23_TlsSession, CloseNotifyEndsThePlaintext) {
  TlsSession client(*certs().client_context, "localhost");
  TlsSession server(*certs().server_context);
  ASSERT_TRUE(handshake(client, server));
  server.write_plaintext(bytes_of("last words"));
  server.close();
  EXPECT_TRUE(server.close_sent());
  EXPECT_EQ(server.write_plaintext(bytes_of("more")), 0u) << "nothing may follow close_notify";
  Delivery got = deliver(server, client);
  EXPECT_EQ(got.plaintext, "last words") << "data before close_notify is delivered";
  EXPECT_EQ(got.last, TlsStatus::kClosed) << "RFC 8446 §6.1: close_notify is the end of data";
  EXPECT_TRUE(client.closed_by_peer());
}

// ===== refusals ========================================================================

TEST(Ch23_TlsSession, PlainHttpOnTheTlsPortIsAnError) {
  TlsSession server(*certs().server_context);
  std::string_view request = "GET /ws HTTP/1.1\r\nHost: localhost\r\n\r\n";
  server.receive_ciphertext(bytes_of(request));
  uint8_t buffer[256];
  EXPECT_EQ(server.read_plaintext(buffer).status, TlsStatus::kError)
      << "an HTTP request is not a TLS record: fail at once, do not wait for more";
  EXPECT_NE(server.error_text().find("http request"), std::string::npos)
      << "OpenSSL recognises plain HTTP; got: " << server.error_text();
}

TEST(Ch23_TlsSession, WrongHostNameIsRefusedByTheClient) {
  Certificates& c = certs();
  auto other = TlsContext::server(c.wrong_name.cert, c.wrong_name.key).context;
  TlsSession client(*c.client_context, "localhost");
  TlsSession server(*other);
  EXPECT_FALSE(handshake(client, server));
  EXPECT_TRUE(client.failed());
  EXPECT_NE(client.error_text().find("hostname mismatch"), std::string::npos)
      << "RFC 6125: the certificate names elsewhere.test, we asked for localhost; got: "
      << client.error_text();
}

TEST(Ch23_TlsSession, UnknownCaIsRefusedByTheClient) {
  TestCa stranger("some other CA");
  test::PemPair pair = stranger.issue("server");
  auto other = TlsContext::server(pair.cert, pair.key).context;
  TlsSession client(*certs().client_context, "localhost");
  TlsSession server(*other);
  EXPECT_FALSE(handshake(client, server));
  EXPECT_NE(client.error_text().find("certificate verify failed"), std::string::npos)
      << "a chain that leads to no trusted CA is refused; got: " << client.error_text();
}

TEST(Ch23_TlsSession, OldTlsVersionsAreRefused) {
  SSL_CTX* old = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
  SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
  SSL_CTX_set_security_level(old, 0);
  SSL* ssl = SSL_new(old);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);
  std::vector<uint8_t> hello(static_cast<size_t>(BIO_ctrl_pending(out)));
  BIO_read(out, hello.data(), static_cast<int>(hello.size()));
  SSL_free(ssl);
  SSL_CTX_free(old);
  ASSERT_FALSE(hello.empty());
  TlsSession server(*certs().server_context);
  server.receive_ciphertext(hello);
  EXPECT_EQ(server.read_plaintext({}).status, TlsStatus::kError)
      << "RFC 8996: TLS 1.0 and 1.1 are deprecated; we speak 1.2 and 1.3 only";
}

// A TLS 1.2 client, written with OpenSSL directly on memory BIOs, so that the
// test can do what our own client never does: ask for a renegotiation.
struct RawTls12Client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  RawTls12Client() {
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    ssl = SSL_new(ctx);
    BIO_set_mem_eof_return(in, -1);
    BIO_set_mem_eof_return(out, -1);
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
  }
  ~RawTls12Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  std::vector<uint8_t> take_output() {
    std::vector<uint8_t> bytes(static_cast<size_t>(BIO_ctrl_pending(out)));
    if (!bytes.empty()) BIO_read(out, bytes.data(), static_cast<int>(bytes.size()));
    return bytes;
  }
  void give(TlsSession& server) {  // the server's output, into us
    std::vector<uint8_t> bytes(server.pending_output().begin(), server.pending_output().end());
    server.mark_sent(bytes.size());
    if (!bytes.empty()) BIO_write(in, bytes.data(), static_cast<int>(bytes.size()));
  }
};

//> ch23.no-renegotiation
TEST(Ch23_TlsSession, RenegotiationIsRefused) {
  RawTls12Client client;
  TlsSession server(*certs().server_context);
  uint8_t buffer[256];
  for (int flight = 0; flight < 4 && SSL_is_init_finished(client.ssl) != 1; ++flight) {
    SSL_do_handshake(client.ssl);
    server.receive_ciphertext(client.take_output());
    server.read_plaintext(buffer);
    client.give(server);
  }
  ASSERT_EQ(SSL_is_init_finished(client.ssl), 1);
  ASSERT_EQ(server.version(), "TLSv1.2");
  // The client asks for a new handshake in mid-stream.
  ASSERT_EQ(SSL_renegotiate(client.ssl), 1);
  SSL_do_handshake(client.ssl);
  server.receive_ciphertext(client.take_output());
  server.read_plaintext(buffer);
  EXPECT_FALSE(server.failed()) << server.error_text();
  EXPECT_GT(server.buffered_amount(), 0u) << "the server answers...";
  EXPECT_LT(server.buffered_amount(), 100u)
      << "...with a no_renegotiation alert, not a ServerHello and a certificate";
  EXPECT_FALSE(server.write_blocked()) << "no renegotiation, so no write waits for a read";
  EXPECT_EQ(server.write_plaintext(bytes_of("still here")), 10u)
      << "the server refused the renegotiation and goes on with the old keys";
  client.give(server);
  char text[64] = {};
  int n = SSL_read(client.ssl, text, sizeof text);
  EXPECT_NE(std::string(text, n > 0 ? static_cast<size_t>(n) : 0), "still here")
      << "the client's renegotiation failed (no_renegotiation alert): it reads nothing more";
}
//< ch23.no-renegotiation

TEST(Ch23_TlsSession, CertificateProblemsAreOneReadableLine) {
  auto missing = TlsContext::server("/nonexistent/cert.pem", "/nonexistent/key.pem");
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.error,
            "cannot load the certificate '/nonexistent/cert.pem': No such file or directory");
  Certificates& c = certs();
  auto mismatch = TlsContext::server(c.server.cert, c.wrong_name.key);
  EXPECT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error.find("mismatch"), std::string::npos) << mismatch.error;
  EXPECT_EQ(mismatch.error.find('\n'), std::string::npos) << "one line";
}

// ===== resumption =======================================================================

TEST(Ch23_TlsSession, SessionTicketResumesTheNextHandshake) {
  std::shared_ptr<TlsSavedSession> saved;
  {
    TlsSession client(*certs().client_context, "localhost");
    TlsSession server(*certs().server_context);
    ASSERT_TRUE(handshake(client, server));
    deliver(server, client);  // TLS 1.3 sends the tickets after the handshake
    EXPECT_FALSE(client.resumed());
    saved = client.saved_session();
  }
  ASSERT_NE(saved, nullptr) << "RFC 8446 §4.6.1: the server sends a NewSessionTicket";
  TlsSession client(*certs().client_context, "localhost", saved);
  TlsSession server(*certs().server_context);
  ASSERT_TRUE(handshake(client, server));
  EXPECT_TRUE(client.resumed()) << "the ticket was accepted: no certificate, no full key exchange";
  EXPECT_TRUE(server.resumed());
}

// ===== a WebSocket on top ===============================================================

//> ch23.connection-over-tls
// The protocol layer is unchanged: a client and a server Connection, each
// behind a TlsTransport, open a WebSocket and echo a message, with every
// byte passed by hand.
TEST(Ch23_TlsSession, WebSocketConnectionRunsUnchangedOnTop) {
  TlsTransport client_tls(*certs().client_context, "localhost");
  TlsTransport server_tls(*certs().server_context);
  auto fixed_random = [](std::span<uint8_t> out) { std::fill(out.begin(), out.end(), 0x42); };
  Connection client(ClientOptions{"localhost", "/ws", {}, {}, fixed_random});
  Connection server;
  test::Recorder client_events, server_events;
  std::vector<uint8_t> buffer(64 * 1024);
  auto pass = [&](TlsTransport& from_tls, Connection& from, TlsTransport& to_tls, Connection& to,
                  test::Recorder& to_events) {
    std::span<const uint8_t> wire = from_tls.output(from);
    size_t n = wire.size();
    std::copy(wire.begin(), wire.end(), buffer.begin());
    from_tls.mark_sent(n);
    if (n > 0) to_tls.receive(buffer, n, to, to_events);
  };
  for (int turn = 0; turn < 8; ++turn) {
    pass(client_tls, client, server_tls, server, server_events);
    pass(server_tls, server, client_tls, client, client_events);
  }
  ASSERT_EQ(client.state(), State::kOpen) << "the upgrade crossed TLS like any other bytes";
  ASSERT_TRUE(client.send_text("over TLS"));
  pass(client_tls, client, server_tls, server, server_events);
  EXPECT_EQ(server_events.events.back(), "text:over TLS");
}
//< ch23.connection-over-tls

}  // namespace
}  // namespace ws
