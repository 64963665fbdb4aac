// Chapter 15 — hostile clients: a real ws::Server on a loopback port, and
// clients that break the rules on purpose (slowloris, header floods, garbage,
// resets, a client that never reads, connection floods, a declared 1 TiB
// frame, 100,000 fragments, running out of descriptors). In every test a
// well-behaved client runs beside the attack and must get every echo, in
// order: the server never crashes, never hangs, and never lets one client
// hurt another. Every wait is bounded; all traffic stays on 127.0.0.1.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using test::RawClient;
using test::RawFrame;
using test::TestServer;

constexpr uint8_t kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10;

// The well-behaved client's check: `count` numbered messages, each echoed,
// none lost, none out of order.
::testing::AssertionResult echoes_in_order(RawClient& client, const std::string& tag,
                                           int count = 3) {
  for (int i = 0; i < count; ++i) {
    if (!client.send_text(tag + " #" + std::to_string(i))) {
      return ::testing::AssertionFailure()
             << "the well-behaved client could not send (" << tag << ")";
    }
  }
  for (int i = 0; i < count; ++i) {
    std::string expected = tag + " #" + std::to_string(i);
    std::optional<RawFrame> reply = client.read_frame(5s);
    if (!reply) {
      return ::testing::AssertionFailure()
             << "the well-behaved client lost \"" << expected << "\": the attack hurt it";
    }
    if (reply->payload != expected) {
      return ::testing::AssertionFailure() << "expected \"" << expected << "\", got \""
                                           << reply->payload.substr(0, 80) << "\" (out of order)";
    }
  }
  return ::testing::AssertionSuccess();
}

void raise_descriptor_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// Ends the TCP connection with a RST instead of a FIN (SO_LINGER with a zero
// timeout): the way a crashed or killed client disappears.
void reset_connection(RawClient& client) {
  linger abort_now{1, 0};
  setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
  client.close_socket();
}

// True if the server has answered or closed `client` (without reading it).
bool readable_now(const RawClient& client) {
  pollfd p{client.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// Resident memory of this process (the TestServer runs in it), in bytes.
size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// One frame header, written by hand so that it can lie about the length.
std::string frame_header(uint8_t first_byte, uint64_t length) {
  std::string header;
  header += static_cast<char>(first_byte);
  header += static_cast<char>(0x80 | 127);  // masked, 64-bit length follows
  for (int shift = 56; shift >= 0; shift -= 8)
    header += static_cast<char>((length >> shift) & 0xff);
  header += std::string("\x01\x02\x03\x04", 4);  // the mask key
  return header;
}

// ---- slowloris: clients that start a handshake and never finish it ----------------

//> hostile.slowloris
TEST(Ch15_Hostile, SlowlorisDoesNotDelayANormalClient) {
  raise_descriptor_limit();
  ServerConfig config = test::test_config();
  config.handshake_timeout = 500ms;
  TestServer server(config);
  std::vector<RawClient> lorises(200);
  for (RawClient& loris : lorises) {
    ASSERT_TRUE(loris.connect(server.port()));
    loris.send_raw("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr");  // ...and nothing more
  }
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port(), "/echo")) << "a normal handshake must not wait its turn";
  ASSERT_TRUE(echoes_in_order(normal, "beside 200 stalled handshakes"));
  // The normal client was served while every slowloris was still waiting:
  // it never had to wait for their deadline.
  size_t answered = 0;
  for (const RawClient& loris : lorises) answered += readable_now(loris) ? 1 : 0;
  EXPECT_EQ(answered, 0u) << "the echo came back only after the stalled handshakes expired: "
                             "one slow client must not hold the loop";
}
//< hostile.slowloris

