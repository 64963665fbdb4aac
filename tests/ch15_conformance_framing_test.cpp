// Chapter 15 — conformance, part 1: framing. The cases of the Autobahn|Testsuite
// fuzzing client, sections 1 (framing), 2 (pings and pongs), 3 (reserved
// bits), 4 (opcodes), 5 (fragmentation), 9 (limits and performance) and 10
// (auto-fragmentation), replayed with our own raw client against the echo
// route of a real server. Every test names the case it mirrors
// (Case5_19 = Autobahn case 5.19) and expects the STRICT outcome ("OK", not
// "NON-STRICT"): the order of replies is checked, not only their presence.
// Run: make test CH=15   or   ./build/tests/ch15_conformance_framing_test --gtest_filter='*Case5_*'
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "support/echo_environment.h"
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

constexpr uint8_t kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10;

// One echo server for the whole binary; every case opens its own connection,
// as the Autobahn client does.
uint16_t port() {
  return test::EchoServer::port();
}

// Frame builders: every frame a client sends is masked (§5.3).
std::string frame(uint8_t opcode, std::string_view payload, bool fin = true, uint8_t rsv = 0) {
  return RawClient::encode(opcode, payload, fin, /*mask=*/true, rsv, test::varied_mask_key());
}

// Only the header of a masked frame that declares `length` payload bytes.
std::string header_only(uint8_t opcode, uint64_t length, bool fin = true) {
  std::string header;
  header += static_cast<char>((fin ? 0x80 : 0) | opcode);
  header += static_cast<char>(0x80 | 127);
  for (int shift = 56; shift >= 0; shift -= 8) header += static_cast<char>(length >> shift);
  return header + "\x12\x34\x56\x78";
}

// Text payloads: printable ASCII that changes from byte to byte, so that a
// mask applied at the wrong offset cannot go unnoticed.
std::string text_payload(size_t size) {
  std::string payload(size, ' ');
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('!' + (i * 7 + i / 251) % 94);
  return payload;
}

// Binary payloads: every byte value.
std::string binary_payload(size_t size) {
  std::string payload(size, '\0');
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>((i * 31 + i / 256) & 0xFF);
  return payload;
}

std::string payload_for(uint8_t opcode, size_t size) {
  return opcode == kText ? text_payload(size) : binary_payload(size);
}

// A message cut into frames of `fragment` bytes (the first with the opcode,
// the others continuations, FIN on the last).
std::string fragmented(uint8_t opcode, std::string_view payload, size_t fragment) {
  std::string out;
  size_t offset = 0;
  do {
    size_t n = std::min(fragment, payload.size() - offset);
    bool last = offset + n == payload.size();
    out += frame(offset == 0 ? opcode : kContinuation, payload.substr(offset, n), last);
    offset += n;
  } while (offset < payload.size());
  return out;
}

// ===== 1. Framing: text and binary of every length encoding ==============================

struct EchoCase {
  const char* name;  // "Case1_1_1_TextLength0"
  uint8_t opcode;
  size_t length;
  size_t chop;  // 0: one write; else writes of this many bytes
};

void PrintTo(const EchoCase& c, std::ostream* os) {
  *os << c.name;
}

std::string case_name(const ::testing::TestParamInfo<EchoCase>& info) {
  return info.param.name;
}

class Ch15_Autobahn_Section1 : public ::testing::TestWithParam<EchoCase> {};

TEST_P(Ch15_Autobahn_Section1, EchoedByteIdentical) {
  const EchoCase& c = GetParam();
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string payload = payload_for(c.opcode, c.length);
  std::string bytes = frame(c.opcode, payload);
  ASSERT_TRUE(c.chop ? client.send_chunked(bytes, c.chop) : client.send_raw(bytes));
  EXPECT_TRUE(expect_message(client, c.opcode, payload))
      << "RFC 6455 §5.2: lengths 0-125 use 7 bits, 126-65535 a 16-bit, more a 64-bit length";
  EXPECT_TRUE(close_handshake(client));
}

