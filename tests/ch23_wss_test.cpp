// Chapter 23 — wss:// for real: a server with a plain and a TLS port, the
// C++ client, python-websockets and Node's ws (where installed), and
// ws_client and echo_server as programs. Certificates come from a throwaway
// CA made by the test (tests/support/test_tls.h). Also what the server does
// for hostile or broken TLS clients, and the reverse-proxy helpers: a 426
// that names the missing headers, and X-Forwarded-For from trusted proxies.
// Run: make test CH=23   or   ./build/tests/ch23_wss_test
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "openpipe/io/client.h"
#include "openpipe/io/proxy.h"
#include "openpipe/io/server.h"
#include "support/child_process.h"
#include "support/raw_ws.h"
#include "support/test_server.h"
#include "support/test_tls.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::RawClient;
using test::TestServer;

constexpr auto kTimeout = 10s;  // generous: the machine is shared and loaded

// A server with TLS on a second port, certificate from the process's test CA.
ServerConfig tls_config() {
  ServerConfig config = test::test_config();
  config.tls_cert = test::process_server_cert().cert;
  config.tls_key = test::process_server_cert().key;
  config.tls_port = 0;
  return config;
}

ClientConfig trusting_test_ca() {
  ClientConfig config;
  config.tls.ca_file = test::process_ca().ca_file();
  return config;
}

std::string wss_url(const TestServer& server, const std::string& path = "/ws",
                    const std::string& host = "localhost") {
  return "wss://" + host + ":" +
         std::to_string(const_cast<TestServer&>(server).server().tls_port()) + path;
}

std::string receive_text(Client& client) {
  for (;;) {
    ClientEvent event = client.receive(kTimeout);
    if (event.type == ClientEventType::kPing || event.type == ClientEventType::kPong) continue;
    return event.type == ClientEventType::kText
               ? event.data
               : std::string("<") + to_string(event.type) + ": " + event.data + ">";
  }
}

// ===== echo over wss:// =====================================================================

TEST(Ch23_Wss, EchoWithTheCppClient) {
  TestServer server(tls_config());
  Client client(trusting_test_ca());
  ClientStatus status = client.connect(wss_url(server), kTimeout);
  ASSERT_TRUE(status.ok()) << status.error;
  ASSERT_NE(client.tls_session(), nullptr) << "wss:// runs through TLS";
  EXPECT_EQ(client.tls_session()->alpn(), "http/1.1") << "RFC 7301: ALPN http/1.1";
  ASSERT_TRUE(client.send_text("hello over TLS").ok());
  EXPECT_EQ(receive_text(client), "Echo: hello over TLS");
  EXPECT_TRUE(client.close().ok()) << "WebSocket close, close_notify, TCP close";
}

TEST(Ch23_Wss, PlainAndTlsOnTwoPortsOfOneServer) {
  TestServer server(tls_config());
  ASSERT_NE(server.server().tls_port(), 0);
  ASSERT_NE(server.server().tls_port(), server.server().port());
  Client plain, secure(trusting_test_ca());
  ASSERT_TRUE(
      plain.connect("ws://127.0.0.1:" + std::to_string(server.server().port()) + "/ws", kTimeout)
          .ok());
  ASSERT_TRUE(secure.connect(wss_url(server), kTimeout).ok());
  plain.send_text("plain");
  secure.send_text("secure");
  EXPECT_EQ(receive_text(plain), "Echo: plain");
  EXPECT_EQ(receive_text(secure), "Echo: secure");
}

TEST(Ch23_Wss, LargeMessagesCrossTlsWhole) {
  TestServer server(tls_config());
  Client client(trusting_test_ca());
  ASSERT_TRUE(client.connect(wss_url(server, "/echo"), kTimeout).ok());
  std::string big(3 << 20, 'x');  // 3 MiB: many records, more than kTlsOutputHighWater
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(client.send_text(big).ok());
  std::string back = receive_text(client);
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big) << "the echo of a 3 MiB message differs";
}

TEST(Ch23_Wss, ManyMessagesInOrder) {
  TestServer server(tls_config());
  Client client(trusting_test_ca());
  ASSERT_TRUE(client.connect(wss_url(server, "/echo"), kTimeout).ok());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(client.send_text(std::to_string(i)).ok());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(receive_text(client), std::to_string(i));
}