TEST(Ch15_Hostile, SlowlorisIsClosedAtTheHandshakeDeadline) {
  raise_descriptor_limit();
  ServerConfig config = test::test_config();
  config.handshake_timeout = 300ms;
  TestServer server(config);
  auto start = steady_clock::now();
  std::vector<RawClient> lorises(200);
  for (RawClient& loris : lorises) {
    ASSERT_TRUE(loris.connect(server.port()));
    loris.send_raw("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  }
  for (size_t i = 0; i < lorises.size(); ++i) {
    std::string response = lorises[i].read_all(3s);
    ASSERT_TRUE(response.starts_with("HTTP/1.1 408 ")) << "slowloris " << i << " got: " << response;
    ASSERT_TRUE(lorises[i].eof()) << "slowloris " << i << " must be closed at the deadline";
  }
  EXPECT_GE(steady_clock::now() - start, config.handshake_timeout)
      << "no stalled handshake may be closed before handshake_timeout";
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  EXPECT_TRUE(echoes_in_order(normal, "after the slowloris"));
}

TEST(Ch15_Hostile, TricklingSlowlorisIsClosedAtTheDeadlineToo) {
  // A byte every 20 ms keeps a per-read timer happy forever; the handshake
  // deadline counts from the accept, so it still fires.
  ServerConfig config = test::test_config();
  config.handshake_timeout = 300ms;
  TestServer server(config);
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  RawClient loris;
  ASSERT_TRUE(loris.connect(server.port()));
  loris.send_raw("GET /echo HTTP/1.1\r\nX-Slow: ");
  auto start = steady_clock::now();
  while (!readable_now(loris) && steady_clock::now() - start < 2s) {
    loris.send_raw("a");
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(readable_now(loris))
      << "still trickling after 2 s and not closed: bytes that trickle in must not extend "
         "the handshake deadline (it counts from the accept)";
  EXPECT_GE(steady_clock::now() - start, config.handshake_timeout);
  EXPECT_TRUE(loris.read_all(3s).starts_with("HTTP/1.1 408 "));
  EXPECT_TRUE(echoes_in_order(normal, "beside a trickling slowloris"));
}

// ---- floods and garbage before the upgrade -----------------------------------------

TEST(Ch15_Hostile, TenThousandHeadersAre431AfterTheLimit) {
  TestServer server;
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  std::vector<std::string> headers;
  for (int i = 0; i < 10000; ++i) headers.push_back("X-Flood-" + std::to_string(i) + ": v\r\n");
  RawClient flood;
  ASSERT_TRUE(flood.connect(server.port()));
  std::string start = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 200; ++i) start += headers[i];  // past max_headers (128), not yet the end
  flood.send_raw(start);
  // The answer comes now, with 9,800 headers still unsent: the server stops
  // at the limit instead of reading (and storing) everything first.
  std::string head = flood.read_head(5s);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 431 ")) << "HttpLimits::max_headers: " << head;
  std::string rest;
  for (size_t i = 200; i < headers.size(); ++i) rest += headers[i];
  flood.send_raw(rest + "\r\n");  // may fail: the server is closing; that is fine
  flood.read_all(3s);
  EXPECT_TRUE(flood.eof()) << "after a 431 the connection is closed";
  EXPECT_TRUE(echoes_in_order(normal, "beside a header flood"));
}

TEST(Ch15_Hostile, EndlessHeaderLineIs431AfterEightKilobytes) {
  TestServer server;
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  RawClient flood;
  ASSERT_TRUE(flood.connect(server.port()));
  flood.send_raw("GET /echo HTTP/1.1\r\nX-Long: " + std::string(16 * 1024, 'a'));  // no CR LF, ever
  EXPECT_TRUE(flood.read_head(5s).starts_with("HTTP/1.1 431 "))
      << "HttpLimits::max_header_line (8 KiB) is checked byte by byte, before the line ends";
  EXPECT_TRUE(echoes_in_order(normal, "beside an endless header"));
}

TEST(Ch15_Hostile, EndlessRequestLineIs414) {
  TestServer server;
  RawClient flood;
  ASSERT_TRUE(flood.connect(server.port()));
  flood.send_raw("GET /" + std::string(16 * 1024, 'a'));
  EXPECT_TRUE(flood.read_head(5s).starts_with("HTTP/1.1 414 "))
      << "HttpLimits::max_request_line: a request line that never ends";
}

TEST(Ch15_Hostile, BinaryGarbageInsteadOfHttpIs400AndClose) {
  TestServer server;
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  const std::string garbage[] = {
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // a TLS ClientHello
      "SSH-2.0-OpenSSH_9.2\r\n",                                        // an SSH client
      std::string("\x00\x00\x00\x00\xff\xfe\x80\x81", 8),               // noise
      RawClient::encode(kText, "a frame before any handshake"),
  };
  for (const std::string& bytes : garbage) {
    RawClient client;
    ASSERT_TRUE(client.connect(server.port()));
    client.send_raw(bytes);
    std::string response = client.read_all(3s);
    EXPECT_TRUE(response.starts_with("HTTP/1.1 400 ")) << "not HTTP at all: 400, got: " << response;
    EXPECT_TRUE(client.eof()) << "and the connection is closed";
  }
  EXPECT_TRUE(echoes_in_order(normal, "beside garbage"));
}

// ---- garbage and resets after the upgrade --------------------------------------------

TEST(Ch15_Hostile, GarbageAfterTheUpgradeCloses1002) {
  TestServer server;
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  // 0xff: RSV bits set and opcode 0xF; "GET ...": 'G' is 0x47, RSV1 set.
  for (std::string bytes : {std::string(64, '\xff'), std::string("GET / HTTP/1.1\r\n\r\n")}) {
    RawClient client;
    ASSERT_TRUE(client.open(server.port()));
    client.send_raw(bytes);
    std::optional<RawFrame> close = client.read_frame(3s);
    ASSERT_TRUE(close) << "garbage after the 101 must be answered with a close frame";
    EXPECT_EQ(close->opcode, kClose);
    EXPECT_EQ(close->close_code(), 1002) << "RFC 6455 §7.4.1: 1002 protocol error";
    EXPECT_TRUE(client.wait_for_eof(3s)) << "RFC 6455 §7.1.7: then the TCP connection closes";
  }
  EXPECT_TRUE(echoes_in_order(normal, "beside garbage frames"));
}

TEST(Ch15_Hostile, ClientsThatResetMidMessageDoNotDisturbOthers) {
  ServerConfig config = test::test_config();
  std::atomic<int> abnormal_closes{0};
  TestServer server(config, [&](Server& s) {
    test::add_echo_routes(s);
    Route counted;
    counted.on_close = [&](WebSocket&, uint16_t code, std::string_view) {
      if (code == kCloseAbnormal) ++abnormal_closes;
    };
    s.route("/counted", counted);
  });
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  constexpr int kResets = 50;
  for (int i = 0; i < kResets; ++i) {
    RawClient client;
    ASSERT_TRUE(client.open(server.port(), "/counted"));
    // Half a frame: the header says 1000 bytes, 500 arrive, then a RST.
    std::string frame = RawClient::encode(kBinary, std::string(1000, 'r'));
    client.send_raw(frame.substr(0, frame.size() / 2));
    reset_connection(client);
    RawClient handshaking;  // and one that resets in the middle of its handshake
    ASSERT_TRUE(handshaking.connect(server.port()));
    handshaking.send_raw("GET /counted HTTP/1.1\r\nHost: x\r\n");
    reset_connection(handshaking);
  }
  EXPECT_TRUE(echoes_in_order(normal, "beside resets", 10));
  auto deadline = steady_clock::now() + 5s;
  while (abnormal_closes < kResets && steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(abnormal_closes.load(), kResets)
      << "RFC 6455 §7.1.5: each reset WebSocket is reported closed with 1006, once";
}

// ---- backpressure: a client that never reads ------------------------------------------

TEST(Ch15_Hostile, ClientThatNeverReadsIsPausedAndLosesNothing) {
  ServerConfig config = test::test_config();
  config.high_water_mark = 128 * 1024;
  std::atomic<size_t> received{0}, most_buffered{0};
  TestServer server(config, [&](Server& s) {
    test::add_echo_routes(s);
    Route twice;  // every message comes back twice: the server writes more than it reads
    twice.on_message = [&](WebSocket& socket, std::string_view data, MessageType) {
      ++received;
      std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      socket.send_binary(bytes);
      socket.send_binary(bytes);
      most_buffered = std::max(most_buffered.load(), socket.buffered_amount());
    };
    s.route("/twice", twice);
  });
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  RawClient hog;
  ASSERT_TRUE(hog.open(server.port(), "/twice"));
  // (Its receive buffer is left as it is: shrinking it on an open connection
  // makes TCP crawl on zero-window probes once the client does read.)

  //> hostile.never-reads
  // Numbered 16 KiB messages, sent without blocking until the kernel refuses
  // more for 200 ms: that happens only if the server stopped reading us.
  constexpr size_t kSize = 16 * 1024, kMaxMessages = 4096;
  auto message = [&](size_t i) {
    std::string payload(kSize, 'p');
    std::string number = std::to_string(i) + ":";
    payload.replace(0, number.size(), number);
    return RawClient::encode(kBinary, payload);
  };
  const size_t frame_size = message(0).size();
  size_t sent_bytes = 0;
  auto last_progress = steady_clock::now();
  auto deadline = steady_clock::now() + 10s;
  bool stalled = false;
  std::string current = message(0);
  while (sent_bytes < kMaxMessages * frame_size && steady_clock::now() < deadline) {
    size_t offset = sent_bytes % frame_size;
    if (offset == 0) current = message(sent_bytes / frame_size);
    ssize_t n =
        ::send(hog.fd(), current.data() + offset, frame_size - offset, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent_bytes += static_cast<size_t>(n);
      last_progress = steady_clock::now();
    } else if (steady_clock::now() - last_progress > 200ms) {
      stalled = true;
      break;
    } else {
      std::this_thread::sleep_for(2ms);
    }
  }
  ASSERT_TRUE(stalled) << "backpressure: the server must stop reading a client that does not read";
  size_t received_at_stall = received;
  EXPECT_TRUE(echoes_in_order(normal, "beside a client that never reads"));
  EXPECT_EQ(received.load(), received_at_stall) << "while paused, nothing more is read from it";
  EXPECT_LE(most_buffered.load(), config.high_water_mark + 2 * (256 * 1024 + kSize) + 64 * 1024)
      << "queued output stays near high_water_mark: one read's worth of replies past it at most";
  //< hostile.never-reads

  // Now the client reads: the server resumes, and every reply arrives in order.
  const size_t messages = (sent_bytes + frame_size - 1) / frame_size;
  std::thread finish_sending([&] {
    size_t offset = sent_bytes % frame_size;
    if (offset != 0) hog.send_raw(std::string_view(current).substr(offset));
  });
  size_t replies = 0;
  for (; replies < 2 * messages; ++replies) {
    std::optional<RawFrame> reply = hog.read_frame(10s);
    if (!reply) break;
    std::string number = std::to_string(replies / 2) + ":";
    if (reply->payload.compare(0, number.size(), number) != 0) break;
  }
  finish_sending.join();
  EXPECT_EQ(replies, 2 * messages) << "backpressure delays a client; it loses nothing";
}

// ---- more connections than max_connections ---------------------------------------------

TEST(Ch15_Hostile, ConnectionFloodGets503AndExistingClientsStayServed) {
  raise_descriptor_limit();
  ServerConfig config = test::test_config();
  config.max_connections = 4;
  TestServer server(config);
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  std::vector<RawClient> members(3);
  for (RawClient& member : members) ASSERT_TRUE(member.open(server.port()));
  std::vector<RawClient> flood(200);
  for (RawClient& client : flood) ASSERT_TRUE(client.connect(server.port()));
  for (size_t i = 0; i < flood.size(); ++i) {
    std::string head = flood[i].handshake("/echo");
    ASSERT_TRUE(head.starts_with("HTTP/1.1 503 ")) << "connection " << i << ": " << head;
    EXPECT_NE(head.find("Retry-After: "), std::string::npos) << "a 503 says when to come back";
  }
  EXPECT_TRUE(echoes_in_order(normal, "during a connection flood"));
  // When a member leaves, its place is free again.
  members[0].send_close(1000);
  ASSERT_TRUE(members[0].wait_for_eof(3s));
  RawClient newcomer;
  ASSERT_TRUE(newcomer.connect(server.port()));
  EXPECT_TRUE(newcomer.handshake("/echo").starts_with("HTTP/1.1 101 "))
      << "a slot freed by a closed WebSocket is usable at once";
}

// ---- frames that lie about their size ---------------------------------------------------

//> hostile.terabyte
TEST(Ch15_Hostile, DeclaredTerabyteFrameCloses1009WithoutAllocating) {
  TestServer server;
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  RawClient liar;
  ASSERT_TRUE(liar.open(server.port()));
  size_t before = resident_bytes();
  liar.send_raw(frame_header(0x82, uint64_t{1} << 40));  // 1 TiB of binary "follows"
  // Not one byte of payload is sent: the answer must come from the header alone.
  std::optional<RawFrame> close = liar.read_frame(3s);
  size_t after = resident_bytes();
  ASSERT_TRUE(close) << "the declared length is checked before any payload is awaited";
  EXPECT_EQ(close->opcode, kClose);
  EXPECT_EQ(close->close_code(), 1009) << "RFC 6455 §7.4.1: 1009 message too big";
  EXPECT_LT(after, before + 8 * 1024 * 1024)
      << "a number from the network never sizes an allocation before it is checked";
  EXPECT_TRUE(liar.wait_for_eof(3s));
  EXPECT_TRUE(echoes_in_order(normal, "beside a 1 TiB frame"));
}
//< hostile.terabyte

TEST(Ch15_Hostile, LengthWithTheTopBitSetCloses1002) {
  TestServer server;
  RawClient liar;
  ASSERT_TRUE(liar.open(server.port()));
  liar.send_raw(frame_header(0x82, uint64_t{1} << 63));
  std::optional<RawFrame> close = liar.read_frame(3s);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1002) << "RFC 6455 §5.2: the most significant bit MUST be 0";
}

TEST(Ch15_Hostile, FragmentsThatAddUpPastTheLimitClose1009) {
  ServerConfig config = test::test_config();
  config.limits.max_message_size = 64 * 1024;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.open(server.port()));
  // Each fragment is small; together they pass the limit on the 65th.
  std::string fragments = RawClient::encode(kBinary, std::string(1024, 'f'), false);
  for (int i = 0; i < 80; ++i)
    fragments += RawClient::encode(kContinuation, std::string(1024, 'f'), false);
  client.send_raw(fragments);
  std::optional<RawFrame> close = client.read_frame(3s);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1009)
      << "max_message_size counts the whole message, not one frame";
}

