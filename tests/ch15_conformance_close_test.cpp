// Chapter 15 — conformance, part 3: the closing handshake, Autobahn|Testsuite
// section 7. In every case the server must answer with exactly one close
// frame, send NOTHING after it (§5.5.1: "the endpoint MUST NOT send any more
// data frames after sending a Close frame"), and then close the TCP
// connection itself (§7.1.1: it "SHOULD be closed first by the server"):
// expect_close() in tests/support/raw_ws.h checks all three.
// Run: make test CH=15   or   ./build/tests/ch15_conformance_close_test --gtest_filter='*Case7_9*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/echo_environment.h"
#include "support/hex.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::close_handshake;
using test::expect_close;
using test::expect_message;
using test::expect_pong;
using test::RawClient;
using test::TestServer;

constexpr uint8_t kContinuation = 0, kText = 1, kClose = 8, kPing = 9;

uint16_t port() {
  return test::EchoServer::port();
}

// A masked frame, with a new masking key each time (§5.3).
std::string frame(uint8_t opcode, std::string_view payload, bool fin = true) {
  return RawClient::encode(opcode, payload, fin, true, 0, test::varied_mask_key());
}

std::string close_frame(uint16_t code, std::string_view reason = "") {
  return frame(kClose, RawClient::close_payload(code, reason));
}

// ===== 7.1 Basic close behaviour =======================================================

TEST(Ch15_Autobahn, Case7_1_1_CloseAfterEcho) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_text("Hello World");
  EXPECT_TRUE(expect_message(client, kText, "Hello World"));
  EXPECT_TRUE(close_handshake(client, 1000))
      << "RFC 6455 §5.5.1: the server answers a close with a close, then closes TCP (§7.1.1)";
}

TEST(Ch15_Autobahn, Case7_1_2_SecondCloseIsIgnored) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(close_frame(1000) + close_frame(1000));
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false))
      << "RFC 6455 §5.5.1: one close answers one close; the second is after the end";
}

TEST(Ch15_Autobahn, Case7_1_3_PingAfterCloseIsNotAnswered) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(close_frame(1000) + frame(kPing, "ping after close"));
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false))
      << "RFC 6455 §5.5.1: after its close frame the server sends nothing, not even a pong";
}

TEST(Ch15_Autobahn, Case7_1_4_TextAfterCloseIsNotEchoed) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(close_frame(1000) + frame(kText, "text after close"));
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false))
      << "RFC 6455 §1.4: after sending a close, the client sends no more data; what comes is "
         "ignored";
}

TEST(Ch15_Autobahn, Case7_1_5_CloseInsideAFragmentedMessage) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "fragment1", false) + close_frame(1000) +
                  frame(kContinuation, "fragment2", true));
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false))
      << "a control frame may come between fragments (§5.4); the unfinished message is dropped";
}

TEST(Ch15_Autobahn, Case7_1_5_X_CloseInsideATextMessageCutInsideACharacter) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "caf\xc3", false) + close_frame(1000));
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false))
      << "the unfinished message is dropped, not judged: the close is answered with 1000, not 1007";
}

TEST(Ch15_Autobahn, Case7_1_X_CloseThenClientHalfCloses) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(close_frame(1000));
  ::shutdown(client.fd(), SHUT_WR);  // our FIN right behind the close frame
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false))
      << "RFC 6455 §5.5.1: the close is still answered when the client's FIN follows at once";
}

TEST(Ch15_Autobahn, Case7_1_6_LargeMessageThenTextThenCloseThenPing) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string big(256 * 1024, ' ');
  for (size_t i = 0; i < big.size(); ++i) big[i] = "BAsd7&jh23"[i % 10];
  ASSERT_TRUE(client.send_streaming(frame(kText, big) + frame(kText, "Hello World!") +
                                    close_frame(1000) + frame(kPing, "")));
  EXPECT_TRUE(expect_message(client, kText, big))
      << "messages before the close are processed in order";
  EXPECT_TRUE(expect_message(client, kText, "Hello World!"));
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false))
      << "then the close; the ping after it is ignored";
}

TEST(Ch15_Autobahn, Case7_1_X_LargeMessageThenPingThenClose) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string big(256 * 1024, 'x');
  ASSERT_TRUE(client.send_streaming(frame(kText, big) + frame(kPing, "after the message") +
                                    close_frame(1000)));
  EXPECT_TRUE(expect_message(client, kText, big)) << "replies come in the order of the frames";
  EXPECT_TRUE(expect_pong(client, "after the message"));
  EXPECT_TRUE(expect_close(client, {1000}, /*reply=*/false));
}