TEST(Ch23_Wss, ReconnectResumesTheTlsSession) {
  TestServer server(tls_config());
  Client client(trusting_test_ca());
  ASSERT_TRUE(client.connect(wss_url(server), kTimeout).ok());
  client.send_text("one");
  EXPECT_EQ(receive_text(client), "Echo: one");  // the ticket arrived by now
  EXPECT_FALSE(client.tls_session()->resumed());
  client.close();
  ASSERT_TRUE(client.connect(wss_url(server), kTimeout).ok());
  EXPECT_TRUE(client.tls_session()->resumed())
      << "RFC 8446 §2.2: the second connection offers the ticket and skips the full handshake";
}

TEST(Ch23_Wss, HttpErrorsAreReadableThroughTls) {
  TestServer server(tls_config());
  Client client(trusting_test_ca());
  ClientStatus status = client.connect(wss_url(server, "/nope"), kTimeout);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("server answered HTTP 404"), std::string::npos)
      << "the status line is read from the plaintext, as over ws://; got: " << status.error;
}

// ===== the closing order ===================================================================

//> ch23.close-order
TEST(Ch23_Wss, CloseThenCloseNotifyThenFin) {
  TestServer server(tls_config());
  RawClient client;
  ASSERT_TRUE(client.connect(server.server().tls_port()));
  ASSERT_TRUE(client.start_tls()) << "our own OpenSSL client (socket BIO) against the server";
  ASSERT_TRUE(client.handshake("/echo").starts_with("HTTP/1.1 101"));
  EXPECT_TRUE(test::close_handshake(client, 1000))
      << "the close frame, then close_notify (checked by expect_close over TLS), then FIN";
  EXPECT_TRUE(client.close_notify_received());
}
//< ch23.close-order

TEST(Ch23_Wss, ServerShutdownClosesTlsClientsCleanly) {
  auto server = std::make_unique<TestServer>(tls_config());
  RawClient client;
  ASSERT_TRUE(client.connect(server->server().tls_port()) && client.start_tls());
  ASSERT_TRUE(client.handshake("/echo").starts_with("HTTP/1.1 101"));
  std::thread stopper([&] { server->stop(); });
  EXPECT_TRUE(test::expect_close(client, {1001}, true, kTimeout))
      << "shutdown: 1001, close_notify, FIN";
  stopper.join();
}

// ===== the client refuses what it cannot trust ===============================================

TEST(Ch23_Wss, WrongHostNameIsRefused) {
  test::TestCa& ca = test::process_ca();
  test::PemPair elsewhere = ca.issue("elsewhere", "DNS:elsewhere.test");
  ServerConfig config = tls_config();
  config.tls_cert = elsewhere.cert;
  config.tls_key = elsewhere.key;
  TestServer server(config);
  Client client(trusting_test_ca());
  ClientStatus status = client.connect(wss_url(server), kTimeout);
  EXPECT_FALSE(status.ok()) << "a certificate for elsewhere.test does not prove localhost";
  EXPECT_NE(status.error.find("hostname mismatch"), std::string::npos) << status.error;
}

TEST(Ch23_Wss, IpAddressMustBeInTheCertificate) {
  TestServer server(tls_config());  // the certificate lists 127.0.0.1 and ::1
  Client client(trusting_test_ca());
  EXPECT_TRUE(client.connect(wss_url(server, "/ws", "127.0.0.1"), kTimeout).ok())
      << "an IP address is checked against the certificate's IP entries";
}

TEST(Ch23_Wss, UnknownCaIsRefused) {
  test::TestCa stranger("stranger CA");
  test::PemPair pair = stranger.issue("server");
  ServerConfig config = tls_config();
  config.tls_cert = pair.cert;
  config.tls_key = pair.key;
  TestServer server(config);
  Client client(trusting_test_ca());
  ClientStatus status = client.connect(wss_url(server), kTimeout);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("certificate verify failed"), std::string::npos) << status.error;
}

