// Chapter 14: a client on the same core. ws:// URLs (RFC 6455 §3), the
// backoff between reconnection attempts, and the Client against a real peer
// over loopback: a tiny server on a thread that drives a server-role
// Connection, so both ends run the real protocol code over real sockets.
// Run: make test CH=14   or   ./build/tests/ch14_client_test --gtest_filter='Ch14_Client.*'
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "openpipe/io/client.h"
#include "openpipe/io/socket.h"
#include "openpipe/protocol/handshake.h"
#include "support/hex.h"

namespace ws {
namespace {

using namespace std::chrono_literals;

// Every wait in these tests is bounded, so a broken client fails instead of
// hanging. Nothing is asserted about how long anything takes.
constexpr Duration kTimeout = 2000ms;
constexpr int kTimeoutMs = 2000;
// How long a lingering test server keeps TCP open after the closing
// handshake. A correct client waits for it (up to its close_timeout, 2 s).
constexpr int kLingerMs = 200;
// More than the kernel buffers of both directions can hold together, so
// that a writer that does not read would wait forever.
constexpr size_t kFloodSize = 12 << 20;

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// ---- URLs (RFC 6455 §3) ------------------------------------------------------------

TEST(Ch14_Client, ParsesHostPortAndPath) {
  UrlResult r = parse_url("ws://localhost:8000/ws");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.url.host, "localhost");
  EXPECT_EQ(r.url.port, 8000);
  EXPECT_EQ(r.url.resource, "/ws");
  EXPECT_EQ(r.url.host_header(), "localhost:8000") << "RFC 6455 §4.1: Host is host:port";
}

TEST(Ch14_Client, DefaultPortIs80AndStaysOutOfTheHostHeader) {
  UrlResult r = parse_url("ws://127.0.0.1/echo");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.url.port, 80) << "RFC 6455 §3: the default port for ws is 80";
  EXPECT_EQ(r.url.host_header(), "127.0.0.1")
      << "RFC 6455 §4.1 item 4: the port goes in Host only when it is not the default";
}

TEST(Ch14_Client, Ipv6AddressIsInBrackets) {
  UrlResult r = parse_url("ws://[::1]:8000/ws");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.url.host, "::1") << "the brackets are URL syntax, not part of the address";
  EXPECT_EQ(r.url.port, 8000);
  EXPECT_EQ(r.url.host_header(), "[::1]:8000") << "an IPv6 Host keeps its brackets";
}

TEST(Ch14_Client, EmptyPathBecomesSlashAndQueryIsKept) {
  EXPECT_EQ(parse_url("ws://example.com").url.resource, "/")
      << "RFC 6455 §3: the resource name is \"/\" if the path is empty";
  EXPECT_EQ(parse_url("ws://example.com?room=1").url.resource, "/?room=1");
  EXPECT_EQ(parse_url("ws://h:9/chat?room=1&user=ann").url.resource, "/chat?room=1&user=ann")
      << "the query is part of the resource name sent in the GET line";
}

TEST(Ch14_Client, SchemeIsCaseInsensitive) {
  UrlResult r = parse_url("WS://Example.com:8000/");
  ASSERT_TRUE(r.ok()) << r.error << " (RFC 3986 §3.1: schemes are case-insensitive)";
  EXPECT_EQ(r.url.port, 8000);
}

TEST(Ch14_Client, UrlPrintsBackToTheSameText) {
  for (const char* text :
       {"ws://localhost:8000/ws", "ws://127.0.0.1/echo", "ws://[::1]:8000/ws?x=1"}) {
    UrlResult r = parse_url(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error;
    EXPECT_EQ(r.url.to_string(), text);
  }
}

TEST(Ch14_Client, WssMeansTlsOnPort443) {
  UrlResult r = parse_url("wss://example.com/ws");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.url.tls) << "wss:// means TLS (chapter 23): never connect in clear";
  EXPECT_EQ(r.url.port, 443) << "RFC 6455 §3: the default port for wss is 443";
  EXPECT_EQ(r.url.host_header(), "example.com") << "RFC 6455 §4.1: the default port is left out";
  EXPECT_EQ(r.url.to_string(), "wss://example.com/ws");
}