// ===== 7.3 Close frame payloads ============================================================

TEST(Ch15_Autobahn, Case7_3_1_EmptyCloseGetsEmptyClose) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kClose, "");
  EXPECT_TRUE(expect_close(client, {1005}, /*reply=*/false))
      << "RFC 6455 §5.5.1: a close MAY have no body; echoing \"no status\" is an empty close";
}

TEST(Ch15_Autobahn, Case7_3_2_OneBytePayloadFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kClose, "a");
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.5.1: a body starts with a 2-byte code: 1 byte is a protocol error";
}

TEST(Ch15_Autobahn, Case7_3_3_CodeOnlyIsEchoed) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_close(1000);
  EXPECT_TRUE(expect_close(client, {1000}, false))
      << "RFC 6455 §5.5.1: \"typically echoing the status code\"";
}

TEST(Ch15_Autobahn, Case7_3_4_CodeAndReasonAccepted) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_close(1000, "Hello World!");
  EXPECT_TRUE(expect_close(client, {1000}, false));
}

TEST(Ch15_Autobahn, Case7_3_5_Reason123BytesAccepted) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_close(1000, std::string(123, '*'));
  EXPECT_TRUE(expect_close(client, {1000}, false))
      << "RFC 6455 §5.5: 2 + 123 = 125 bytes, the largest control payload";
}

TEST(Ch15_Autobahn, Case7_3_6_Reason124BytesFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_close(1000, std::string(124, '*'));
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.5: a 126-byte control payload is a protocol error";
}

// ===== 7.5 Close reason encoding ===========================================================

TEST(Ch15_Autobahn, Case7_5_1_InvalidUtf8ReasonFailsWith1007) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::vector<uint8_t> reason =
      test::hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64");
  client.send_close(1000, std::string(reason.begin(), reason.end()));
  EXPECT_TRUE(expect_close(client, {1007}))
      << "RFC 6455 §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails with 1007";
}

TEST(Ch15_Autobahn, Case7_5_X_ReasonCutInsideACharacterFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_close(1000, "caf\xc3");
  EXPECT_TRUE(expect_close(client, {1007})) << "a reason ending inside a character is not UTF-8";
}

TEST(Ch15_Autobahn, Case7_5_X_Utf8ReasonAccepted) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_close(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");
  EXPECT_TRUE(expect_close(client, {1000}, false));
}

// ===== 7.7 Valid close codes, 7.9 and 7.13 invalid ones =======================================

struct CodeCase {
  const char* name;
  uint16_t code;
  bool valid;
};

void PrintTo(const CodeCase& c, std::ostream* os) {
  *os << c.name;
}

std::string code_case_name(const ::testing::TestParamInfo<CodeCase>& info) {
  return info.param.name;
}

class Ch15_Autobahn_Section7 : public ::testing::TestWithParam<CodeCase> {};

TEST_P(Ch15_Autobahn_Section7, CloseCode) {
  const CodeCase& c = GetParam();
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_close(c.code, "");
  if (c.valid) {
    EXPECT_TRUE(expect_close(client, {c.code}, false))
        << "RFC 6455 §7.4: " << c.code << " may be sent; the server echoes it (§5.5.1)";
  } else {
    EXPECT_TRUE(expect_close(client, {1002}))
        << "RFC 6455 §7.4: " << c.code << " may not appear in a close frame: protocol error";
  }
}

const CodeCase kSection7[] = {
    {"Case7_7_1_Valid1000", 1000, true},
    {"Case7_7_2_Valid1001", 1001, true},
    {"Case7_7_3_Valid1002", 1002, true},
    {"Case7_7_4_Valid1003", 1003, true},
    {"Case7_7_5_Valid1007", 1007, true},
    {"Case7_7_6_Valid1008", 1008, true},
    {"Case7_7_7_Valid1009", 1009, true},
    {"Case7_7_8_Valid1010", 1010, true},
    {"Case7_7_9_Valid1011", 1011, true},
    {"Case7_7_10_Valid3000", 3000, true},
    {"Case7_7_11_Valid3999", 3999, true},
    {"Case7_7_12_Valid4000", 4000, true},
    {"Case7_7_13_Valid4999", 4999, true},
    {"Case7_7_X_Valid1012ServiceRestart", 1012, true},  // IANA registry, after the RFC
    {"Case7_7_X_Valid1013TryAgainLater", 1013, true},
    {"Case7_7_X_Valid1014BadGateway", 1014, true},
    {"Case7_9_1_Invalid0", 0, false},
    {"Case7_9_2_Invalid999", 999, false},
    {"Case7_9_3_Invalid1004", 1004, false},
    {"Case7_9_4_Invalid1005", 1005, false},
    {"Case7_9_5_Invalid1006", 1006, false},
    {"Case7_9_6_Invalid1016", 1016, false},
    {"Case7_9_7_Invalid1100", 1100, false},
    {"Case7_9_8_Invalid2000", 2000, false},
    {"Case7_9_9_Invalid2999", 2999, false},
    {"Case7_9_X_Invalid1015", 1015, false},
    {"Case7_13_1_Invalid5000", 5000, false},
    {"Case7_13_2_Invalid65535", 65535, false},
};
INSTANTIATE_TEST_SUITE_P(Close, Ch15_Autobahn_Section7, ::testing::ValuesIn(kSection7),
                         code_case_name);

