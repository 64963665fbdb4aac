// Chapter 12 — the echo server as a user meets it: the real program
// (build/echo_server, or build/asan/echo_server under `make asan`) started
// with fork/exec, its flags, its output on stdout and stderr, its exit
// status, and clients on loopback that speak raw bytes (tests/support/raw_ws.h).
// Chapter 11's tests run the Server class in a thread; these run the binary.
// RFC 6455 §7.4.1 (1001 going away, 1009 too big), §5.5.2 (ping), §10.2 (Origin).
// Run: make test CH=12   or   ./build/tests/ch12_echo_server_test
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/program.h"
#include "support/raw_ws.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;
using test::RawClient;
using test::RawFrame;

constexpr uint8_t kText = 1, kBinary = 2, kClose = 8, kPing = 9;

using test::describe;
using test::kExitLimit;
using test::kLogLimit;
using test::kStartLimit;
using test::listening_port;
using test::Program;

std::string echo_server_path() {
  return test::program_path("echo_server");
}

// The fixture: starts the program, skips every test if it was not built.
class Ch12_EchoServer : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = echo_server_path();
    if (::access(path_.c_str(), X_OK) != 0) {
      GTEST_SKIP() << path_ << " not found: `make test CH=12` (or `make asan CH=12`) builds it";
    }
  }

  // Runs the program with `args` and no more (for --help and bad flags).
  void run(const std::vector<std::string>& args) {
    ASSERT_TRUE(program_.start(path_, args)) << "cannot start " << path_;
  }

  // Starts a server on a free port (--port 0) and reads the port it prints.
  void launch(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--port", "0"});
    ASSERT_NO_FATAL_FAILURE(run(args));
    ASSERT_TRUE(program_.wait_for_stdout("/\n"))
        << "no listening line on stdout; stderr: " << program_.err();
    port_ = listening_port(program_.out());
    ASSERT_NE(port_, 0) << "the listening line names the port: " << program_.out();
  }

  // Sends a plain HTTP request and returns the whole response.
  std::string http(std::string_view request) {
    RawClient client;
    if (!client.connect(port_)) return "";
    client.send_raw(request);
    return client.read_all();
  }

  // "127.0.0.1:54321": the client's address as the server's log names it.
  static std::string local_address(const RawClient& client) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    ::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&address), &length);
    return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }

  // Both clients get close 1001 after `signo`; they answer (or not), then
  // the process must end with status 0.
  void expect_graceful_shutdown(int signo, bool clients_answer) {
    ASSERT_NO_FATAL_FAILURE(launch());
    RawClient a, b;
    for (RawClient* client : {&a, &b}) {
      ASSERT_TRUE(client->open(port_, "/ws"));
      client->send_text("ready?");  // an answer proves the loop (and its signalfd) runs
      std::optional<RawFrame> reply = client->read_frame();
      ASSERT_TRUE(reply && reply->payload == "Echo: ready?");
    }
    program_.signal(signo);
    for (RawClient* client : {&a, &b}) {
      std::optional<RawFrame> close = client->read_frame();
      ASSERT_TRUE(close) << "every client hears about the shutdown";
      EXPECT_EQ(close->opcode, kClose);
      EXPECT_EQ(close->close_code(), 1001) << "RFC 6455 §7.4.1: 1001 \"going away\"";
      if (clients_answer) {
        client->send_close(1001);
        EXPECT_TRUE(client->wait_for_eof()) << "RFC 6455 §7.1.1: the server closes TCP first";
        client->close_socket();
      }
    }
    std::optional<int> status = program_.wait_exit();
    ASSERT_TRUE(status) << "the server must end: its shutdown wait is bounded (3 s)";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << describe(*status) << "; a graceful shutdown exits with 0";
    EXPECT_NE(program_.err().find("shutting down: closing 2 connection(s) with 1001"),
              std::string::npos)
        << program_.err();
  }

  std::string path_;  // the program under test
  Program program_;   // killed and reaped at the end of every test
  uint16_t port_ = 0;
};