TEST(Ch14_Client, RefusesMalformedUrls) {
  struct Case {
    const char* url;
    const char* hint;
  };
  const Case cases[] = {
      {"localhost:8000/ws", "no scheme"},
      {"http://localhost/ws", "http:// is not a WebSocket URL"},
      {"ws://", "no host"},
      {"ws://:8000/ws", "no host"},
      {"ws://h:0/", "port 0 cannot be connected to"},
      {"ws://h:65536/", "ports are 16 bits"},
      {"ws://h:123456/", "ports are 16 bits"},
      {"ws://h:80a/", "a port is digits only"},
      {"ws://h:/", "empty port"},
      {"ws://::1:8000/", "an IPv6 address needs brackets"},
      {"ws://[::1/", "missing ]"},
      {"ws://[abc]/", "brackets hold an IPv6 address"},
      {"ws://[::1]x/", "only :port may follow ]"},
      {"ws://h o/", "a space is not a host character"},
      {"ws://user:pw@h/", "no userinfo in a ws:// URL"},
      {"ws://h/chat#top", "RFC 6455 §3: fragment identifiers MUST NOT be used"},
  };
  for (const Case& c : cases) {
    UrlResult r = parse_url(c.url);
    EXPECT_FALSE(r.ok()) << c.url << " was accepted: " << c.hint;
    EXPECT_FALSE(r.error.empty()) << c.url << ": a refusal must say why";
  }
}

TEST(Ch14_Client, RefusesCrLfInThePath) {
  // The resource goes into "GET <resource> HTTP/1.1\r\n": a CR LF in it would
  // let whoever wrote the URL add headers to our request.
  UrlResult r = parse_url("ws://h/ws\r\nCookie: stolen=1");
  EXPECT_FALSE(r.ok()) << "header injection through the URL";
  EXPECT_FALSE(parse_url("ws://h/a b").ok()) << "a space would end the request target";
}

// ---- Backoff -------------------------------------------------------------------------

// Jitter sources for deterministic tests.
uint64_t always_ceiling(uint64_t upper) {
  return upper;
}
uint64_t always_zero(uint64_t) {
  return 0;
}

TEST(Ch14_Client, BackoffCeilingDoublesUpToTheCap) {
  Backoff backoff(100ms, 1000ms, always_ceiling);
  std::vector<int64_t> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(backoff.next_delay().count());
  EXPECT_EQ(delays, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000}))
      << "initial, then twice as long after each failure, never above the cap";
}

TEST(Ch14_Client, BackoffFullJitterCanWaitZero) {
  Backoff backoff(100ms, 1000ms, always_zero);
  EXPECT_EQ(backoff.next_delay(), 0ms) << "full jitter: the wait is anywhere in [0, ceiling]";
  EXPECT_EQ(backoff.ceiling(), 200ms) << "the ceiling doubles even when the wait was short";
}

TEST(Ch14_Client, BackoffResetStartsAgainFromInitial) {
  Backoff backoff(100ms, 1000ms, always_ceiling);
  for (int i = 0; i < 4; ++i) backoff.next_delay();
  backoff.reset();
  EXPECT_EQ(backoff.next_delay(), 100ms) << "after a success the next failure waits little again";
}

TEST(Ch14_Client, BackoffJitterStaysWithinZeroAndTheCeiling) {
  // The real source (getrandom): every wait is within its ceiling.
  Backoff backoff(10ms, 5000ms);
  for (int i = 0; i < 1000; ++i) {
    Duration ceiling = backoff.ceiling();
    Duration delay = backoff.next_delay();
    ASSERT_GE(delay, 0ms);
    ASSERT_LE(delay, ceiling) << "attempt " << i << ": a wait above its ceiling";
  }
}

TEST(Ch14_Client, BackoffNeverOverflowsAfterManyFailures) {
  Backoff backoff(1ms, 30000ms, always_ceiling);
  for (int i = 0; i < 200; ++i) backoff.next_delay();
  EXPECT_EQ(backoff.next_delay(), 30000ms)
      << "2^200 ms would overflow: doubling must stop at the cap";
}

TEST(Ch14_Client, BackoffSourceOutOfRangeIsClamped) {
  Backoff backoff(100ms, 1000ms, [](uint64_t) { return ~uint64_t{0}; });
  EXPECT_EQ(backoff.next_delay(), 100ms) << "a broken random source must not make a huge wait";
}

// ---- a peer on loopback ----------------------------------------------------------------