const EchoCase kSection1[] = {
    {"Case1_1_1_TextLength0", kText, 0, 0},
    {"Case1_1_2_TextLength125", kText, 125, 0},
    {"Case1_1_3_TextLength126", kText, 126, 0},
    {"Case1_1_4_TextLength127", kText, 127, 0},
    {"Case1_1_5_TextLength128", kText, 128, 0},
    {"Case1_1_6_TextLength65535", kText, 65535, 0},
    {"Case1_1_7_TextLength65536", kText, 65536, 0},
    {"Case1_1_8_TextLength65536In997ByteChops", kText, 65536, 997},
    {"Case1_2_1_BinaryLength0", kBinary, 0, 0},
    {"Case1_2_2_BinaryLength125", kBinary, 125, 0},
    {"Case1_2_3_BinaryLength126", kBinary, 126, 0},
    {"Case1_2_4_BinaryLength127", kBinary, 127, 0},
    {"Case1_2_5_BinaryLength128", kBinary, 128, 0},
    {"Case1_2_6_BinaryLength65535", kBinary, 65535, 0},
    {"Case1_2_7_BinaryLength65536", kBinary, 65536, 0},
    {"Case1_2_8_BinaryLength65536In997ByteChops", kBinary, 65536, 997},
};
INSTANTIATE_TEST_SUITE_P(Framing, Ch15_Autobahn_Section1, ::testing::ValuesIn(kSection1),
                         case_name);

// Beyond Autobahn (which masks with random keys): extreme and varied keys,
// payloads of every small size, starting at every alignment in the server's
// read buffer (a ping of 0-15 bytes goes first in the same write). A word-
// at-a-time unmasking that gets the key phase or the head/tail wrong fails.
TEST(Ch15_Autobahn, Case1_X_EveryMaskKeyAlignmentAndSmallSize) {
  const std::array<uint8_t, 4> keys[] = {
      {0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {0x01, 0x02, 0x03, 0x04}, test::varied_mask_key()};
  for (const auto& key : keys) {
    RawClient client;
    ASSERT_TRUE(client.open(port()));
    for (size_t shift = 0; shift < 16; ++shift) {
      for (size_t size : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000}) {
        std::string payload = binary_payload(size + shift).substr(shift);
        client.send_raw(RawClient::encode(kPing, std::string(shift, 'p'), true, true, 0, key) +
                        RawClient::encode(kBinary, payload, true, true, 0, key));
        ASSERT_TRUE(expect_pong(client, std::string(shift, 'p')));
        ASSERT_TRUE(expect_message(client, kBinary, payload))
            << "RFC 6455 §5.3: byte i is XORed with key[i % 4]; size " << size << ", shift "
            << shift << ", key " << int(key[0]) << "," << int(key[1]) << "," << int(key[2]) << ","
            << int(key[3]);
      }
    }
    EXPECT_TRUE(close_handshake(client));
  }
}

// Beyond Autobahn: one frame in writes of 1 to 13 bytes, so that the payload
// is unmasked in pieces that start at every key phase.
TEST(Ch15_Autobahn, Case1_X_FrameInOddSizedChopsKeepsTheKeyPhase) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  for (size_t chop = 1; chop <= 13; ++chop) {
    std::string payload = binary_payload(4099);
    client.send_chunked(frame(kBinary, payload), chop);
    ASSERT_TRUE(expect_message(client, kBinary, payload))
        << "RFC 6455 §5.3: a payload unmasked in pieces continues the key phase; chop " << chop;
  }
  EXPECT_TRUE(close_handshake(client));
}

// ===== 2. Pings and pongs ============================================================

TEST(Ch15_Autobahn, Case2_1_PingWithoutPayload) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kPing, "");
  EXPECT_TRUE(expect_pong(client, "")) << "RFC 6455 §5.5.2: a Ping MUST be answered with a Pong";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_2_PingWithTextPayload) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kPing, "Hello, world!");
  EXPECT_TRUE(expect_pong(client, "Hello, world!"))
      << "RFC 6455 §5.5.3: the Pong carries the Ping's \"Application data\" unchanged";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_3_PingWithBinaryPayload) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string payload("\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 8);
  client.send_frame(kPing, payload);
  EXPECT_TRUE(expect_pong(client, payload)) << "RFC 6455 §5.5.3: identical application data";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_4_PingWith125BytePayload) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string payload(125, '\xfe');
  client.send_frame(kPing, payload);
  EXPECT_TRUE(expect_pong(client, payload))
      << "RFC 6455 §5.5: 125 bytes is the largest control payload";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_5_PingWith126BytePayloadFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kPing, std::string(126, '\xfe'));
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.5: \"All control frames MUST have a payload length of 125 bytes or less\"";
}

TEST(Ch15_Autobahn, Case2_6_PingWith125BytesInOctetChops) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string payload = binary_payload(125);
  client.send_chunked(frame(kPing, payload), 1);
  EXPECT_TRUE(expect_pong(client, payload))
      << "a control frame arriving byte by byte is still one frame";
  EXPECT_TRUE(close_handshake(client));
}