TEST(Ch23_Wss, SystemStoreDoesNotKnowTheTestCa) {
  TestServer server(tls_config());
  Client client;  // no --ca: the system's trusted CAs only
  ClientStatus status = client.connect(wss_url(server), kTimeout);
  EXPECT_FALSE(status.ok()) << "the throwaway CA is in no system store";
  EXPECT_NE(status.error.find("TLS handshake failed"), std::string::npos) << status.error;
}

TEST(Ch23_Wss, InsecureAcceptsAnyCertificate) {
  test::TestCa stranger("stranger CA");
  test::PemPair pair = stranger.issue("server", "DNS:elsewhere.test");
  ServerConfig config = tls_config();
  config.tls_cert = pair.cert;
  config.tls_key = pair.key;
  TestServer server(config);
  ClientConfig insecure;
  insecure.tls.verify = false;
  Client client(insecure);
  EXPECT_TRUE(client.connect(wss_url(server), kTimeout).ok()) << "--insecure checks nothing";
}

// ===== hostile and broken TLS clients ===========================================================

TEST(Ch23_Wss, PlaintextClientOnTheTlsPortIsClosed) {
  TestServer server(tls_config());
  RawClient plain;  // speaks HTTP in clear to the TLS port
  ASSERT_TRUE(plain.connect(server.server().tls_port()));
  plain.send_raw(RawClient::upgrade_request("/ws"));
  plain.read_all(kTimeout);
  EXPECT_TRUE(plain.eof()) << "the server closes a connection that is not TLS, at once";
  Client client(trusting_test_ca());
  EXPECT_TRUE(client.connect(wss_url(server), kTimeout).ok())
      << "and the loop goes on serving everyone else";
}

//> ch23.stalled-handshake
TEST(Ch23_Wss, StalledHandshakeHitsTheDeadline) {
  ServerConfig config = tls_config();
  config.handshake_timeout = Millis{300};
  TestServer server(config);
  // Half a ClientHello, then silence: the slowloris of TLS.
  auto context = TlsContext::client({test::process_ca().ca_file(), true}).context;
  TlsSession hello(*context, "localhost");
  std::span<const uint8_t> bytes = hello.pending_output();
  RawClient stalled;
  ASSERT_TRUE(stalled.connect(server.server().tls_port()));
  stalled.send_raw({reinterpret_cast<const char*>(bytes.data()), bytes.size() / 2});
  RawClient silent;
  ASSERT_TRUE(silent.connect(server.server().tls_port()));
  EXPECT_TRUE(stalled.wait_for_eof(kTimeout)) << "the handshake deadline covers TLS too";
  EXPECT_TRUE(silent.wait_for_eof(kTimeout)) << "a client that never sends a byte, too";
}
//< ch23.stalled-handshake

TEST(Ch23_Wss, GarbageAfterTheHandshakeEndsOnlyThatConnection) {
  TestServer server(tls_config());
  RawClient client;
  ASSERT_TRUE(client.connect(server.server().tls_port()) && client.start_tls());
  ASSERT_TRUE(client.handshake("/echo").starts_with("HTTP/1.1 101"));
  // A forged record: right header, nonsense inside (fails the AEAD check).
  std::string forged = "\x17\x03\x03\x00\x20" + std::string(32, '\x5a');
  ::send(client.fd(), forged.data(), forged.size(), MSG_NOSIGNAL);
  EXPECT_TRUE(client.wait_for_eof(kTimeout)) << "RFC 8446 §5.2: bad_record_mac ends it";
  Client other(trusting_test_ca());
  EXPECT_TRUE(other.connect(wss_url(server), kTimeout).ok());
}

// ===== other clients ===========================================================================

// python3 with the websockets package (Debian: python3-websockets), "" if none.
std::string python_with_websockets() {
  for (const std::string& python :
       {std::string("/usr/bin/python3"), test::find_program("python3")}) {
    if (python.empty() || !test::is_executable(python)) continue;
    if (test::run_program({python, "-c", "import websockets"}, 20s).exit_code == 0) return python;
  }
  return "";
}