// poll() one descriptor with the tests' bound: true if ready.
bool wait_fd(int fd, short events, int timeout_ms = kTimeoutMs) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// Writes all of `bytes`, waiting when the socket buffer is full.
bool write_all(int fd, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    ssize_t n = send_nosignal(fd, bytes);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Reads until the peer closes (true) or the bound passes (false).
bool wait_for_eof(int fd) {
  uint8_t buffer[4096];
  for (;;) {
    if (!wait_fd(fd, POLLIN)) return false;
    ssize_t n = read_some(fd, buffer);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
}

// Reads an HTTP request head, byte by byte so that nothing after it is taken.
std::string read_head(int fd) {
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    uint8_t byte;
    ssize_t n = read_some(fd, {&byte, 1});
    if (n == 1) {
      head += static_cast<char>(byte);
    } else if (n < 0 && errno == EAGAIN) {
      if (!wait_fd(fd, POLLIN)) break;
    } else {
      break;
    }
  }
  return head;
}

std::string header_value(const std::string& head, const std::string& name) {
  size_t at = head.find(name + ": ");
  if (at == std::string::npos) return {};
  size_t start = at + name.size() + 2;
  return head.substr(start, head.find("\r\n", start) - start);
}

// A one-connection server on its own thread: listens on 127.0.0.1 (port 0:
// any free port), accepts ONE connection and runs `serve` on it. join()
// before reading what `serve` recorded.
class TestServer {
 public:
  using Serve = std::function<void(int fd)>;
  explicit TestServer(Serve serve, uint16_t port = 0) : listener_(listen_tcp("127.0.0.1", port)) {
    thread_ = std::thread([this, serve = std::move(serve)] {
      if (!wait_fd(listener_.fd.get(), POLLIN)) return;  // nobody came
      Fd fd = accept_connection(listener_.fd.get());
      if (fd) serve(fd.get());
    });  // `fd` closes here: the server's TCP close
  }
  ~TestServer() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  std::string url(const std::string& path = "/ws") const {
    return "ws://127.0.0.1:" + std::to_string(listener_.port) + path;
  }

 private:
  Listener listener_;
  std::thread thread_;
};

// The server's side of the conversation: like the echo server's /ws, plus
// a few commands that make the server do what a test needs.
class EchoHandler : public ConnectionHandler {
 public:
  std::vector<std::string> events;     // what the server saw, as short strings
  std::vector<std::string> protocols;  // subprotocols the server accepts
  std::string request_head_key;        // the Sec-WebSocket-Key it received
  bool drop = false;                   // "please drop": close TCP with no close frame
  bool linger = false;                 // after the close handshake, wait before closing TCP

  void on_request(Connection& c, const HttpRequest& request) override {
    if (const std::string* key = request.header("Sec-WebSocket-Key")) request_head_key = *key;
    if (request.path() == "/missing") return c.reject(404, "Not Found\n");
    c.accept(protocols);
  }
  void on_text(Connection& c, std::string_view text) override {
    events.push_back("text:" + std::string(text));
    if (text == "please ping") {
      c.send_ping(as_bytes("are you there"));
    } else if (text == "please close") {
      c.close(kCloseGoingAway, "going away");
    } else if (text == "please drop") {
      drop = true;
    } else if (text == "please flood") {
      c.send_binary(std::vector<uint8_t>(kFloodSize, 0x5a));
    } else {
      c.send_text("Echo: " + std::string(text));
    }
  }
  void on_binary(Connection& c, std::span<const uint8_t> data) override {
    events.push_back("binary:" + std::to_string(data.size()));
    c.send_binary(data);
  }
  void on_pong(Connection&, std::span<const uint8_t> data) override {
    events.push_back("pong:" + std::string(data.begin(), data.end()));
  }
  void on_close(Connection&, uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }
  void on_error(Connection&, Error error) override {
    events.push_back("error:" + std::string(to_string(error)));
  }
};

// Drives a server-role Connection with simple blocking-style I/O: write what
// it queued, read, feed, until it is CLOSED (then return: the caller's Fd
// closes TCP, the server first, §7.1.1) or the client goes away. `raw` gets
// every byte the client sent, for tests that look at the wire.
void serve_connection(int fd, EchoHandler& handler, std::string* raw = nullptr,
                      std::string* ending = nullptr) {
  Connection connection;
  std::vector<uint8_t> buffer(64 * 1024);
  auto end = [&](const char* how) {
    if (ending) *ending = how;
  };
  for (;;) {
    if (!write_all(fd, connection.pending_output())) return end("write failed");
    connection.mark_sent(connection.pending_output().size());
    if (connection.wants_close_transport()) {
      // With `linger`, the server waits a little before closing: a client
      // that does not wait for the server's TCP close shows up here.
      if (handler.linger && wait_fd(fd, POLLIN, kLingerMs) && read_some(fd, buffer) == 0) {
        return end("client closed TCP first");
      }
      return end("server closed TCP");
    }
    if (handler.drop) return end("server dropped TCP");
    if (!wait_fd(fd, POLLIN)) return end("silence");
    ssize_t n = read_some(fd, buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      connection.receive_eof(handler);
      return end("client closed TCP");
    }
    if (raw) raw->append(buffer.begin(), buffer.begin() + n);
    connection.receive_data({buffer.data(), static_cast<size_t>(n)}, handler);
  }
}

// ---- connecting ---------------------------------------------------------------------------

TEST(Ch14_Client, ConnectsAndCompletesTheHandshake) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ClientStatus status = client.connect(server.url(), kTimeout);
  ASSERT_TRUE(status.ok()) << status.error;
  EXPECT_TRUE(client.is_open()) << "RFC 6455 §4.1: a valid 101 opens the connection";
  EXPECT_GE(client.fd(), 0);
  client.disconnect();
}