// 2.7-2.9: "A Pong frame MAY be sent unsolicited ... A response to an
// unsolicited Pong frame is not expected" (§5.5.3). The text that follows
// proves nothing was sent for the pong: its echo is the very next frame.
TEST(Ch15_Autobahn, Case2_7_UnsolicitedPongIgnored) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kPong, "");
  client.send_text("after the pong");
  EXPECT_TRUE(expect_message(client, kText, "after the pong"))
      << "RFC 6455 §5.5.3: no response to an unsolicited Pong";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_8_UnsolicitedPongWithPayloadIgnored) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kPong, "unsolicited pong payload");
  client.send_text("after the pong");
  EXPECT_TRUE(expect_message(client, kText, "after the pong"))
      << "RFC 6455 §5.5.3: no response to an unsolicited Pong";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_9_UnsolicitedPongThenPing) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_frame(kPong, "unsolicited pong payload");
  client.send_frame(kPing, "ping payload");
  EXPECT_TRUE(expect_pong(client, "ping payload"))
      << "the pong answers the ping, not the unsolicited pong before it";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_10_TenPingsAnsweredInOrder) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string bytes;
  for (int i = 0; i < 10; ++i) bytes += frame(kPing, "payload-" + std::to_string(i));
  client.send_raw(bytes);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(expect_pong(client, "payload-" + std::to_string(i)))
        << "ping " << i << ": RFC 6455 §5.5.2, each ping gets its pong, in order";
  }
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case2_11_TenPingsInOctetChops) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  for (int i = 0; i < 10; ++i) client.send_chunked(frame(kPing, "payload-" + std::to_string(i)), 1);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(expect_pong(client, "payload-" + std::to_string(i))) << "ping " << i;
  }
  EXPECT_TRUE(close_handshake(client));
}

// ===== 3. Reserved bits ============================================================
// §5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is
// negotiated ... If a nonzero value is received and none of the negotiated
// extensions defines the meaning of such a nonzero value, the receiving
// endpoint MUST _Fail the WebSocket Connection_." We negotiate none.
// `rsv` below is Autobahn's number: 4 = RSV1, 2 = RSV2, 1 = RSV3.

const char* const kRsvHint =
    "RFC 6455 §5.2: a nonzero RSV with no extension MUST fail the connection (1002)";

TEST(Ch15_Autobahn, Case3_1_TextWithRsv1) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "Hello, world!", true, /*rsv=*/1));
  EXPECT_TRUE(expect_close(client, {1002})) << kRsvHint;
}

// 3.2-3.4: the valid message before the bad frame is echoed FIRST (frames
// are processed in order), and the ping after it is never answered.
void expect_echo_then_fail(RawClient& client) {
  EXPECT_TRUE(expect_message(client, kText, "Hello, world!"))
      << "the valid message that came before the bad frame is answered first";
  EXPECT_TRUE(expect_close(client, {1002}))
      << kRsvHint << " -- and the ping after the bad frame is not answered";
}

TEST(Ch15_Autobahn, Case3_2_EchoThenRsv2ThenPing) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "Hello, world!") + frame(kText, "Hello, world!", true, 2) +
                  frame(kPing, ""));
  expect_echo_then_fail(client);
}

TEST(Ch15_Autobahn, Case3_3_EchoThenRsv3ThenPingFrameWise) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "Hello, world!"));
  client.send_raw(frame(kText, "Hello, world!", true, 3));
  client.send_raw(frame(kPing, ""));
  expect_echo_then_fail(client);
}

TEST(Ch15_Autobahn, Case3_4_EchoThenRsv4ThenPingOctetWise) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_chunked(frame(kText, "Hello, world!"), 1);
  client.send_chunked(frame(kText, "Hello, world!", true, 4), 1);
  client.send_chunked(frame(kPing, ""), 1);
  expect_echo_then_fail(client);
}

TEST(Ch15_Autobahn, Case3_5_BinaryWithRsv5) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kBinary, binary_payload(8), true, 5));
  EXPECT_TRUE(expect_close(client, {1002})) << kRsvHint;
}

TEST(Ch15_Autobahn, Case3_6_PingWithRsv6) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kPing, binary_payload(8), true, 6));
  EXPECT_TRUE(expect_close(client, {1002})) << kRsvHint << " (control frames too)";
}

TEST(Ch15_Autobahn, Case3_7_CloseWithRsv7) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kClose, RawClient::close_payload(1000), true, 7));
  EXPECT_TRUE(expect_close(client, {1002}))
      << kRsvHint << " (a close frame with RSV bits is failed, not echoed)";
}

