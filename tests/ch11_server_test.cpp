// Chapter 11 — the server, tested from outside: a real ws::Server on a
// loopback port, and clients that speak raw bytes over real sockets
// (tests/support/raw_ws.h has its own frame writer and reader).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::RawClient;
using test::RawFrame;
using test::TestServer;

constexpr uint8_t kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10;

// ---- the primer's exchange and plain HTTP ----------------------------------------

TEST(Ch11_Server, PrimerExchangeOnWs) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/ws"));
  client.send_text("Hello WebSocket");
  std::optional<RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply) << "the server must answer the primer's message";
  EXPECT_EQ(reply->opcode, kText);
  EXPECT_EQ(reply->payload, "Echo: Hello WebSocket")
      << "primer §6: Server says: Echo: Hello WebSocket";
  EXPECT_FALSE(reply->masked) << "RFC 6455 §5.1: a server MUST NOT mask";
}

TEST(Ch11_Server, GetSlashServesTheBrowserPage) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string response = client.read_response();
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response.substr(0, 200);
  EXPECT_NE(response.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  size_t body = response.find("\r\n\r\n") + 4;
  EXPECT_NE(response.find("Content-Length: " + std::to_string(response.size() - body) + "\r\n"),
            std::string::npos)
      << "Content-Length must be the body's exact size";
  EXPECT_NE(response.find("new WebSocket"), std::string::npos) << "the page is the primer's client";
}

TEST(Ch11_Server, UnknownPathIs404) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET /no-such-file.html HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(client.read_response().starts_with("HTTP/1.1 404 "));
}

TEST(Ch11_Server, PathTraversalIsRefused) {
  TestServer server;
  for (const char* path :
       {"/../Makefile", "/a/../../Makefile", "/%2e%2e/Makefile", "/..%2fMakefile"}) {
    RawClient client;
    ASSERT_TRUE(client.connect(server.port()));
    client.send_raw(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(client.read_all().starts_with("HTTP/1.1 400 "))
        << path << " must not leave the web root: RFC 9112 §3.2, the parser refuses a \"..\" "
        << "segment however it is encoded";
  }
}

TEST(Ch11_Server, PlainGetToAWebSocketPathIs426) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string response = client.read_all();
  EXPECT_TRUE(response.starts_with("HTTP/1.1 426 ")) << response;
  EXPECT_NE(response.find("Upgrade: websocket\r\n"), std::string::npos);
}

TEST(Ch11_Server, UpgradeToAnUnknownPathIs404) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  EXPECT_TRUE(client.handshake("/nowhere").starts_with("HTTP/1.1 404 "));
}

TEST(Ch11_Server, FrameInTheSameSegmentAsTheHandshake) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
      RawClient::encode(kText, "early"));
  ASSERT_TRUE(client.read_head().starts_with("HTTP/1.1 101"));
  std::optional<RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply) << "the frame that came with the request must not be dropped";
  EXPECT_EQ(reply->payload, "Echo: early");
}

// ---- echo of every size, fragments, control frames -------------------------------

TEST(Ch11_Server, EchoesTextAndBinaryOfEverySize) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  for (size_t size : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536},
                      size_t{1} << 20, size_t{16} << 20}) {
    std::string payload(size, 'a');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
    for (uint8_t opcode : {kText, kBinary}) {
      ASSERT_TRUE(client.send_frame(opcode, payload));
      std::optional<RawFrame> reply = client.read_frame(10s);
      ASSERT_TRUE(reply) << "no echo for " << size << " bytes";
      EXPECT_EQ(reply->opcode, opcode) << "text comes back as text, binary as binary";
      EXPECT_TRUE(reply->payload == payload) << "echo of " << size << " bytes differs";
    }
  }
}

TEST(Ch11_Server, FragmentedMessageIsEchoedWhole) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  client.send_frame(kText, "Hel", false);
  client.send_frame(kPing, "in between");
  client.send_frame(0, "lo", true);
  std::optional<RawFrame> pong = client.read_frame();
  std::optional<RawFrame> echo = client.read_frame();
  ASSERT_TRUE(pong && echo);
  EXPECT_EQ(pong->opcode, kPong);
  EXPECT_EQ(echo->payload, "Hello");
}