TEST(Ch14_Client, TextRoundTrip) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.send_text("Hello WebSocket").ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kText) << to_string(event.type) << " " << event.data;
  EXPECT_EQ(event.data, "Echo: Hello WebSocket");
  client.close();
}

TEST(Ch14_Client, BinaryRoundTrip) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  std::vector<uint8_t> data = test::hex("00 ff 80 7f 0d 0a");
  ASSERT_TRUE(client.send_binary(data).ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kBinary) << to_string(event.type) << " " << event.data;
  EXPECT_EQ(test::to_hex(as_bytes(event.data)), "00 ff 80 7f 0d 0a")
      << "binary messages carry any byte, NUL and CR LF included";
  client.close();
}

TEST(Ch14_Client, LargeMessageRoundTrip) {
  // 1 MiB: more than one write and many reads on both sides.
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  std::vector<uint8_t> data(1 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(client.send_binary(data).ok());
  ClientEvent event = client.receive(kTimeout);
  ASSERT_EQ(event.type, ClientEventType::kBinary) << to_string(event.type) << " " << event.data;
  EXPECT_TRUE(event.data == std::string(data.begin(), data.end()))
      << "a message split over many reads comes back whole and unchanged";
  client.close();
}

TEST(Ch14_Client, SendingWhileTheServerSendsDoesNotDeadlock) {
  // The test server writes all of its output before it reads again. While
  // it writes a flood, our own large message fits in no buffer: the client
  // must read while it waits to write, or both ends wait for each other.
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.send_text("please flood").ok());
  ClientStatus sent = client.send_binary(std::vector<uint8_t>(kFloodSize, 0xa5));
  ASSERT_TRUE(sent.ok()) << sent.error << " (flush() must read while it waits for POLLOUT)";
  ClientEvent flood = client.receive(kTimeout);
  EXPECT_EQ(flood.data.size(), kFloodSize) << to_string(flood.type);
  ClientEvent echo = client.receive(kTimeout);
  EXPECT_EQ(echo.data.size(), kFloodSize) << to_string(echo.type);
  client.close();
}

TEST(Ch14_Client, OffersAndReportsTheSubprotocol) {
  EchoHandler handler;
  handler.protocols = {"chat"};
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  ClientConfig config;
  config.subprotocols = {"superchat", "chat"};
  Client client(config);
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  EXPECT_EQ(client.subprotocol(), "chat")
      << "RFC 6455 §4.1: the server picks one of the offered subprotocols";
  client.close();
}

TEST(Ch14_Client, HandshakeKeyComesFromTheRandomSource) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  ClientConfig config;
  config.random = [n = uint8_t{0}](std::span<uint8_t> out) mutable {
    for (uint8_t& b : out) b = ++n;  // 01 02 03 ... : predictable, for this test only
  };
  Client client(config);
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  client.close();
  server.join();
  EXPECT_EQ(handler.request_head_key, "AQIDBAUGBwgJCgsMDQ4PEA==")
      << "RFC 6455 §4.1: the key is base64 of 16 bytes from the random source (here 01..10)";
}