// ===== Beyond Autobahn ===================================================================

TEST(Ch15_Autobahn, Case7_X_FragmentedCloseFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kClose, RawClient::close_payload(1000), /*fin=*/false);
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.5: control frames MUST NOT be fragmented";
}

TEST(Ch15_Autobahn, Case7_X_CloseArrivingByteByByte) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_chunked(close_frame(4321, "bye"), 1);
  EXPECT_TRUE(expect_close(client, {4321}, false));
}

TEST(Ch15_Autobahn, Case7_X_UnmaskedCloseFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kClose, RawClient::close_payload(1000), true, /*mask=*/false);
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.1: the server MUST close the connection upon an unmasked frame";
}

// A client that closes TCP without a closing handshake: nothing to answer,
// but the server must let go of the connection (it keeps serving others).
TEST(Ch15_Autobahn, Case7_X_TcpDropWithoutCloseFrame) {
  {
    RawClient client;
    ASSERT_TRUE(client.open(port()));
    client.send_raw(frame(kText, "half a mess", false));
  }  // the socket closes here
  RawClient next;
  ASSERT_TRUE(next.open(port()));
  next.send_text("still serving");
  EXPECT_TRUE(expect_message(next, kText, "still serving"));
  EXPECT_TRUE(close_handshake(next));
}

// After the server's close, what the client still sends (its close reply,
// data it had in flight) must not make the server send anything else.
TEST(Ch15_Autobahn, Case7_X_NothingAfterTheServersCloseWhateverComes) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kText, "x", true, /*mask=*/false);  // fails the connection: 1002
  std::optional<test::RawFrame> close = client.read_frame(1500ms);
  ASSERT_TRUE(close);
  ASSERT_EQ(close->opcode, kClose);
  client.send_raw(frame(kPing, "late ping") + frame(kText, "late text") + close_frame(1002));
  std::string after = client.read_all(1500ms);
  EXPECT_EQ(after, "") << "RFC 6455 §5.5.1: nothing after the close frame";
  EXPECT_TRUE(client.eof()) << "RFC 6455 §7.1.1: the server closes TCP";
}

// ===== What the application sees, and what the server itself sends ===========================

// A server whose /record route remembers every on_close (code, reason), and
// whose /close-first route closes on the first message and then tries to
// send more.
class RecordingServer {
 public:
  RecordingServer()
      : server_(test::test_config(), [this](Server& s) {
          Route record;
          record.on_close = [this](WebSocket&, uint16_t code, std::string_view reason) {
            std::lock_guard<std::mutex> lock(mutex_);
            closes_.emplace_back(code, std::string(reason));
          };
          s.route("/record", record);
          Route close_first;
          close_first.on_message = [this](WebSocket& socket, std::string_view, MessageType) {
            socket.close(4000, "closing first");
            bool sent = socket.send_text("after our close");
            std::lock_guard<std::mutex> lock(mutex_);
            send_after_close_ = sent;
          };
          s.route("/close-first", close_first);
        }) {}

  uint16_t port() const { return server_.port(); }

  // The first on_close, waiting for it up to 2 s (it runs on the server's thread).
  std::optional<std::pair<uint16_t, std::string>> first_close() {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!closes_.empty()) return closes_.front();
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }
  bool send_after_close() {
    std::lock_guard<std::mutex> lock(mutex_);
    return send_after_close_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<uint16_t, std::string>> closes_;
  bool send_after_close_ = true;  // until the route says otherwise
  TestServer server_;             // last: stopped before the members above go away
};