// Beyond Autobahn: every RSV combination on every frame type.
TEST(Ch15_Autobahn, Case3_X_EveryRsvCombinationOnEveryOpcode) {
  for (uint8_t opcode : {kText, kBinary, kPing, kPong, kClose}) {
    for (uint8_t rsv = 1; rsv <= 7; ++rsv) {
      RawClient client;
      ASSERT_TRUE(client.open(port()));
      std::string payload = opcode == kClose ? RawClient::close_payload(1000) : "x";
      client.send_raw(frame(opcode, payload, true, rsv));
      EXPECT_TRUE(expect_close(client, {1002}))
          << kRsvHint << " (opcode " << int(opcode) << ", rsv " << int(rsv) << ")";
    }
  }
}

// ===== 4. Opcodes ==============================================================
// §5.2: "%x3-7 are reserved for further non-control frames ... %xB-F are
// reserved for further control frames. ... If an unknown opcode is received,
// the receiving endpoint MUST _Fail the WebSocket Connection_."

struct OpcodeCase {
  const char* name;
  uint8_t opcode;
  bool payload;     // the reserved frame carries a payload
  bool after_text;  // a valid text first (echoed), a ping after (not answered)
};

void PrintTo(const OpcodeCase& c, std::ostream* os) {
  *os << c.name;
}

std::string opcode_case_name(const ::testing::TestParamInfo<OpcodeCase>& info) {
  return info.param.name;
}

class Ch15_Autobahn_Section4 : public ::testing::TestWithParam<OpcodeCase> {};

TEST_P(Ch15_Autobahn_Section4, ReservedOpcodeFailsWith1002) {
  const OpcodeCase& c = GetParam();
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string bytes;
  if (c.after_text) bytes += frame(kText, "Hello, world!");
  bytes += frame(c.opcode, c.payload ? "reserved opcode payload" : "");
  if (c.after_text) bytes += frame(kPing, "");
  client.send_raw(bytes);
  if (c.after_text) {
    EXPECT_TRUE(expect_message(client, kText, "Hello, world!"))
        << "the valid message comes back first";
  }
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.2: an unknown opcode MUST fail the connection; nothing after it is answered";
}

const OpcodeCase kSection4[] = {
    {"Case4_1_1_Opcode3", 3, false, false},
    {"Case4_1_2_Opcode4WithPayload", 4, true, false},
    {"Case4_1_3_TextThenOpcode5ThenPing", 5, false, true},
    {"Case4_1_4_TextThenOpcode6WithPayloadThenPing", 6, true, true},
    {"Case4_1_5_TextThenOpcode7WithPayloadThenPing", 7, true, true},
    {"Case4_2_1_Opcode11", 11, false, false},
    {"Case4_2_2_Opcode12WithPayload", 12, true, false},
    {"Case4_2_3_TextThenOpcode13ThenPing", 13, false, true},
    {"Case4_2_4_TextThenOpcode14WithPayloadThenPing", 14, true, true},
    {"Case4_2_5_TextThenOpcode15WithPayloadThenPing", 15, true, true},
    // Beyond Autobahn: every reserved opcode in every position.
    {"Case4_X_Opcode3AfterText", 3, true, true},
    {"Case4_X_Opcode4AfterText", 4, false, true},
    {"Case4_X_Opcode5WithPayload", 5, true, false},
    {"Case4_X_Opcode6", 6, false, false},
    {"Case4_X_Opcode7", 7, false, false},
    {"Case4_X_Opcode11AfterText", 11, true, true},
    {"Case4_X_Opcode12AfterText", 12, false, true},
    {"Case4_X_Opcode13WithPayload", 13, true, false},
    {"Case4_X_Opcode14", 14, false, false},
    {"Case4_X_Opcode15", 15, false, false},
};
INSTANTIATE_TEST_SUITE_P(Opcodes, Ch15_Autobahn_Section4, ::testing::ValuesIn(kSection4),
                         opcode_case_name);

// ===== 5. Fragmentation ============================================================

TEST(Ch15_Autobahn, Case5_1_PingInTwoFragmentsFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kPing, "fragment1", false) + frame(kContinuation, "fragment2", true));
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.5: \"All control frames ... MUST NOT be fragmented\"";
}

TEST(Ch15_Autobahn, Case5_2_PongInTwoFragmentsFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kPong, "fragment1", false) + frame(kContinuation, "fragment2", true));
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.5: \"All control frames ... MUST NOT be fragmented\"";
}