TEST(Ch14_Client, FramesRightBehindThe101AreKept) {
  // A server may send its first message in the same TCP segment as the 101.
  TestServer server([](int fd) {
    std::string key = header_value(read_head(fd), "Sec-WebSocket-Key");
    Handshake handshake;
    handshake.accept_key = compute_accept_key(key);
    Buffer welcome;
    append_frame(welcome, Opcode::kText, true, as_bytes("welcome"));
    std::string wire = build_accept_response(handshake) + std::string(welcome.view());
    write_all(fd, as_bytes(wire));
    wait_for_eof(fd);
  });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.data, "welcome") << "bytes after the 101's blank line are the first frame";
  client.disconnect();
}

TEST(Ch14_Client, ReceiveTimesOutWhenNothingArrives) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  EXPECT_EQ(client.receive(50ms).type, ClientEventType::kTimeout);
  EXPECT_TRUE(client.is_open()) << "a timeout is not an error: the connection stays open";
  client.close();
}

// ---- control frames ----------------------------------------------------------------------

TEST(Ch14_Client, PingGetsAPongEvent) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.ping(as_bytes("hello")).ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kPong) << to_string(event.type) << " " << event.data;
  EXPECT_EQ(event.data, "hello") << "RFC 6455 §5.5.3: a pong carries the ping's payload";
  client.close();
}

TEST(Ch14_Client, ServerPingIsAnsweredAutomatically) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.send_text("please ping").ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kPing) << to_string(event.type) << " " << event.data;
  EXPECT_EQ(event.data, "are you there");
  client.disconnect();  // no close handshake: only what receive() already sent
  server.join();
  EXPECT_NE(std::find(handler.events.begin(), handler.events.end(), "pong:are you there"),
            handler.events.end())
      << "RFC 6455 §5.5.2: the client MUST answer a ping with a pong, without the application";
}

TEST(Ch14_Client, PingOver125BytesIsRefused) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  std::string big(126, 'x');
  EXPECT_FALSE(client.ping(as_bytes(big)).ok()) << "RFC 6455 §5.5: control payloads are <= 125";
  EXPECT_TRUE(client.is_open());
  client.close();
}

// ---- closing --------------------------------------------------------------------------------

TEST(Ch14_Client, CloseCompletesTheHandshakeAndTheServerClosesTcpFirst) {
  EchoHandler handler;
  handler.linger = true;
  std::string ending;
  TestServer server([&](int fd) { serve_connection(fd, handler, nullptr, &ending); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ClientStatus status = client.close(kCloseNormal, "bye");
  EXPECT_TRUE(status.ok()) << status.error;
  EXPECT_EQ(client.state(), State::kClosed);
  EXPECT_EQ(client.fd(), -1) << "after close() the socket is closed";
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kClose);
  EXPECT_EQ(event.code, kCloseNormal) << "the server echoes our code (§5.5.1)";
  server.join();
  EXPECT_EQ(handler.events, (std::vector<std::string>{"close:1000:bye"}));
  EXPECT_EQ(ending, "server closed TCP")
      << "RFC 6455 §7.1.1: the client waits for the server to close TCP first";
}

TEST(Ch14_Client, ServerCloseGivesACloseEventWithCode) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.send_text("please close").ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kClose) << to_string(event.type) << " " << event.data;
  EXPECT_EQ(event.code, kCloseGoingAway);
  EXPECT_EQ(event.data, "going away");
  EXPECT_EQ(client.state(), State::kClosed);
  server.join();
  EXPECT_EQ(handler.events.back(), "close:1001:")
      << "RFC 6455 §5.5.1: the client answered the server's close with its own";
}

TEST(Ch14_Client, DroppedConnectionGivesClose1006) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.send_text("please drop").ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kClose) << to_string(event.type) << " " << event.data;
  EXPECT_EQ(event.code, kCloseAbnormal)
      << "RFC 6455 §7.1.5: TCP closed with no close frame is reported as 1006";
}

TEST(Ch14_Client, ReceiveAfterTheCloseSaysNotConnected) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.close().ok());
  EXPECT_EQ(client.receive(kTimeout).type, ClientEventType::kClose);
  ClientEvent after = client.receive(kTimeout);
  EXPECT_EQ(after.type, ClientEventType::kError);
  EXPECT_EQ(after.data, "not connected");
  EXPECT_FALSE(client.send_text("late").ok()) << "no sends after the close";
}