// ---- the command line --------------------------------------------------------------

TEST_F(Ch12_EchoServer, HelpPrintsUsageAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(run({"--help"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe(*status);
  EXPECT_TRUE(program_.out().starts_with("usage: echo_server")) << "usage goes to stdout";
}

TEST_F(Ch12_EchoServer, HelpListsEveryFlag) {
  ASSERT_NO_FATAL_FAILURE(run({"--help"}));
  ASSERT_TRUE(program_.wait_exit());
  for (const char* flag :
       {"--host", "--port", "--trace", "--max-message", "--web-root", "--allow-origin",
        "--ping-interval", "--max-connections", "--quiet", "--help"}) {
    EXPECT_NE(program_.out().find(flag), std::string::npos) << flag << " is not in --help";
  }
}

TEST_F(Ch12_EchoServer, UnknownFlagExitsTwoWithAMessage) {
  ASSERT_NO_FATAL_FAILURE(run({"--bogus"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
      << describe(*status) << "; 2 is the convention for bad usage";
  EXPECT_NE(program_.err().find("unknown option --bogus"), std::string::npos) << program_.err();
  EXPECT_TRUE(program_.out().empty()) << "errors go to stderr";
}

TEST_F(Ch12_EchoServer, FlagWithoutItsValueExitsTwo) {
  ASSERT_NO_FATAL_FAILURE(run({"--port"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << describe(*status);
  EXPECT_NE(program_.err().find("--port needs a value"), std::string::npos) << program_.err();
}

TEST_F(Ch12_EchoServer, PortMustBeANumberUpTo65535) {
  for (const char* bad : {"abc", "80x", "70000"}) {
    Program program;
    ASSERT_TRUE(program.start(path_, {"--port", bad}));
    std::optional<int> status = program.wait_exit();
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
        << "--port " << bad << ": " << describe(*status);
    EXPECT_NE(program.err().find("--port: "), std::string::npos) << program.err();
  }
}

TEST_F(Ch12_EchoServer, PortZeroPrintsTheRealPort) {
  ASSERT_NO_FATAL_FAILURE(launch());
  EXPECT_NE(program_.out().find("openpipe echo server listening on http://127.0.0.1:" +
                                std::to_string(port_) + "/"),
            std::string::npos)
      << program_.out();
  RawClient client;
  EXPECT_TRUE(client.connect(port_)) << "the printed port is the one the kernel chose";
}

// ---- what it serves ------------------------------------------------------------------

TEST_F(Ch12_EchoServer, PrimerExchangeOnWs) {
  ASSERT_NO_FATAL_FAILURE(launch());
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/ws"));
  client.send_text("Hello WebSocket");
  std::optional<RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply) << "the server must answer the primer's message";
  EXPECT_EQ(reply->opcode, kText);
  EXPECT_EQ(reply->payload, "Echo: Hello WebSocket")
      << "primer §6: Server says: Echo: Hello WebSocket";
}

TEST_F(Ch12_EchoServer, EchoPathReturnsBinaryUnchanged) {
  ASSERT_NO_FATAL_FAILURE(launch());
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/echo"));
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);  // every byte value, 0 included
  client.send_binary(bytes);
  std::optional<RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->opcode, kBinary) << "binary comes back as binary";
  EXPECT_TRUE(reply->payload == bytes) << "/echo adds nothing: no \"Echo: \" prefix";
}

TEST_F(Ch12_EchoServer, EchoPathReturnsTextUnchanged) {
  ASSERT_NO_FATAL_FAILURE(launch());
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/echo"));
  client.send_text("κόσμε");
  std::optional<RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->opcode, kText);
  EXPECT_EQ(reply->payload, "κόσμε");
}

TEST_F(Ch12_EchoServer, BroadcastReachesEverySocketOnBroadcastSenderIncluded) {
  ASSERT_NO_FATAL_FAILURE(launch());
  RawClient a, b, c, elsewhere;
  for (RawClient* client : {&a, &b, &c}) ASSERT_TRUE(client->open(port_, "/broadcast"));
  ASSERT_TRUE(elsewhere.open(port_, "/echo"));
  a.send_text("κόσμε from a");
  for (RawClient* client : {&a, &b, &c}) {
    std::optional<RawFrame> got = client->read_frame();
    ASSERT_TRUE(got) << "every socket on /broadcast gets the message, the sender too";
    EXPECT_EQ(got->opcode, kText);
    EXPECT_EQ(got->payload, "κόσμε from a") << "published unchanged";
  }
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  b.send_binary(bytes);
  for (RawClient* client : {&a, &b, &c}) {
    std::optional<RawFrame> got = client->read_frame();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->opcode, kBinary) << "binary stays binary";
    EXPECT_TRUE(got->payload == bytes) << "every byte value, unchanged";
  }
  EXPECT_FALSE(elsewhere.read_frame(300ms)) << "a socket on /echo is not on /broadcast";
}

TEST_F(Ch12_EchoServer, BroadcastStopsReachingASocketThatLeft) {
  ASSERT_NO_FATAL_FAILURE(launch());
  RawClient a, b;
  ASSERT_TRUE(a.open(port_, "/broadcast"));
  ASSERT_TRUE(b.open(port_, "/broadcast"));
  b.send_close(1000);
  std::optional<RawFrame> close = b.read_frame();
  ASSERT_TRUE(close && close->opcode == kClose);
  ASSERT_TRUE(b.wait_for_eof());
  a.send_text("still here?");
  std::optional<RawFrame> got = a.read_frame();
  ASSERT_TRUE(got) << "the server goes on publishing to the sockets that stay";
  EXPECT_EQ(got->payload, "still here?");
}

TEST_F(Ch12_EchoServer, HelpListsEveryEndpoint) {
  ASSERT_NO_FATAL_FAILURE(run({"--help"}));
  ASSERT_TRUE(program_.wait_exit());
  for (const char* endpoint : {"/ws ", "/echo ", "/broadcast ", "sender included"}) {
    EXPECT_NE(program_.out().find(endpoint), std::string::npos) << endpoint << " is not in --help";
  }
}

TEST_F(Ch12_EchoServer, GetSlashServesTheBrowserPage) {
  ASSERT_NO_FATAL_FAILURE(launch());
  std::string response = http("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response.substr(0, 200);
  EXPECT_NE(response.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(response.find("new WebSocket"), std::string::npos) << "the primer's browser client";
}

TEST_F(Ch12_EchoServer, PlainGetOnTheWebSocketPathIs426) {
  ASSERT_NO_FATAL_FAILURE(launch());
  std::string response = http("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 426 ")) << response.substr(0, 200);
}

TEST_F(Ch12_EchoServer, ServerClosesTcpFirstAfterTheClosingHandshake) {
  ASSERT_NO_FATAL_FAILURE(launch());
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/ws"));
  client.send_close(1000, "bye");
  std::optional<RawFrame> close = client.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1000) << "RFC 6455 §5.5.1: the close is echoed";
  // The server's close timeout (5 s) would end the connection anyway; the
  // FIN must come long before, right after the echoed close.
  EXPECT_TRUE(client.wait_for_eof(2s))
      << "RFC 6455 §7.1.1: the server closes TCP first (shutdown(SHUT_WR) sends our FIN)";
}

// ---- what it prints ---------------------------------------------------------------------

TEST_F(Ch12_EchoServer, LogShowsOpenAndCloseWithPeerCodeAndReason) {
  ASSERT_NO_FATAL_FAILURE(launch());
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/ws"));
  std::string peer = local_address(client);
  EXPECT_TRUE(program_.wait_for_stderr("open  " + peer + " /ws\n")) << program_.err();
  client.send_close(1000, "bye");
  ASSERT_TRUE(client.read_frame());  // the echoed close
  EXPECT_TRUE(program_.wait_for_stderr("close " + peer + " /ws code=1000 reason=\"bye\"\n"))
      << program_.err();
}

TEST_F(Ch12_EchoServer, QuietPrintsNoConnectionLines) {
  ASSERT_NO_FATAL_FAILURE(launch({"--quiet"}));
  {
    RawClient client;
    ASSERT_TRUE(client.open(port_, "/ws"));
    client.send_close(1000, "bye");
    ASSERT_TRUE(client.read_frame());
    client.wait_for_eof();  // the connection is over before we stop the server
  }
  program_.signal(SIGTERM);
  ASSERT_TRUE(program_.wait_exit());
  EXPECT_EQ(program_.err().find("open "), std::string::npos) << program_.err();
  EXPECT_EQ(program_.err().find("close "), std::string::npos) << program_.err();
}

TEST_F(Ch12_EchoServer, TraceShowsTheHandshakeAndAnnotatedFrames) {
  ASSERT_NO_FATAL_FAILURE(launch({"--trace"}));
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/ws"));
  client.send_text("Hello WebSocket");
  ASSERT_TRUE(client.read_frame());
  EXPECT_TRUE(program_.wait_for_stderr("\"Hello WebSocket\"")) << program_.err();
  const std::string& trace = program_.err();
  EXPECT_NE(trace.find("<- GET /ws HTTP/1.1"), std::string::npos) << "the request line, received";
  EXPECT_NE(trace.find("-> HTTP/1.1 101 Switching Protocols"), std::string::npos)
      << "the response line, sent";
  EXPECT_NE(trace.find("opcode=0x1 (text)"), std::string::npos)
      << "frames are named by their opcode";
  EXPECT_NE(trace.find("MASK=1"), std::string::npos) << "the client's frame is masked (§5.3)";
}

// The trace of what the before-sleep flush sends is printed at once, not at
// the connection's next read.
TEST_F(Ch12_EchoServer, TraceShowsTheReplyBeforeTheNextMessage) {
  ASSERT_NO_FATAL_FAILURE(launch({"--trace"}));
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/ws"));
  client.send_text("Hello WebSocket");
  ASSERT_TRUE(client.read_frame());
  // We send nothing more: the reply's frame must be in the trace already.
  EXPECT_TRUE(program_.wait_for_stderr("\"Echo: Hello WebSocket\"")) << program_.err();
}

// ---- every flag does what --help says ------------------------------------------------

TEST_F(Ch12_EchoServer, MaxMessageAcceptsAMessageOfExactlyTheLimit) {
  ASSERT_NO_FATAL_FAILURE(launch({"--max-message", "1000"}));
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/echo"));
  client.send_binary(std::string(1000, 'x'));
  std::optional<RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->opcode, kBinary) << "the limit itself is allowed";
  EXPECT_EQ(reply->payload.size(), 1000u);
}

TEST_F(Ch12_EchoServer, MaxMessageClosesWith1009Beyond) {
  ASSERT_NO_FATAL_FAILURE(launch({"--max-message", "1000"}));
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/ws"));
  client.send_text(std::string(1001, 'x'));
  std::optional<RawFrame> close = client.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, kClose);
  EXPECT_EQ(close->close_code(), 1009) << "RFC 6455 §7.4.1: 1009, a message too big to process";
}

TEST_F(Ch12_EchoServer, AllowOriginRefusesOtherOrigins) {
  ASSERT_NO_FATAL_FAILURE(launch({"--allow-origin", "http://good.example"}));
  RawClient evil, good;
  ASSERT_TRUE(evil.connect(port_));
  EXPECT_TRUE(evil.handshake("/ws", "Origin: http://evil.example\r\n").starts_with("HTTP/1.1 403 "))
      << "RFC 6455 §10.2: the server checks Origin";
  ASSERT_TRUE(good.connect(port_));
  EXPECT_TRUE(
      good.handshake("/ws", "Origin: http://good.example\r\n").starts_with("HTTP/1.1 101 "));
}

TEST_F(Ch12_EchoServer, MaxConnectionsAnswers503) {
  ASSERT_NO_FATAL_FAILURE(launch({"--max-connections", "1"}));
  RawClient first, second;
  ASSERT_TRUE(first.open(port_, "/ws"));
  ASSERT_TRUE(second.connect(port_));
  EXPECT_TRUE(second.handshake("/ws").starts_with("HTTP/1.1 503 ")) << "beyond the limit: 503";
}

TEST_F(Ch12_EchoServer, WebRootServesAnotherDirectory) {
  std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("openpipe-ch12-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root);
  std::ofstream(root / "hello.txt") << "hello from the web root\n";
  ASSERT_NO_FATAL_FAILURE(launch({"--web-root", root.string()}));
  std::string response = http("GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::filesystem::remove_all(root);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response.substr(0, 200);
  EXPECT_NE(response.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
  EXPECT_TRUE(response.ends_with("\r\n\r\nhello from the web root\n"));
}

TEST_F(Ch12_EchoServer, PingIntervalPingsAQuietClient) {
  ASSERT_NO_FATAL_FAILURE(launch({"--ping-interval", "1"}));
  RawClient client;
  ASSERT_TRUE(client.open(port_, "/ws"));
  std::optional<RawFrame> ping = client.read_frame();  // we say nothing for a second
  ASSERT_TRUE(ping) << "a quiet client gets a ping";
  EXPECT_EQ(ping->opcode, kPing) << "RFC 6455 §5.5.2: a ping as a keepalive";
}

// ---- stopping it ------------------------------------------------------------------------

TEST_F(Ch12_EchoServer, SigtermSends1001ToEveryClientAndExitsZero) {
  expect_graceful_shutdown(SIGTERM, /*clients_answer=*/true);
}

TEST_F(Ch12_EchoServer, SigintSends1001AndExitsZeroEvenIfNobodyAnswers) {
  // Ctrl-C. The clients never answer the close: the server gives up on them
  // at its shutdown timeout, and still ends cleanly.
  expect_graceful_shutdown(SIGINT, /*clients_answer=*/false);
}

// The listening line is printed from the running loop, after SIGINT/SIGTERM
// handling is in place: a SIGTERM sent the moment it appears is graceful.
TEST_F(Ch12_EchoServer, SigtermRightAfterTheListeningLineExitsZero) {
  for (int attempt = 0; attempt < 10; ++attempt) {  // the window is short: try it often
    Program program;
    ASSERT_TRUE(program.start(path_, {"--port", "0", "--quiet"}));
    ASSERT_TRUE(program.wait_for_stdout("/\n"));
    program.signal(SIGTERM);  // a script that stops the server as soon as it is up
    std::optional<int> status = program.wait_exit();
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "attempt " << attempt << ": " << describe(*status)
        << "; once the server says it listens, SIGTERM must stop it gracefully";
  }
}

TEST_F(Ch12_EchoServer, PortInUseExitsOneWithAClearMessage) {
  // Someone else (this test) holds a listening socket on the port.
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length);
  std::string port = std::to_string(ntohs(address.sin_port));
  ASSERT_NO_FATAL_FAILURE(run({"--port", port}));
  std::optional<int> status = program_.wait_exit();
  ::close(holder);
  ASSERT_TRUE(status) << "a server that cannot listen must not hang";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << describe(*status);
  EXPECT_NE(program_.err().find("cannot start"), std::string::npos) << program_.err();
  EXPECT_NE(program_.err().find("Address already in use"), std::string::npos) << program_.err();
  EXPECT_EQ(program_.out().find("listening"), std::string::npos) << "no listening line on failure";
}

}  // namespace
}  // namespace ws