TEST(Ch23_Wss, EchoWithPythonWebsockets) {
  std::string python = python_with_websockets();
  if (python.empty()) {
    GTEST_SKIP() << "python3-websockets not installed (apt-get install python3-websockets)";
  }
  TestServer server(tls_config());
  const char* script = R"(
import asyncio, ssl, sys, websockets
async def main():
    context = ssl.create_default_context(cafile=sys.argv[2])
    async with websockets.connect(sys.argv[1], ssl=context) as ws:
        await ws.send("hello from python")
        print(await ws.recv())
asyncio.run(main())
)";
  test::RunResult run =
      test::run_program({python, "-c", script, wss_url(server), test::process_ca().ca_file()}, 30s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("Echo: hello from python"), std::string::npos) << run.output;
}

TEST(Ch23_Wss, EchoWithNodeWs) {
  std::string node = test::find_program("node");
  if (node.empty() || test::run_program({node, "-e", "require('ws')"}, 20s).exit_code != 0) {
    GTEST_SKIP() << "Node's ws module not installed (npm install ws): Node client test skipped";
  }
  TestServer server(tls_config());
  const char* script = R"(
const fs = require('fs'); const WebSocket = require('ws');
const ws = new WebSocket(process.argv[1], { ca: fs.readFileSync(process.argv[2]) });
ws.on('open', () => ws.send('hello from node'));
ws.on('message', (data) => { console.log(String(data)); ws.close(); });
ws.on('error', (e) => { console.error(e.message); process.exit(1); });
)";
  test::RunResult run =
      test::run_program({node, "-e", script, wss_url(server), test::process_ca().ca_file()}, 30s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("Echo: hello from node"), std::string::npos) << run.output;
}

// ===== the programs ===========================================================================

TEST(Ch23_Programs, WsClientSpeaksWssWithCa) {
  std::string ws_client = test::built_program("ws_client");
  if (!test::is_executable(ws_client)) GTEST_SKIP() << "build ws_client first (make)";
  TestServer server(tls_config());
  test::RunResult run = test::run_program(
      {ws_client, "--send", "hi", "--ca", test::process_ca().ca_file(), wss_url(server)}, 30s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("Echo: hi"), std::string::npos) << run.output;
  test::RunResult refused = test::run_program({ws_client, "--send", "hi", wss_url(server)}, 30s);
  EXPECT_EQ(refused.exit_code, 1) << "the system store does not know the test CA";
  EXPECT_NE(refused.output.find("certificate verify failed"), std::string::npos) << refused.output;
}

TEST(Ch23_Programs, WsClientWarnsOnEveryInsecureRun) {
  std::string ws_client = test::built_program("ws_client");
  if (!test::is_executable(ws_client)) GTEST_SKIP() << "build ws_client first (make)";
  TestServer server(tls_config());
  for (int run_number = 0; run_number < 2; ++run_number) {
    test::RunResult run =
        test::run_program({ws_client, "--send", "hi", "--insecure", wss_url(server)}, 30s);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("WARNING: --insecure"), std::string::npos)
        << "run " << run_number << ": the warning comes every time\n"
        << run.output;
  }
}

TEST(Ch23_Programs, EchoServerStopsWithOneLineOnABadCertificate) {
  std::string echo_server = test::built_program("echo_server");
  if (!test::is_executable(echo_server)) GTEST_SKIP() << "build echo_server first (make)";
  test::RunResult run =
      test::run_program({echo_server, "--port", "0", "--tls-port", "0", "--tls-cert",
                         "/nonexistent/cert.pem", "--tls-key", test::process_server_cert().key},
                        20s);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.output,
            "echo_server: cannot start: TLS: cannot load the certificate '/nonexistent/cert.pem': "
            "No such file or directory\n")
      << "one clear line, nothing else";
}