// 5.3-5.5: one message in two frames, sent in one write, frame by frame,
// and byte by byte.
const std::string kTwoFragments =
    frame(kText, "fragment1", false) + frame(kContinuation, "fragment2", true);

TEST(Ch15_Autobahn, Case5_3_TextInTwoFragments) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(kTwoFragments);
  EXPECT_TRUE(expect_message(client, kText, "fragment1fragment2"))
      << "RFC 6455 §5.4: the fragments of a message are delivered as one message";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case5_4_TextInTwoFragmentsFrameWise) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "fragment1", false));
  client.send_raw(frame(kContinuation, "fragment2", true));
  EXPECT_TRUE(expect_message(client, kText, "fragment1fragment2")) << "RFC 6455 §5.4";
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case5_5_TextInTwoFragmentsOctetWise) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_chunked(kTwoFragments, 1);
  EXPECT_TRUE(expect_message(client, kText, "fragment1fragment2")) << "RFC 6455 §5.4";
  EXPECT_TRUE(close_handshake(client));
}

// 5.6-5.8: a ping between the fragments is answered at once (§5.4: "An
// endpoint MUST be capable of handling control frames in the middle of a
// fragmented message"), so its pong comes before the message's echo.
const std::string kFragmentsWithPing = frame(kText, "fragment1", false) +
                                       frame(kPing, "ping payload") +
                                       frame(kContinuation, "fragment2", true);

void expect_pong_then_message(RawClient& client) {
  EXPECT_TRUE(expect_pong(client, "ping payload"))
      << "RFC 6455 §5.4: control frames in the middle of a fragmented message are handled";
  EXPECT_TRUE(expect_message(client, kText, "fragment1fragment2"));
}

TEST(Ch15_Autobahn, Case5_6_TextInTwoFragmentsWithPingBetween) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(kFragmentsWithPing);
  expect_pong_then_message(client);
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case5_7_TextInTwoFragmentsWithPingBetweenFrameWise) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "fragment1", false));
  client.send_raw(frame(kPing, "ping payload"));
  client.send_raw(frame(kContinuation, "fragment2", true));
  expect_pong_then_message(client);
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case5_8_TextInTwoFragmentsWithPingBetweenOctetWise) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_chunked(kFragmentsWithPing, 1);
  expect_pong_then_message(client);
  EXPECT_TRUE(close_handshake(client));
}

// 5.9-5.14: a continuation frame with no message to continue, then a
// normal text message: the connection fails before the text is echoed.
struct ContinuationCase {
  const char* name;
  bool fin;     // the stray continuation's FIN bit
  size_t chop;  // 0: one write; 1: octet-wise; SIZE_MAX: frame-wise
};

void PrintTo(const ContinuationCase& c, std::ostream* os) {
  *os << c.name;
}

std::string continuation_case_name(const ::testing::TestParamInfo<ContinuationCase>& info) {
  return info.param.name;
}

class Ch15_Autobahn_Section5_9 : public ::testing::TestWithParam<ContinuationCase> {};

TEST_P(Ch15_Autobahn_Section5_9, ContinuationWithNothingToContinueFails) {
  const ContinuationCase& c = GetParam();
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string stray = frame(kContinuation, "non-continuation payload", c.fin);
  std::string text = frame(kText, "Hello, world!");
  if (c.chop == SIZE_MAX) {
    client.send_raw(stray);
    client.send_raw(text);
  } else if (c.chop > 0) {
    client.send_chunked(stray + text, c.chop);
  } else {
    client.send_raw(stray + text);
  }
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.4: a continuation frame must continue a message; the text after it is "
         "never echoed";
}

const ContinuationCase kSection5_9[] = {
    {"Case5_9_ContinuationFinOneChop", true, 0},
    {"Case5_10_ContinuationFinFrameWise", true, SIZE_MAX},
    {"Case5_11_ContinuationFinOctetWise", true, 1},
    {"Case5_12_ContinuationNoFinOneChop", false, 0},
    {"Case5_13_ContinuationNoFinFrameWise", false, SIZE_MAX},
    {"Case5_14_ContinuationNoFinOctetWise", false, 1},
};
INSTANTIATE_TEST_SUITE_P(Fragmentation, Ch15_Autobahn_Section5_9, ::testing::ValuesIn(kSection5_9),
                         continuation_case_name);

TEST(Ch15_Autobahn, Case5_15_MessageThenStrayContinuationFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "fragment1", false) + frame(kContinuation, "fragment2", true) +
                  frame(kContinuation, "fragment3", false) + frame(kText, "fragment4", true));
  EXPECT_TRUE(expect_message(client, kText, "fragment1fragment2"))
      << "the complete message before the stray continuation is echoed first";
  EXPECT_TRUE(expect_close(client, {1002})) << "RFC 6455 §5.4: nothing to continue";
}