TEST(Ch11_Server, PingIsAnsweredWithPong) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  client.send_frame(kPing, "are you there");
  std::optional<RawFrame> pong = client.read_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, kPong) << "RFC 6455 §5.5.2";
  EXPECT_EQ(pong->payload, "are you there");
}

// ---- closing -----------------------------------------------------------------------

TEST(Ch11_Server, ClientCloseIsEchoedThenTcpCloses) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  client.send_close(4001, "bye");
  std::optional<RawFrame> close = client.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, kClose);
  EXPECT_EQ(close->close_code(), 4001) << "RFC 6455 §5.5.1: echo the status code";
  EXPECT_TRUE(client.wait_for_eof(2s)) << "RFC 6455 §7.1.1: the server closes TCP first";
}

TEST(Ch11_Server, ServerCloseCarriesTheCodeAndReason) {
  ServerConfig config = test::test_config();
  TestServer server(config, [](Server& s) {
    Route route;
    route.on_message = [](WebSocket& socket, std::string_view, MessageType) {
      socket.close(4000, "as you wish");
    };
    s.route("/close-me", route);
  });
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/close-me"));
  client.send_text("close please");
  std::optional<RawFrame> close = client.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 4000);
  EXPECT_EQ(close->close_reason(), "as you wish");
  client.send_close(4000);
  EXPECT_TRUE(client.wait_for_eof(2s));
}

TEST(Ch11_Server, ProtocolErrorClosesWith1002) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  client.send_frame(kText, "not masked", true, /*mask=*/false);
  std::optional<RawFrame> close = client.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1002) << "RFC 6455 §5.1: unmasked client frame";
  EXPECT_TRUE(client.wait_for_eof(2s));
}

TEST(Ch11_Server, TooLargeMessageClosesWith1009) {
  ServerConfig config = test::test_config();
  config.limits.max_message_size = 1000;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  client.send_binary(std::string(1001, 'x'));
  std::optional<RawFrame> close = client.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1009);
}

TEST(Ch11_Server, CloseRepliesAreAwaitedOnlyUntilTheDeadline) {
  ServerConfig config = test::test_config();
  config.close_timeout = 200ms;
  TestServer server(config, [](Server& s) {
    Route route;
    route.on_open = [](WebSocket& socket) { socket.close(1000, "go"); };
    s.route("/closer", route);
  });
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/closer"));
  std::optional<RawFrame> close = client.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, kClose);
  // We never answer: the server must close TCP once close_timeout passes.
  EXPECT_TRUE(client.wait_for_eof(3s)) << "the closing handshake has a deadline";
}

// ---- timeouts --------------------------------------------------------------------------

TEST(Ch11_Server, HeartbeatClosesAClientThatNeverAnswersPings) {
  ServerConfig config = test::test_config();
  config.ping_interval = 100ms;
  config.pong_timeout = 100ms;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  std::optional<RawFrame> ping = client.read_frame(2s);
  ASSERT_TRUE(ping) << "a quiet connection gets a ping";
  EXPECT_EQ(ping->opcode, kPing);
  std::optional<RawFrame> close = client.read_frame(2s);  // we do not answer the ping
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, kClose);
  EXPECT_EQ(close->close_code(), 1008) << "no pong by the deadline: policy violation";
}

TEST(Ch11_Server, HeartbeatKeepsAnsweringClientsOpen) {
  ServerConfig config = test::test_config();
  config.ping_interval = 50ms;
  config.pong_timeout = 100ms;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  for (int i = 0; i < 5; ++i) {
    std::optional<RawFrame> ping = client.read_frame(2s);
    ASSERT_TRUE(ping);
    ASSERT_EQ(ping->opcode, kPing) << "ping " << i;
    client.send_frame(kPong, ping->payload);
  }
  client.send_text("still here");
  std::optional<RawFrame> echo;
  do echo = client.read_frame(2s);
  while (echo && echo->opcode == kPing);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload, "still here");
}