TEST(Ch23_Programs, EchoServerServesWss) {
  std::string echo_server = test::built_program("echo_server");
  if (!test::is_executable(echo_server)) GTEST_SKIP() << "build echo_server first (make)";
  test::Pipe out;
  test::Child child;
  ASSERT_TRUE(
      child.start({echo_server, "--port", "0", "--tls-port", "0", "--quiet", "--tls-cert",
                   test::process_server_cert().cert, "--tls-key", test::process_server_cert().key},
                  {{out.write, STDOUT_FILENO}}));
  out.close_write();
  std::string said;
  const auto deadline = test::Clock::now() + kTimeout;
  while (said.find("(wss://)") == std::string::npos && test::read_some(out.read, said, deadline)) {
  }
  size_t at = said.find("https://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << said;
  int port = std::atoi(said.c_str() + at + std::string_view("https://127.0.0.1:").size());
  Client client(trusting_test_ca());
  ASSERT_TRUE(client.connect("wss://localhost:" + std::to_string(port) + "/ws", kTimeout).ok());
  client.send_text("from the program");
  EXPECT_EQ(receive_text(client), "Echo: from the program");
}

// ===== behind a proxy ==========================================================================

//> ch23.missing-upgrade
TEST(Ch23_Proxy, MissingUpgradeHeadersAreNamedIn426) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  // What nginx sends upstream without the Upgrade/Connection settings: the
  // WebSocket headers, minus the two hop-by-hop ones.
  client.send_raw(
      "GET /ws HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string answer = client.read_all(kTimeout);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 426")) << answer;
  EXPECT_NE(answer.find("proxy_set_header Upgrade $http_upgrade;"), std::string::npos)
      << "the body says what is missing and how to fix the proxy:\n"
      << answer;
}
//< ch23.missing-upgrade

TEST(Ch23_Proxy, PlainGetOfAWebSocketPathStays426WithoutProxyAdvice) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string answer = client.read_all(kTimeout);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 426")) << answer;
  EXPECT_EQ(answer.find("proxy_set_header"), std::string::npos)
      << "a browser typing the URL gets the short text";
}

TEST(Ch23_Proxy, LastForwardedAddressOnly) {
  EXPECT_EQ(last_forwarded_address("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(last_forwarded_address("198.51.100.1, 203.0.113.7"), "203.0.113.7")
      << "the last entry is the one our proxy appended; earlier ones came from the client";
  EXPECT_EQ(last_forwarded_address(" 2001:db8::1 "), "2001:db8::1");
  EXPECT_EQ(last_forwarded_address("evil.example"), "") << "names are not addresses";
  EXPECT_EQ(last_forwarded_address("1.2.3.4\r\nX: y"), "");
  EXPECT_EQ(peer_host("127.0.0.1:5432"), "127.0.0.1");
  EXPECT_EQ(peer_host("[::1]:5432"), "::1");
}

// The log lines of a server, collected.
struct LogLines {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::string all() {
    std::lock_guard lock(mutex);
    std::string text;
    for (const std::string& line : lines) text += line + "\n";
    return text;
  }
};

std::string open_with_forwarded_for(const std::vector<std::string>& trusted, LogLines& log) {
  ServerConfig config = test::test_config();
  config.trusted_proxies = trusted;
  config.log = [&log](std::string_view line) {
    std::lock_guard lock(log.mutex);
    log.lines.emplace_back(line);
  };
  TestServer server(config);
  RawClient client;
  EXPECT_TRUE(client.connect(server.port()));
  EXPECT_TRUE(client.handshake("/echo", "X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n")
                  .starts_with("HTTP/1.1 101"));
  client.send_text("x");
  test::expect_message(client, 1, "x");
  server.stop();
  return log.all();
}

//> ch23.trusted-proxy
TEST(Ch23_Proxy, ForwardedForIsBelievedOnlyFromATrustedProxy) {
  LogLines trusted_log, untrusted_log;
  std::string trusted = open_with_forwarded_for({"127.0.0.1"}, trusted_log);
  EXPECT_NE(trusted.find("open  203.0.113.7 via 127.0.0.1 /echo"), std::string::npos)
      << "from a trusted proxy, the log shows the real client:\n"
      << trusted;
  std::string untrusted = open_with_forwarded_for({"10.9.8.7"}, untrusted_log);
  EXPECT_EQ(untrusted.find("203.0.113.7"), std::string::npos)
      << "from anyone else the header is ignored (anyone can send it):\n"
      << untrusted;
  EXPECT_NE(untrusted.find("open  127.0.0.1:"), std::string::npos) << untrusted;
}
//< ch23.trusted-proxy

}  // namespace
}  // namespace ws