TEST(Ch15_Autobahn, Case5_16_StrayContinuationNoFinThenMessageTwiceFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string round = frame(kContinuation, "fragment1", false) + frame(kText, "fragment2", false) +
                      frame(kContinuation, "fragment3", true);
  client.send_raw(round + round);
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.4: the very first frame continues nothing: fail before any echo";
}

TEST(Ch15_Autobahn, Case5_17_StrayContinuationFinThenMessageTwiceFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string round = frame(kContinuation, "fragment1", true) + frame(kText, "fragment2", false) +
                      frame(kContinuation, "fragment3", true);
  client.send_raw(round + round);
  EXPECT_TRUE(expect_close(client, {1002})) << "RFC 6455 §5.4: nothing to continue";
}

TEST(Ch15_Autobahn, Case5_18_TwoTextFramesAsFragmentsFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "fragment1", false) + frame(kText, "fragment2", true));
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.4: a new data frame may not start inside a fragmented message";
}

// 5.19/5.20: a message in five fragments with two pings among them, sent in
// two bursts with a pause between. The first pong must come back BEFORE the
// rest of the message is sent; the message is echoed whole after the second
// pong. (Autobahn waits 1 s; 20 ms is enough to put the bursts in separate reads.)
void fragmented_message_with_pings(bool sync) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  auto send = [&](const std::string& bytes) {
    client.send_raw(bytes);
    if (sync) std::this_thread::sleep_for(20ms);
  };
  send(frame(kText, "fragment1", false));
  send(frame(kContinuation, "fragment2", false));
  send(frame(kPing, "pongme 1!"));
  EXPECT_TRUE(expect_pong(client, "pongme 1!"))
      << "RFC 6455 §5.5.2: the ping is answered while the message is still incomplete";
  std::this_thread::sleep_for(20ms);
  send(frame(kContinuation, "fragment3", false));
  send(frame(kContinuation, "fragment4", false));
  send(frame(kPing, "pongme 2!"));
  send(frame(kContinuation, "fragment5", true));
  EXPECT_TRUE(expect_pong(client, "pongme 2!"));
  EXPECT_TRUE(expect_message(client, kText, "fragment1fragment2fragment3fragment4fragment5"));
  EXPECT_TRUE(close_handshake(client));
}

TEST(Ch15_Autobahn, Case5_19_FragmentsWithPingsAndPause) {
  fragmented_message_with_pings(false);
}

TEST(Ch15_Autobahn, Case5_20_FragmentsWithPingsAndPauseSync) {
  fragmented_message_with_pings(true);
}

// ===== 9. Limits and performance ========================================================
// Sized to keep the suite fast; the server's default limit is 16 MiB, so the
// largest message is exactly at the limit (accepted: the limit is inclusive).

struct LimitCase {
  const char* name;
  uint8_t opcode;
  size_t size;      // message size
  size_t fragment;  // 0: one frame; else frames of this many bytes
  size_t chop;      // 0: one write; else writes of this many bytes
  size_t count;     // messages sent in a row
};

void PrintTo(const LimitCase& c, std::ostream* os) {
  *os << c.name;
}

std::string limit_case_name(const ::testing::TestParamInfo<LimitCase>& info) {
  return info.param.name;
}

class Ch15_Autobahn_Section9 : public ::testing::TestWithParam<LimitCase> {};

TEST_P(Ch15_Autobahn_Section9, EchoedIdentical) {
  const LimitCase& c = GetParam();
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string payload = payload_for(c.opcode, c.size);
  std::string one =
      c.fragment ? fragmented(c.opcode, payload, c.fragment) : frame(c.opcode, payload);
  std::string bytes;
  bytes.reserve(one.size() * c.count);
  for (size_t i = 0; i < c.count; ++i) bytes += one;
  ASSERT_TRUE(c.chop ? client.send_chunked(bytes, c.chop) : client.send_streaming(bytes))
      << "the server stopped reading";
  for (size_t i = 0; i < c.count; ++i) {
    ASSERT_TRUE(expect_message(client, c.opcode, payload, 20s))
        << "message " << i << " of " << c.count;
  }
  EXPECT_TRUE(close_handshake(client));
}

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