TEST(Ch14_Client, InvalidCloseCodeIsRefused) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  EXPECT_FALSE(client.close(1006).ok()) << "RFC 6455 §7.4.1: 1006 must never be sent";
  EXPECT_TRUE(client.is_open()) << "a refused close changes nothing";
  client.close();
}

// ---- what goes wrong ---------------------------------------------------------------------

TEST(Ch14_Client, ConnectionRefusedIsAReadableError) {
  uint16_t port;
  {
    Listener probe = listen_tcp("127.0.0.1", 0);
    port = probe.port;
  }  // closed: nobody listens on `port` now
  Client client;
  ClientStatus status = client.connect("ws://127.0.0.1:" + std::to_string(port) + "/ws", kTimeout);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("connection refused"), std::string::npos) << status.error;
}

TEST(Ch14_Client, Http404IsReportedWithItsStatus) {
  EchoHandler handler;
  TestServer server([&](int fd) { serve_connection(fd, handler); });
  Client client;
  ClientStatus status = client.connect(server.url("/missing"), kTimeout);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("server answered HTTP 404"), std::string::npos)
      << "RFC 6455 §4.1: any status but 101 fails the handshake; say which; got: " << status.error;
  EXPECT_FALSE(client.is_open());
}

TEST(Ch14_Client, ClientFramesAreMaskedWithFreshKeys) {
  EchoHandler handler;
  std::string raw;
  TestServer server([&](int fd) { serve_connection(fd, handler, &raw); });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ASSERT_TRUE(client.send_text("a").ok());
  ASSERT_TRUE(client.send_text("a").ok());
  client.receive(kTimeout);
  client.receive(kTimeout);
  client.disconnect();
  server.join();
  // After the request head: two frames of 1 + 1 + 4 (key) + 1 bytes.
  size_t head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  std::string frames = raw.substr(head_end + 4);
  ASSERT_GE(frames.size(), 14u) << test::to_hex(as_bytes(frames));
  auto frame = [&](int i) { return as_bytes(frames).subspan(7 * i, 7); };
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(frame(i)[0], 0x81) << "FIN + text";
    EXPECT_EQ(frame(i)[1], 0x81) << "RFC 6455 §5.1: a client MUST mask every frame (bit 0x80)";
    EXPECT_EQ(frame(i)[6] ^ frame(i)[2], 'a') << "RFC 6455 §5.3: payload XOR key[0]";
  }
  EXPECT_NE(test::to_hex(frame(0).subspan(2, 4)), test::to_hex(frame(1).subspan(2, 4)))
      << "RFC 6455 §5.3: a fresh masking key for every frame";
}

TEST(Ch14_Client, WrongAcceptKeyIsRefused) {
  bool client_closed = false;
  TestServer server([&](int fd) {
    read_head(fd);
    // A 101 that looks right, for some other key.
    write_all(fd, as_bytes("HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " +
                           compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==") + "\r\n\r\n"));
    client_closed = wait_for_eof(fd);
  });
  Client client;
  ClientStatus status = client.connect(server.url(), kTimeout);
  EXPECT_FALSE(status.ok()) << "RFC 6455 §4.1: the accept key must match OUR key";
  EXPECT_NE(status.error.find("handshake-bad-accept"), std::string::npos) << status.error;
  server.join();
  EXPECT_TRUE(client_closed) << "§4.1: the client fails the connection: it closes TCP";
}

TEST(Ch14_Client, ServerThatClosesDuringTheHandshakeIsAReadableError) {
  TestServer server([](int fd) { read_head(fd); });  // reads the request, then closes
  Client client;
  ClientStatus status = client.connect(server.url(), kTimeout);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("closed the connection during the handshake"), std::string::npos)
      << status.error;
}

TEST(Ch14_Client, HandshakeTimesOutWhenTheServerNeverAnswers) {
  bool client_closed = false;
  TestServer server([&](int fd) {
    read_head(fd);  // and no answer
    client_closed = wait_for_eof(fd);
  });
  Client client;
  ClientStatus status = client.connect(server.url(), 100ms);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("handshake timed out"), std::string::npos) << status.error;
  server.join();
  EXPECT_TRUE(client_closed) << "a client that gives up closes its socket";
}