TEST(Ch11_Server, HandshakeTimeoutClosesAStalledClient) {
  ServerConfig config = test::test_config();
  config.handshake_timeout = 200ms;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET /echo HTTP/1.1\r\nHost: x\r\n");  // and then nothing (slowloris)
  std::string response = client.read_all(3s);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 408 ")) << response;
  EXPECT_TRUE(client.eof()) << "the stalled connection is closed at the deadline";
}

TEST(Ch11_Server, IdleTimeoutClosesWith1001) {
  ServerConfig config = test::test_config();
  config.idle_timeout = 150ms;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  std::optional<RawFrame> close = client.read_frame(3s);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1001);
}

// ---- many clients, limits, backpressure, shutdown ------------------------------------------

void raise_descriptor_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

TEST(Ch11_Server, ThousandConcurrentConnectionsLoseNothing) {
  raise_descriptor_limit();
  TestServer server;
  std::vector<RawClient> clients(1000);
  for (RawClient& client : clients) ASSERT_TRUE(client.open(server.port(), "/echo"));
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < clients.size(); ++i) {
      clients[i].send_text("client " + std::to_string(i) + " message " + std::to_string(round));
    }
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    for (int round = 0; round < 3; ++round) {
      std::optional<RawFrame> reply = clients[i].read_frame(5s);
      ASSERT_TRUE(reply) << "client " << i << " lost message " << round;
      ASSERT_EQ(reply->payload, "client " + std::to_string(i) + " message " + std::to_string(round))
          << "messages come back in order";
    }
  }
}

TEST(Ch11_Server, MaxConnectionsAnswers503) {
  ServerConfig config = test::test_config();
  config.max_connections = 2;
  TestServer server(config);
  RawClient a, b, c;
  ASSERT_TRUE(a.open(server.port()));
  ASSERT_TRUE(b.open(server.port()));
  ASSERT_TRUE(c.connect(server.port()));
  EXPECT_TRUE(c.handshake("/echo").starts_with("HTTP/1.1 503 ")) << "beyond the limit: 503";
  a.send_text("still served");
  std::optional<RawFrame> reply = a.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, "still served");
}