const LimitCase kSection9[] = {
    {"Case9_1_1_Text64KiB", kText, 64 * KiB, 0, 0, 1},
    {"Case9_1_2_Text256KiB", kText, 256 * KiB, 0, 0, 1},
    {"Case9_1_3_Text1MiB", kText, 1 * MiB, 0, 0, 1},
    {"Case9_1_4_Text4MiB", kText, 4 * MiB, 0, 0, 1},
    {"Case9_1_5_Text8MiB", kText, 8 * MiB, 0, 0, 1},
    {"Case9_1_6_Text16MiB", kText, 16 * MiB, 0, 0, 1},
    {"Case9_2_1_Binary64KiB", kBinary, 64 * KiB, 0, 0, 1},
    {"Case9_2_2_Binary256KiB", kBinary, 256 * KiB, 0, 0, 1},
    {"Case9_2_3_Binary1MiB", kBinary, 1 * MiB, 0, 0, 1},
    {"Case9_2_4_Binary4MiB", kBinary, 4 * MiB, 0, 0, 1},
    {"Case9_2_5_Binary8MiB", kBinary, 8 * MiB, 0, 0, 1},
    {"Case9_2_6_Binary16MiB", kBinary, 16 * MiB, 0, 0, 1},
    {"Case9_3_1_Text4MiBIn64ByteFragments", kText, 4 * MiB, 64, 0, 1},
    {"Case9_3_2_Text4MiBIn256ByteFragments", kText, 4 * MiB, 256, 0, 1},
    {"Case9_3_3_Text4MiBIn1KiBFragments", kText, 4 * MiB, 1 * KiB, 0, 1},
    {"Case9_3_4_Text4MiBIn4KiBFragments", kText, 4 * MiB, 4 * KiB, 0, 1},
    {"Case9_3_5_Text4MiBIn16KiBFragments", kText, 4 * MiB, 16 * KiB, 0, 1},
    {"Case9_3_6_Text4MiBIn64KiBFragments", kText, 4 * MiB, 64 * KiB, 0, 1},
    {"Case9_3_7_Text4MiBIn256KiBFragments", kText, 4 * MiB, 256 * KiB, 0, 1},
    {"Case9_3_8_Text4MiBIn1MiBFragments", kText, 4 * MiB, 1 * MiB, 0, 1},
    {"Case9_3_9_Text4MiBIn4MiBFragments", kText, 4 * MiB, 4 * MiB, 0, 1},
    {"Case9_4_1_Binary4MiBIn64ByteFragments", kBinary, 4 * MiB, 64, 0, 1},
    {"Case9_4_2_Binary4MiBIn256ByteFragments", kBinary, 4 * MiB, 256, 0, 1},
    {"Case9_4_3_Binary4MiBIn1KiBFragments", kBinary, 4 * MiB, 1 * KiB, 0, 1},
    {"Case9_4_4_Binary4MiBIn4KiBFragments", kBinary, 4 * MiB, 4 * KiB, 0, 1},
    {"Case9_4_5_Binary4MiBIn16KiBFragments", kBinary, 4 * MiB, 16 * KiB, 0, 1},
    {"Case9_4_6_Binary4MiBIn64KiBFragments", kBinary, 4 * MiB, 64 * KiB, 0, 1},
    {"Case9_4_7_Binary4MiBIn256KiBFragments", kBinary, 4 * MiB, 256 * KiB, 0, 1},
    {"Case9_4_8_Binary4MiBIn1MiBFragments", kBinary, 4 * MiB, 1 * MiB, 0, 1},
    {"Case9_4_9_Binary4MiBIn4MiBFragments", kBinary, 4 * MiB, 4 * MiB, 0, 1},
    {"Case9_5_1_Text1MiBIn64ByteChops", kText, 1 * MiB, 0, 64, 1},
    {"Case9_5_2_Text1MiBIn128ByteChops", kText, 1 * MiB, 0, 128, 1},
    {"Case9_5_3_Text1MiBIn256ByteChops", kText, 1 * MiB, 0, 256, 1},
    {"Case9_5_4_Text1MiBIn512ByteChops", kText, 1 * MiB, 0, 512, 1},
    {"Case9_5_5_Text1MiBIn1KiBChops", kText, 1 * MiB, 0, 1 * KiB, 1},
    {"Case9_5_6_Text1MiBIn2KiBChops", kText, 1 * MiB, 0, 2 * KiB, 1},
    {"Case9_5_X_Text1MiBIn4KiBChops", kText, 1 * MiB, 0, 4 * KiB, 1},
    {"Case9_5_X_Text1MiBIn8KiBChops", kText, 1 * MiB, 0, 8 * KiB, 1},
    {"Case9_6_1_Binary1MiBIn64ByteChops", kBinary, 1 * MiB, 0, 64, 1},
    {"Case9_6_2_Binary1MiBIn128ByteChops", kBinary, 1 * MiB, 0, 128, 1},
    {"Case9_6_3_Binary1MiBIn256ByteChops", kBinary, 1 * MiB, 0, 256, 1},
    {"Case9_6_4_Binary1MiBIn512ByteChops", kBinary, 1 * MiB, 0, 512, 1},
    {"Case9_6_5_Binary1MiBIn1KiBChops", kBinary, 1 * MiB, 0, 1 * KiB, 1},
    {"Case9_6_6_Binary1MiBIn2KiBChops", kBinary, 1 * MiB, 0, 2 * KiB, 1},
    {"Case9_6_X_Binary1MiBIn4KiBChops", kBinary, 1 * MiB, 0, 4 * KiB, 1},
    {"Case9_6_X_Binary1MiBIn8KiBChops", kBinary, 1 * MiB, 0, 8 * KiB, 1},
    {"Case9_7_1_Thousand0ByteTexts", kText, 0, 0, 0, 1000},
    {"Case9_7_2_Thousand16ByteTexts", kText, 16, 0, 0, 1000},
    {"Case9_7_3_Thousand64ByteTexts", kText, 64, 0, 0, 1000},
    {"Case9_7_4_Thousand256ByteTexts", kText, 256, 0, 0, 1000},
    {"Case9_7_5_Thousand1KiBTexts", kText, 1 * KiB, 0, 0, 1000},
    {"Case9_7_6_Thousand4KiBTexts", kText, 4 * KiB, 0, 0, 1000},
    {"Case9_8_1_Thousand0ByteBinaries", kBinary, 0, 0, 0, 1000},
    {"Case9_8_2_Thousand16ByteBinaries", kBinary, 16, 0, 0, 1000},
    {"Case9_8_3_Thousand64ByteBinaries", kBinary, 64, 0, 0, 1000},
    {"Case9_8_4_Thousand256ByteBinaries", kBinary, 256, 0, 0, 1000},
    {"Case9_8_5_Thousand1KiBBinaries", kBinary, 1 * KiB, 0, 0, 1000},
    {"Case9_8_6_Thousand4KiBBinaries", kBinary, 4 * KiB, 0, 0, 1000},
};
INSTANTIATE_TEST_SUITE_P(Limits, Ch15_Autobahn_Section9, ::testing::ValuesIn(kSection9),
                         limit_case_name);

