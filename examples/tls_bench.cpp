// tls_bench: what TLS costs (chapter 23, docs/benchmarks.md).
//
//   build/tls_bench                 every measurement, 2 s each (make bench-tls)
//   build/tls_bench --seconds 5
//
// 1. The TLS handshake alone, full and resumed: a client and a server
//    TlsSession in one thread, bytes passed in memory (no socket, no kernel):
//    handshakes per second of one core, both sides' work together.
// 2. The real server (ws::Server in a second thread, plain port and TLS port)
//    and the library's Client: WebSocket handshakes per second (connect,
//    upgrade, close) for ws://, wss:// with a full TLS handshake, and wss://
//    resuming with a ticket; then messages per second for ws:// and wss://
//    (100 in flight, echoed by /echo, every echo checked).
// The certificate is a throwaway, self-signed one for localhost, made here
// with libcrypto. Short runs on a shared machine: compare the columns of one
// run, not runs of different days.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "openpipe/io/client.h"
#include "openpipe/io/server.h"
#include "openpipe/protocol/tls.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- a self-signed certificate for localhost, in a temporary directory -------------------

struct Certificate {
  std::string dir, cert, key;
  ~Certificate() {
    if (!dir.empty()) {
      ::unlink(cert.c_str());
      ::unlink(key.c_str());
      ::rmdir(dir.c_str());
    }
  }
};

void write_pem(const std::string& path, const std::function<void(BIO*)>& write) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  write(bio);
  BIO_free(bio);
}