// Answers the handshake correctly by hand, then says nothing: no close
// frame, no TCP close, until the client goes away.
void open_then_silent(int fd) {
  std::string key = header_value(read_head(fd), "Sec-WebSocket-Key");
  Handshake handshake;
  handshake.accept_key = compute_accept_key(key);
  write_all(fd, as_bytes(build_accept_response(handshake)));
  wait_for_eof(fd);
}

TEST(Ch14_Client, CloseGivesUpWhenTheServerNeverAnswers) {
  TestServer server(open_then_silent);
  ClientConfig config;
  config.close_timeout = 100ms;
  Client client(config);
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ClientStatus status = client.close();
  EXPECT_FALSE(status.ok()) << "RFC 6455 §7.1.1: the client MAY close TCP after a reasonable time";
  EXPECT_EQ(client.fd(), -1) << "the socket is closed anyway";
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.type, ClientEventType::kClose);
  EXPECT_EQ(event.code, kCloseAbnormal) << "no close frame came back: 1006";
}

TEST(Ch14_Client, MaskedFrameFromTheServerFailsTheConnection) {
  TestServer server([](int fd) {
    std::string key = header_value(read_head(fd), "Sec-WebSocket-Key");
    Handshake handshake;
    handshake.accept_key = compute_accept_key(key);
    write_all(fd, as_bytes(build_accept_response(handshake)));
    Buffer masked;  // a server frame must not be masked (§5.1)
    MaskKey mask{1, 2, 3, 4};
    append_frame(masked, Opcode::kText, true, as_bytes("x"), &mask);
    write_all(fd, masked.readable());
    wait_fd(fd, POLLIN);  // the client's close frame (1002): then close TCP
  });
  Client client;
  ASSERT_TRUE(client.connect(server.url(), kTimeout).ok());
  ClientEvent error = client.receive(kTimeout);
  EXPECT_EQ(error.type, ClientEventType::kError) << to_string(error.type) << " " << error.data;
  EXPECT_NE(error.data.find("frame-masked"), std::string::npos) << error.data;
  ClientEvent close = client.receive(kTimeout);
  EXPECT_EQ(close.type, ClientEventType::kClose);
  EXPECT_EQ(close.code, kCloseProtocolError) << "RFC 6455 §5.1: the client fails it with 1002";
}

// ---- reconnecting -----------------------------------------------------------------------------

// A closed port: connection refused.
uint16_t closed_port() {
  Listener probe = listen_tcp("127.0.0.1", 0);
  return probe.port;
}

TEST(Ch14_Client, RetryGivesUpAfterTheAttemptsAndWaitsBetweenThem) {
  Url url = parse_url("ws://127.0.0.1:" + std::to_string(closed_port()) + "/ws").url;
  Backoff backoff(100ms, 1000ms, always_ceiling);
  std::vector<int64_t> waits;
  Client client;
  ClientStatus status =
      connect_with_retry(client, url, 3, kTimeout, backoff,
                         [&](Duration d, const std::string&) { waits.push_back(d.count()); });
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error.find("gave up after 3 attempts"), std::string::npos) << status.error;
  EXPECT_NE(status.error.find("connection refused"), std::string::npos) << status.error;
  EXPECT_EQ(waits, (std::vector<int64_t>{100, 200}))
      << "a wait between attempts, none after the last";
}

TEST(Ch14_Client, RetryConnectsOnceTheServerIsUp) {
  uint16_t port = closed_port();
  Url url = parse_url("ws://127.0.0.1:" + std::to_string(port) + "/ws").url;
  EchoHandler handler;
  std::optional<TestServer> server;
  Backoff backoff(100ms, 1000ms, always_zero);
  std::vector<std::string> failures;
  Client client;
  // The first attempt is refused; during the wait the server starts.
  ClientStatus status =
      connect_with_retry(client, url, 3, kTimeout, backoff, [&](Duration, const std::string& why) {
        failures.push_back(why);
        if (!server) {
          server.emplace([&](int fd) { serve_connection(fd, handler); }, port);
        }
      });
  ASSERT_TRUE(status.ok()) << status.error;
  EXPECT_EQ(failures.size(), 1u) << "one refused attempt, then success";
  EXPECT_EQ(backoff.ceiling(), 100ms) << "a success resets the backoff";
  ASSERT_TRUE(client.send_text("again").ok());
  EXPECT_EQ(client.receive(kTimeout).data, "Echo: again");
  client.close();
}

}  // namespace
}  // namespace ws