// ---- many fragments ----------------------------------------------------------------------

TEST(Ch15_Hostile, HundredThousandTinyAndEmptyFragmentsAreEchoedWhole) {
  TestServer server;
  RawClient normal;
  ASSERT_TRUE(normal.open(server.port()));
  RawClient client;
  ASSERT_TRUE(client.open(server.port()));
  constexpr int kFragments = 100000;
  std::string message, wire;
  for (int i = 0; i < kFragments; ++i) {
    // Odd fragments are empty; even ones carry one letter. Every 10,000th
    // fragment a ping arrives in the middle of the message (§5.4 allows it).
    std::string piece = i % 2 == 0 ? std::string(1, static_cast<char>('a' + (i / 2) % 26)) : "";
    message += piece;
    wire += RawClient::encode(i == 0 ? kText : kContinuation, piece, i == kFragments - 1);
    if (i % 10000 == 5000) wire += RawClient::encode(kPing, std::to_string(i));
  }
  ASSERT_TRUE(client.send_raw(wire));
  for (int pong = 0; pong < 10; ++pong) {
    std::optional<RawFrame> reply = client.read_frame(10s);
    ASSERT_TRUE(reply);
    ASSERT_EQ(reply->opcode, kPong)
        << "RFC 6455 §5.5.2: pings inside a message are answered at once";
  }
  std::optional<RawFrame> echo = client.read_frame(10s);
  ASSERT_TRUE(echo) << "100,000 fragments make one message";
  EXPECT_EQ(echo->opcode, kText);
  EXPECT_EQ(echo->payload.size(), message.size());
  EXPECT_TRUE(echo->payload == message) << "the fragments are joined in order";
  EXPECT_TRUE(echoes_in_order(normal, "beside 100,000 fragments"));
}