bool make_certificate(Certificate& out) {
  char pattern[] = "/tmp/openpipe-tls-bench-XXXXXX";
  if (!::mkdtemp(pattern)) return false;
  out.dir = pattern;
  out.cert = out.dir + "/cert.pem";
  out.key = out.dir + "/key.pem";
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  write_pem(out.cert, [x](BIO* bio) { PEM_write_bio_X509(bio, x); });
  write_pem(out.key, [key](BIO* bio) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  X509_free(x);
  EVP_PKEY_free(key);
  return true;
}

// ---- 1. the handshake in memory ----------------------------------------------------------

// Passes everything `from` has to send to `to`.
void pass(ws::TlsSession& from, ws::TlsSession& to) {
  std::span<const uint8_t> bytes = from.pending_output();
  if (bytes.empty()) return;
  to.receive_ciphertext(bytes);
  from.mark_sent(bytes.size());
  uint8_t scratch[ws::kTlsMaxRecordPlaintext];
  while (to.read_plaintext(scratch).status == ws::TlsStatus::kOk) {
  }
}

// One full handshake (client and server), plus the tickets; false on failure.
bool handshake(const ws::TlsContext& client_ctx, const ws::TlsContext& server_ctx,
               std::shared_ptr<ws::TlsSavedSession>& saved, bool resume) {
  ws::TlsSession client(client_ctx, "localhost", resume ? saved : nullptr);
  ws::TlsSession server(server_ctx);
  for (int i = 0; i < 4; ++i) {
    pass(client, server);
    pass(server, client);
  }
  if (!client.handshake_done() || !server.handshake_done()) return false;
  if (resume != client.resumed()) return false;
  if (!resume) saved = client.saved_session();
  return true;
}

struct Rate {
  double per_second = 0;
  long count = 0;
};

Rate repeat_for(double seconds, const std::function<bool()>& once) {
  Rate rate;
  auto start = Clock::now();
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    if (!once()) {
      std::fprintf(stderr, "tls_bench: a run failed\n");
      std::exit(1);
    }
    ++rate.count;
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  rate.per_second = rate.count / elapsed;
  return rate;
}

// ---- 2. the real server ------------------------------------------------------------------

ws::ClientConfig client_config(const Certificate& cert) {
  ws::ClientConfig config;
  config.tls.ca_file = cert.cert;  // the self-signed certificate is its own CA
  return config;
}

bool one_websocket(ws::Client& client, const std::string& url) {
  if (!client.connect(url, 10s).ok()) return false;
  return client.close().ok();
}

// Messages per second through one connection, `in_flight` at a time.
Rate messages(const Certificate& cert, const std::string& url, double seconds, size_t size) {
  ws::Client client(client_config(cert));
  if (!client.connect(url, 10s).ok()) return {};
  std::string message(size, 'm');
  constexpr int kInFlight = 100;
  Rate rate = repeat_for(seconds, [&] {
    for (int i = 0; i < kInFlight; ++i) {
      if (!client.send_text(message).ok()) return false;
    }
    for (int i = 0; i < kInFlight; ++i) {
      ws::ClientEvent event = client.receive(10s);
      if (event.type != ws::ClientEventType::kText || event.data != message) return false;
    }
    return true;
  });
  client.close();
  rate.count *= kInFlight;
  rate.per_second *= kInFlight;
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::printf("usage: tls_bench [--seconds S]   (default 2 per measurement)\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  Certificate cert;
  if (!make_certificate(cert)) return 1;
  auto server_ctx = ws::TlsContext::server(cert.cert, cert.key);
  auto client_ctx = ws::TlsContext::client({cert.cert, true});
  if (!server_ctx.ok() || !client_ctx.ok()) {
    std::fprintf(stderr, "tls_bench: %s%s\n", server_ctx.error.c_str(), client_ctx.error.c_str());
    return 1;
  }

  std::printf(
      "## TLS handshake in memory (one thread, client and server together, %.0f s each)\n\n",
      seconds);
  std::printf("| handshake | per second | µs each |\n|---|---:|---:|\n");
  std::shared_ptr<ws::TlsSavedSession> saved;
  handshake(*client_ctx.context, *server_ctx.context, saved, false);
  for (bool resume : {false, true}) {
    Rate rate = repeat_for(seconds, [&] {
      return handshake(*client_ctx.context, *server_ctx.context, saved, resume);
    });
    std::printf("| %s | %.0f | %.0f |\n",
                resume ? "resumed (ticket, TLS 1.3 PSK+ECDHE)" : "full (P-256 ECDSA, X25519)",
                rate.per_second, 1e6 / rate.per_second);
  }

  ws::ServerConfig config;
  config.port = 0;
  config.tls_port = 0;
  config.tls_cert = cert.cert;
  config.tls_key = cert.key;
  config.log = nullptr;
  config.ping_interval = ws::Millis{0};
  ws::Server server(config);
  ws::Route echo;
  echo.on_message = [](ws::WebSocket& socket, std::string_view data, ws::MessageType) {
    socket.send_text(data);
  };
  server.route("/echo", echo);
  std::thread loop([&server] { server.run(); });
  std::string plain = "ws://127.0.0.1:" + std::to_string(server.port()) + "/echo";
  std::string secure = "wss://localhost:" + std::to_string(server.tls_port()) + "/echo";

  std::printf("\n## WebSocket handshakes (connect, upgrade, close; server in a second thread)\n\n");
  std::printf("| transport | per second | ms each |\n|---|---:|---:|\n");
  {
    ws::Client client(client_config(cert));
    Rate rate = repeat_for(seconds, [&] { return one_websocket(client, plain); });
    std::printf("| ws:// | %.0f | %.2f |\n", rate.per_second, 1e3 / rate.per_second);
  }
  {
    Rate rate = repeat_for(seconds, [&] {
      ws::Client client(client_config(cert));  // a new client: no ticket to offer
      return one_websocket(client, secure);
    });
    std::printf("| wss://, full TLS handshake | %.0f | %.2f |\n", rate.per_second,
                1e3 / rate.per_second);
  }
  {
    ws::Client client(client_config(cert));
    one_websocket(client, secure);  // the first one gets a ticket
    Rate rate = repeat_for(seconds, [&] {
      if (!client.connect(secure, 10s).ok()) return false;
      bool resumed = client.tls_session() && client.tls_session()->resumed();
      return client.close().ok() && resumed;  // a full handshake would fail the run
    });
    std::printf("| wss://, resumed (ticket) | %.0f | %.2f |\n", rate.per_second,
                1e3 / rate.per_second);
  }

  std::printf("\n## Messages (one connection, 100 in flight, echoed and checked)\n\n");
  std::printf("| size | ws:// msg/s | wss:// msg/s | wss ÷ ws |\n|---:|---:|---:|---:|\n");
  for (size_t size : {20, 1024, 16384}) {
    Rate p = messages(cert, plain, seconds, size);
    Rate s = messages(cert, secure, seconds, size);
    std::printf("| %zu B | %.0f | %.0f | %.2f |\n", size, p.per_second, s.per_second,
                p.per_second > 0 ? s.per_second / p.per_second : 0.0);
  }
  server.request_shutdown();
  loop.join();
  return 0;
}