// 9.x, the other side of the limit: one byte more than the server accepts
// is refused with 1009 -- in one frame or across fragments.
TEST(Ch15_Autobahn, Case9_X_MessageOverTheLimitFailsWith1009) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  // Only the header is sent: a 16 MiB + 1 frame is refused from its length.
  client.send_raw(header_only(kBinary, 16 * MiB + 1));
  EXPECT_TRUE(expect_close(client, {1009}))
      << "RFC 6455 §7.4.1: 1009, \"a message that is too big for it to process\"";
}

TEST(Ch15_Autobahn, Case9_X_FragmentsOverTheLimitFailWith1009) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string first = frame(kBinary, binary_payload(8 * MiB), false);
  ASSERT_TRUE(client.send_streaming(first));
  ASSERT_TRUE(client.send_raw(header_only(kContinuation, 8 * MiB + 1)));
  // Generous: the server reads (over TLS, decrypts) 8 MiB first, on a loaded machine.
  EXPECT_TRUE(expect_close(client, {1009}, true, std::chrono::seconds(15)))
      << "the limit counts the whole message, across fragments";
}

// ===== Beyond Autobahn: the 64-bit length ============================================

TEST(Ch15_Autobahn, Case1_X_LengthWithTopBitSetFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(header_only(kBinary, uint64_t{1} << 63));
  EXPECT_TRUE(expect_close(client, {1002}))
      << "RFC 6455 §5.2: in a 64-bit length \"the most significant bit MUST be 0\"";
}

// ===== 10. Auto-fragmentation =======================================================

TEST(Ch15_Autobahn, Case10_1_1_Text64KiBIn1300ByteFragments) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string payload = text_payload(65536);
  client.send_raw(fragmented(kText, payload, 1300));
  EXPECT_TRUE(expect_message(client, kText, payload))
      << "RFC 6455 §5.4: the echo may be fragmented any way, but reassembles to the message";
  EXPECT_TRUE(close_handshake(client));
}

}  // namespace
}  // namespace ws