TEST(Ch15_Hostile, SixtyFiveThousandFragmentsOf64BytesMakeFourMebibytes) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port()));
  constexpr size_t kFragments = 65536, kFragmentSize = 64;
  std::string message, wire;
  for (size_t i = 0; i < kFragments; ++i) {
    std::string piece(kFragmentSize, static_cast<char>(i % 251));
    message += piece;
    wire += RawClient::encode(i == 0 ? kBinary : kContinuation, piece, i == kFragments - 1);
  }
  ASSERT_TRUE(client.send_raw(wire));
  std::optional<RawFrame> echo = client.read_frame(10s);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, kBinary);
  EXPECT_EQ(echo->payload.size(), 4u << 20);
  EXPECT_TRUE(echo->payload == message);
}

// ---- out of file descriptors: the echo server as a child process ------------------------

// The build directory holding echo_server: $OPENPIPE_BUILD, else <source>/build.
std::string build_dir() {
  const char* dir = std::getenv("OPENPIPE_BUILD");
  return dir && *dir ? dir : OPENPIPE_SOURCE_DIR "/build";
}

// Total CPU time (user + system) a process has used, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Field 2 is "(name)" and may hold spaces: count fields after the last ')'.
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

// echo_server in a child process with at most `max_fds` descriptors.
class ChildServer {
 public:
  ChildServer(const std::string& program, rlim_t max_fds) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      rlimit limit{max_fds, max_fds};
      setrlimit(RLIMIT_NOFILE, &limit);
      dup2(out[1], STDOUT_FILENO);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, STDERR_FILENO);
      // Only stdin/stdout/stderr cross the exec: the test's own sockets are
      // not the child's to spend.
      close_range(3, ~0u, 0);
      execl(program.c_str(), program.c_str(), "--port", "0", "--quiet",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    // "openpipe echo server listening on http://127.0.0.1:PORT/"
    std::string text;
    char buffer[256];
    pollfd p{out[0], POLLIN, 0};
    while (text.find('\n') == std::string::npos && ::poll(&p, 1, 5000) > 0) {
      ssize_t n = read(out[0], buffer, sizeof buffer);
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
    }
    close(out[0]);
    size_t colon = text.rfind(':', text.find('\n'));
    if (text.starts_with("openpipe echo server listening on") && colon != std::string::npos) {
      port_ = static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1));
    }
  }
  ~ChildServer() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // SIGTERM, then the exit status (or -1 if it did not exit within 5 s).
  int terminate() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  bool reaped_ = false;
};