TEST(Ch15_Autobahn, Case7_X_ApplicationSeesThePeersCodeAndReason) {
  RecordingServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/record"));
  EXPECT_TRUE(close_handshake(client, 4001));
  client.close_socket();
  auto close = server.first_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->first, 4001) << "RFC 6455 §7.1.5: the code of the close frame received";
}

TEST(Ch15_Autobahn, Case7_X_ApplicationSeesTheReason) {
  RecordingServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/record"));
  client.send_close(1000, "see you");
  EXPECT_TRUE(expect_close(client, {1000}, false));
  auto close = server.first_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->second, "see you") << "RFC 6455 §7.1.6: the reason of the close frame received";
}

TEST(Ch15_Autobahn, Case7_X_EmptyCloseIs1005ForTheApplication) {
  RecordingServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/record"));
  client.send_frame(kClose, "");
  EXPECT_TRUE(expect_close(client, {1005}, false));
  auto close = server.first_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->first, 1005)
      << "RFC 6455 §7.1.5: \"If this Close control frame contains no status code, _The WebSocket "
         "Connection Close Code_ is considered to be 1005\"";
}

TEST(Ch15_Autobahn, Case7_X_TcpDropIs1006ForTheApplication) {
  RecordingServer server;
  {
    RawClient client;
    ASSERT_TRUE(client.open(server.port(), "/record"));
  }  // TCP closes with no close frame
  auto close = server.first_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->first, 1006)
      << "RFC 6455 §7.1.5: no Close frame received before the TCP connection closed: 1006";
}

TEST(Ch15_Autobahn, Case7_X_ProtocolErrorIsReportedWithOurCode) {
  RecordingServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/record"));
  client.send_frame(3, "");  // reserved opcode
  EXPECT_TRUE(expect_close(client, {1002}));
  auto close = server.first_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->first, 1002) << "RFC 6455 §7.1.7: the connection was failed with 1002";
}

TEST(Ch15_Autobahn, Case7_X_ServerSendsNoDataAfterItsOwnClose) {
  RecordingServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/close-first"));
  client.send_text("please close");
  EXPECT_TRUE(expect_close(client, {4000}, /*reply=*/true))
      << "RFC 6455 §5.5.1: \"The application MUST NOT send any more data frames after sending a "
         "Close frame\"; the server closes TCP once our reply arrives (§7.1.1)";
  EXPECT_FALSE(server.send_after_close()) << "send_text() after close() must refuse (return false)";
}

TEST(Ch15_Autobahn, Case7_X_DataBeforeOurCloseReplyIsNotDelivered) {
  RecordingServer server;
  RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/close-first"));
  client.send_text("please close");
  std::optional<test::RawMessage> close = client.read_message(1500ms);
  ASSERT_TRUE(close);
  ASSERT_EQ(close->opcode, kClose);
  // Data and a ping still in flight when the server's close arrived.
  client.send_raw(frame(kText, "in flight") + frame(kPing, "in flight") + close_frame(4000));
  std::string after = client.read_all(1500ms);
  EXPECT_EQ(after, "") << "RFC 6455 §5.5.2: no pong once closing; §5.5.1: no data after the close";
  EXPECT_TRUE(client.eof()) << "RFC 6455 §7.1.1: TCP closes when the closing handshake is done";
}

// §7.1.7: to fail the connection "the server MUST _Close the WebSocket
// Connection_, and SHOULD log the problem".
TEST(Ch15_Autobahn, Case7_X_FailureIsLogged) {
  auto mutex = std::make_shared<std::mutex>();
  auto lines = std::make_shared<std::vector<std::string>>();
  ServerConfig config = test::test_config();
  config.log = [mutex, lines](std::string_view line) {
    std::lock_guard<std::mutex> lock(*mutex);
    lines->emplace_back(line);
  };
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.open(server.port()));
  client.send_frame(kText, "x", true, /*mask=*/true, /*rsv=*/4);
  EXPECT_TRUE(expect_close(client, {1002}));
  client.close_socket();
  server.stop();  // joins the server's thread: every line is written
  std::lock_guard<std::mutex> lock(*mutex);
  bool logged = false;
  for (const std::string& line : *lines) {
    logged = logged ||
             (line.find("1002") != std::string::npos && line.find("reserved") != std::string::npos);
  }
  EXPECT_TRUE(logged) << "RFC 6455 §7.1.7: the server SHOULD log why it failed the connection";
}

}  // namespace
}  // namespace ws