TEST(Ch11_Server, ClientThatStopsReadingCannotGrowServerMemory) {
  ServerConfig config = test::test_config();
  config.high_water_mark = 256 * 1024;
  std::atomic<size_t> most_buffered{0};
  TestServer server(config, [&](Server& s) {
    Route route;
    route.on_message = [&](WebSocket& socket, std::string_view data, MessageType) {
      socket.send_binary({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
      most_buffered = std::max(most_buffered.load(), socket.buffered_amount());
    };
    s.route("/echo", route);
  });
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/echo"));
  int small = 4096;
  setsockopt(client.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // Send 64 MiB in 64 KiB messages and never read: once the server stops
  // reading us, our sends block; a non-blocking send tells us when.
  std::string message = RawClient::encode(kBinary, std::string(64 * 1024, 'x'));
  constexpr size_t kMessages = 1024;  // 64 MiB in all
  size_t sent_bytes = 0;
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (sent_bytes < kMessages * message.size() && std::chrono::steady_clock::now() < deadline) {
    size_t offset = sent_bytes % message.size();
    ssize_t n = ::send(client.fd(), message.data() + offset, message.size() - offset,
                       MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent_bytes += static_cast<size_t>(n);
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  size_t sent_messages = sent_bytes / message.size();
  EXPECT_LT(sent_messages, kMessages) << "the server must stop reading a client that does not read";
  // One read (256 KiB) may complete a few 64 KiB messages before reading
  // pauses, so the bound allows the mark plus one read's worth of echoes.
  EXPECT_LE(most_buffered.load(), config.high_water_mark + 5 * (64 * 1024 + 16))
      << "queued output stays near the high-water mark, whatever the client sends";
}

TEST(Ch11_Server, GracefulShutdownSends1001ToEveryone) {
  TestServer server;
  std::vector<RawClient> clients(3);
  for (RawClient& client : clients) ASSERT_TRUE(client.open(server.port(), "/echo"));
  server.server().request_shutdown();
  for (RawClient& client : clients) {
    std::optional<RawFrame> close = client.read_frame(2s);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->close_code(), 1001) << "RFC 6455 §7.4.1: 1001 Going Away";
    client.send_close(1001);
  }
  server.stop();  // returns once the loop has ended
  EXPECT_FALSE(server.running());
}

TEST(Ch11_Server, ServerPushReachesEveryClient) {
  ServerConfig config = test::test_config();
  TestServer server(config, [](Server& s) {
    test::add_echo_routes(s);
    s.every(50ms, [&s] { s.broadcast("tick"); });
  });
  RawClient a, b;
  ASSERT_TRUE(a.open(server.port()));
  ASSERT_TRUE(b.open(server.port()));
  for (RawClient* client : {&a, &b}) {
    std::optional<RawFrame> tick = client->read_frame(2s);
    ASSERT_TRUE(tick) << "primer §8: the server pushes without a request";
    EXPECT_EQ(tick->payload, "tick");
  }
}

TEST(Ch11_Server, PerConnectionDataIsRemembered) {
  ServerConfig config = test::test_config();
  TestServer server(config, [](Server& s) {
    Route route;
    route.on_open = [](WebSocket& socket) { socket.set_data<int>(0); };
    route.on_message = [](WebSocket& socket, std::string_view, MessageType) {
      int& count = socket.data<int>();
      socket.send_text("message #" + std::to_string(++count));
    };
    s.route("/count", route);
  });
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/count"));
  for (int i = 1; i <= 3; ++i) {
    client.send_text("hi");
    std::optional<RawFrame> reply = client.read_frame();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->payload, "message #" + std::to_string(i)) << "primer §8: the server remembers";
  }
}

TEST(Ch11_Server, UpgradeHookCanRefuseAndAttachData) {
  ServerConfig config = test::test_config();
  TestServer server(config, [](Server& s) {
    Route route;
    route.on_upgrade = [](const HttpRequest& request, WebSocket& socket) {
      if (request.query() != "token=secret") return UpgradeDecision::refuse(401, "bad token\n");
      socket.set_data<std::string>("alice");
      return UpgradeDecision::accept();
    };
    route.on_message = [](WebSocket& socket, std::string_view, MessageType) {
      socket.send_text("hello " + socket.data<std::string>());
    };
    s.route("/private", route);
  });
  RawClient refused;
  ASSERT_TRUE(refused.connect(server.port()));
  EXPECT_TRUE(refused.handshake("/private?token=wrong").starts_with("HTTP/1.1 401 "));
  RawClient accepted;
  ASSERT_TRUE(accepted.connect(server.port()));
  ASSERT_TRUE(accepted.handshake("/private?token=secret").starts_with("HTTP/1.1 101 "));
  accepted.send_text("who am I?");
  std::optional<RawFrame> reply = accepted.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, "hello alice");
}

TEST(Ch11_Server, OriginAllowlistRefusesOtherOrigins) {
  ServerConfig config = test::test_config();
  config.allowed_origins = {"http://good.example"};
  TestServer server(config);
  RawClient bad;
  ASSERT_TRUE(bad.connect(server.port()));
  EXPECT_TRUE(
      bad.handshake("/echo", "Origin: http://evil.example\r\n").starts_with("HTTP/1.1 403 "))
      << "Cross-Site WebSocket Hijacking: a foreign Origin is refused";
  RawClient good;
  ASSERT_TRUE(good.connect(server.port()));
  EXPECT_TRUE(
      good.handshake("/echo", "Origin: http://good.example\r\n").starts_with("HTTP/1.1 101 "));
}

}  // namespace
}  // namespace ws