TEST(Ch15_Hostile, OutOfDescriptorsTheServerDoesNotSpinAndRecovers) {
  std::string program = build_dir() + "/echo_server";
  if (access(program.c_str(), X_OK) != 0) {
    GTEST_SKIP() << program << " not found: build it with `make build/echo_server` "
                 << "(or set OPENPIPE_BUILD to the build directory)";
  }
  raise_descriptor_limit();
  constexpr rlim_t kChildFds = 64;
  ChildServer child(program, kChildFds);
  ASSERT_GT(child.port(), 0) << "the echo server did not print its address";
  // A client served before the flood, and one that connects and leaves
  // without a word. Both run every code path the flood will run while the
  // server has descriptors to spare. (This matters under `make asan`: UBSan
  // checks each virtual call's type once per type, and that first check
  // opens a pipe. Out of descriptors, the pipe fails and UBSan reports an
  // "invalid vptr" that is not there.)
  RawClient normal;
  ASSERT_TRUE(normal.open(child.port(), "/echo"));
  ASSERT_TRUE(echoes_in_order(normal, "before EMFILE"));
  {
    RawClient silent;
    ASSERT_TRUE(silent.connect(child.port()));
    std::this_thread::sleep_for(50ms);
  }
  // Twice as many connections as the child has descriptors: the first ones
  // are accepted (and wait for a handshake), the rest meet EMFILE.
  std::vector<RawClient> flood(2 * kChildFds);
  for (RawClient& client : flood) ASSERT_TRUE(client.connect(child.port()));
  std::this_thread::sleep_for(200ms);  // let the server accept what it can
  //> hostile.emfile-cpu
  long ticks_before = cpu_ticks(child.pid());
  auto wall_before = steady_clock::now();
  std::this_thread::sleep_for(1s);  // the connections wait; the server should sleep
  long ticks = cpu_ticks(child.pid()) - ticks_before;
  double wall_ticks = std::chrono::duration<double>(steady_clock::now() - wall_before).count() *
                      static_cast<double>(sysconf(_SC_CLK_TCK));
  EXPECT_LT(static_cast<double>(ticks), 0.25 * wall_ticks)
      << "out of descriptors, a level-triggered loop spins on the listening socket unless the "
         "Acceptor drops the waiting connection (src/io/acceptor.cpp): "
      << ticks << " CPU ticks in " << wall_ticks << " ticks of wall time";
  //< hostile.emfile-cpu
  size_t dropped = 0;
  for (RawClient& client : flood) {
    if (readable_now(client) && client.read_all(100ms).empty() && client.eof()) ++dropped;
  }
  EXPECT_GT(dropped, 0u) << "beyond its descriptors the server must drop connections (the client "
                            "reads EOF), not leave them queued in the kernel";
  EXPECT_TRUE(echoes_in_order(normal, "while out of descriptors"))
      << "a client already connected needs no new descriptor: it is still served";
  flood.clear();  // every extra connection closes: descriptors come back
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    RawClient client;
    served = client.open(child.port(), "/echo") && echoes_in_order(client, "after EMFILE");
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served) << "once descriptors are free again, the server serves new clients";
  normal.close_socket();  // (an open client would make the shutdown wait for its reply)
  EXPECT_EQ(child.terminate(), 0) << "SIGTERM: a graceful shutdown, exit status 0";
}

}  // namespace
}  // namespace ws
