// Chapter 16: a large message sent without a copy (Connection::frame_direct,
// direct_sent, ClientSocket::send_message) and a server's header written in
// one step (encode_server_header). The protocol half is checked byte for byte
// against the frame the queued path makes; the socket half with a real
// server and a client that reads slowly, so that the kernel takes only part
// of a message and the rest must be queued, in order (RFC 6455 §5.4: frames
// of a message, and the messages, leave in the order they were sent).
// Run: make test CH=16   or   ./build/tests/ch16_direct_send_test
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/frame.h"
#include "support/raw_ws.h"
#include "support/recorder.h"
#include "support/test_server.h"

namespace ws {
namespace {

using test::drain;
using test::open_server;
using test::Recorder;

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A payload whose every byte says where it is, so a piece lost, doubled or
// moved shows up as a mismatch at a known offset.
std::string patterned(size_t size, uint8_t seed) {
  std::string payload(size, '\0');
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>((i * 7 + seed) & 0xff);
  return payload;
}

// The frame the queued path (send_binary) makes for `payload`.
std::string queued_frame(std::string_view payload) {
  Recorder r;
  Connection c = open_server(r);
  EXPECT_TRUE(c.send_binary(bytes_of(payload)));
  return drain(c);
}

// ===== the server's header in one step =======================================================

TEST(Ch16_DirectSend, ServerHeaderMatchesTheGeneralEncoder) {
  // Every length class and its edges (§5.2: 7-bit, 16-bit, 64-bit, minimal).
  const uint64_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, 1 << 20, uint64_t{1} << 40};
  const Opcode opcodes[] = {Opcode::kContinuation, Opcode::kText, Opcode::kBinary,
                            Opcode::kClose,        Opcode::kPing, Opcode::kPong};
  for (uint64_t length : lengths) {
    for (Opcode opcode : opcodes) {
      for (int bits = 0; bits < 4; ++bits) {
        FrameHeader header;
        header.opcode = opcode;
        header.fin = (bits & 1) != 0;
        header.rsv1 = (bits & 2) != 0;
        header.payload_length = length;
        std::array<uint8_t, kMaxFrameHeaderSize> general{}, fast{};
        size_t general_size = encode_frame_header(header, general);
        size_t fast_size = encode_server_header(fast, opcode, length, header.fin, header.rsv1);
        ASSERT_EQ(fast_size, general_size) << "length " << length << " " << opcode;
        ASSERT_EQ(server_header_size(length), general_size) << "length " << length;
        EXPECT_TRUE(std::equal(fast.begin(), fast.begin() + fast_size, general.begin()))
            << "RFC 6455 §5.2: the same header bytes for length " << length << ", " << opcode
            << ", fin " << header.fin << ", rsv1 " << header.rsv1;
      }
    }
  }
}

// ===== the protocol half: frame_direct() and direct_sent() ===================================

TEST(Ch16_DirectSend, LargeMessageWithNothingQueuedGetsItsHeaderOnly) {
  Recorder r;
  Connection c = open_server(r);
  const std::string payload = patterned(Connection::kDirectSendMin, 1);
  std::array<uint8_t, kMaxFrameHeaderSize> header{};
  size_t size = c.frame_direct(Opcode::kBinary, bytes_of(payload), header);
  const std::string expected = queued_frame(payload);
  ASSERT_EQ(size, 4u) << "§5.2: 16 KiB takes the 16-bit length: a 4-byte header";
  EXPECT_EQ(std::string(header.begin(), header.begin() + 4), expected.substr(0, 4))
      << "the header must be the queued frame's";
  EXPECT_EQ(c.buffered_amount(), 0u) << "frame_direct() queues nothing";
}

TEST(Ch16_DirectSend, RefusedWhereTheQueuedPathMustBeTaken) {
  std::array<uint8_t, kMaxFrameHeaderSize> header{};
  const std::string large = patterned(Connection::kDirectSendMin, 2);
  {
    Recorder r;
    Connection c = open_server(r);
    ASSERT_TRUE(c.send_ping(bytes_of("first")));
    EXPECT_EQ(c.frame_direct(Opcode::kBinary, bytes_of(large), header), 0u)
        << "a frame is queued: the message must go behind it, not around it";
  }
  {
    Recorder r;
    Connection c = open_server(r);
    EXPECT_EQ(c.frame_direct(Opcode::kBinary, bytes_of(large.substr(1)), header), 0u)
        << "below kDirectSendMin the copy is cheaper than a system call of its own";
  }
  {
    Recorder r;
    Connection c = open_server(r);
    ASSERT_TRUE(c.send_frame(Opcode::kText, bytes_of("part"), false));
    drain(c);
    EXPECT_EQ(c.frame_direct(Opcode::kBinary, bytes_of(large), header), 0u)
        << "§5.4: a fragmented message is being sent; another may not interleave";
  }
  {
    Recorder r;
    Connection c = open_server(r);
    ASSERT_TRUE(c.close());
    drain(c);
    EXPECT_EQ(c.frame_direct(Opcode::kBinary, bytes_of(large), header), 0u)
        << "§5.5.1: no data after our close frame";
  }
  {
    Recorder r;
    Connection c = open_server(r);
    EXPECT_EQ(c.frame_direct(Opcode::kPing, bytes_of(large), header), 0u)
        << "control frames are never direct";
  }
}

TEST(Ch16_DirectSend, WhatTheKernelDidNotTakeIsQueuedInOrder) {
  const std::string payload = patterned(70000, 3);  // 64-bit length: a 10-byte header
  const std::string frame = queued_frame(payload);
  const size_t takes[] = {0, 1, 9, 10, 11, 4096, frame.size() - 1, frame.size()};
  for (size_t taken : takes) {
    Recorder r;
    Connection c = open_server(r);
    std::array<uint8_t, kMaxFrameHeaderSize> header{};
    size_t size = c.frame_direct(Opcode::kBinary, bytes_of(payload), header);
    ASSERT_EQ(size, 10u);
    c.direct_sent({header.data(), size}, bytes_of(payload), taken);
    ASSERT_TRUE(c.send_ping(bytes_of("after"))) << "a later frame is queued behind";
    const std::vector<uint8_t> ping = test::server_frame(Opcode::kPing, "after");
    const std::string expected = frame.substr(taken) + std::string(ping.begin(), ping.end());
    EXPECT_EQ(drain(c), expected) << "the kernel took " << taken << " of " << frame.size()
                                  << " bytes: the rest of the frame must follow, then the ping";
  }
}

// ===== the socket half: a real server, a client that reads slowly ============================

constexpr size_t kLarge = 192 << 10;  // large enough for the direct path, many times the window

// The echo route, recording how much output each echo left queued: 0 when
// the kernel took the whole frame, the whole frame when it was queued.
struct QueuedAfterEcho {
  std::mutex mutex;
  std::vector<size_t> queued;
};

void echo_recording(Server& server, QueuedAfterEcho& record) {
  Route echo;
  echo.on_message = [&record](WebSocket& socket, std::string_view data, MessageType type) {
    if (type == MessageType::kText) {
      socket.send_text(data);
    } else {
      socket.send_binary(bytes_of(data));
    }
    std::lock_guard lock(record.mutex);
    record.queued.push_back(socket.buffered_amount());
  };
  server.route("/echo", echo);
}

TEST(Ch16_DirectSend, SlowReaderGetsLargeEchoesWholeAndInOrder) {
  if (test::tls_mode()) GTEST_SKIP() << "TLS keeps the copy: no direct path to test";
  QueuedAfterEcho record;
  test::TestServer server(test::test_config(), [&](Server& s) { echo_recording(s, record); });
  test::RawClient client;
  ASSERT_TRUE(client.connect(server.port(), 4096));
  ASSERT_NE(client.handshake("/echo").find(" 101 "), std::string::npos);
  constexpr size_t kCount = 8, kSize = 512 << 10;  // 4 MiB: more than the kernel will hold
  std::string all;
  for (uint8_t i = 0; i < kCount; ++i) all += test::RawClient::encode(2, patterned(kSize, i));
  // Sent while storing the echoes that come meanwhile: the server stops
  // reading a client that does not read (backpressure), so a plain blocking
  // send could wait forever. The 4 KiB window still keeps the server waiting.
  ASSERT_TRUE(client.send_streaming(all, std::chrono::seconds(30)));
  for (uint8_t i = 0; i < kCount; ++i) {
    std::optional<test::RawMessage> echo = client.read_message(std::chrono::seconds(30));
    ASSERT_TRUE(echo) << "echo " << int(i) << " never came";
    EXPECT_EQ(echo->opcode, 2) << "echo " << int(i);
    EXPECT_TRUE(echo->payload == patterned(kSize, i))
        << "echo " << int(i) << ": " << echo->payload.size() << " bytes, not the message sent";
  }
  std::lock_guard lock(record.mutex);
  ASSERT_EQ(record.queued.size(), kCount);
  const size_t frame = kSize + 10;
  // Queued, every echo would leave a whole frame or more in the output. One
  // that left less was written at once from the message; one that left some
  // but less than a frame met a socket that took only part of it.
  std::string seen;
  bool partly = false;
  for (size_t q : record.queued) {
    seen += std::to_string(q) + " ";
    partly = partly || (q > 0 && q < frame);
  }
  EXPECT_LT(record.queued[0], frame)
      << "the first echo had nothing queued before it: written at once, no copy (queued: " << seen
      << ")";
  EXPECT_TRUE(partly) << "with a 4 KiB window some echo must be taken only in part and its rest "
                         "queued (bytes queued after each echo: "
                      << seen << ")";
}

TEST(Ch16_DirectSend, PingAndCloseBetweenLargeMessagesKeepTheirPlace) {
  test::TestServer server;  // the echo routes
  test::RawClient client;
  ASSERT_TRUE(client.connect(server.port(), 4096));
  ASSERT_NE(client.handshake("/echo").find(" 101 "), std::string::npos);
  std::string all = test::RawClient::encode(2, patterned(kLarge, 10));
  all += test::RawClient::encode(9, "between");
  all += test::RawClient::encode(2, patterned(kLarge, 11));
  all += test::RawClient::encode(8, test::RawClient::close_payload(1000, "done"));
  ASSERT_TRUE(client.send_raw(all));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto timeout = std::chrono::seconds(20);
  std::optional<test::RawFrame> first = client.read_frame(timeout);
  ASSERT_TRUE(first && first->opcode == 2) << "the first large echo comes first";
  EXPECT_TRUE(first->payload == patterned(kLarge, 10)) << "first echo intact";
  std::optional<test::RawFrame> pong = client.read_frame(timeout);
  ASSERT_TRUE(pong) << "no pong";
  EXPECT_EQ(pong->opcode, 10) << "RFC 6455 §5.5.2: the pong answers the ping that came between "
                                 "the two messages, so it leaves between their echoes";
  EXPECT_EQ(pong->payload, "between");
  std::optional<test::RawFrame> second = client.read_frame(timeout);
  ASSERT_TRUE(second && second->opcode == 2) << "the second large echo after the pong";
  EXPECT_TRUE(second->payload == patterned(kLarge, 11)) << "second echo intact";
  std::optional<test::RawFrame> close = client.read_frame(timeout);
  ASSERT_TRUE(close) << "no close";
  EXPECT_EQ(close->opcode, 8) << "§5.5.1: the close answers last, after every echo";
  EXPECT_EQ(close->close_code(), 1000);
}

TEST(Ch16_DirectSend, FragmentedLargeMessageIsEchoedWhole) {
  test::TestServer server;
  test::RawClient client;
  ASSERT_TRUE(client.connect(server.port(), 4096));
  ASSERT_NE(client.handshake("/echo").find(" 101 "), std::string::npos);
  // §5.4: a text message in three fragments, with a ping among them, each
  // fragment cut inside a multi-byte character (§8.1: checked across them).
  std::string text;
  while (text.size() < 3 * kLarge) text += "ascii, Ελληνικά, 中文, 👋; ";
  const size_t cut1 = kLarge + 1, cut2 = 2 * kLarge + 2;
  std::string all = test::RawClient::encode(1, text.substr(0, cut1), false);
  all += test::RawClient::encode(9, "mid");
  all += test::RawClient::encode(0, text.substr(cut1, cut2 - cut1), false);
  all += test::RawClient::encode(0, text.substr(cut2), true);
  ASSERT_TRUE(client.send_raw(all));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::optional<test::RawFrame> pong = client.read_frame(std::chrono::seconds(20));
  ASSERT_TRUE(pong && pong->opcode == 10) << "the ping came before the message ended";
  std::optional<test::RawMessage> echo = client.read_message(std::chrono::seconds(20));
  ASSERT_TRUE(echo) << "no echo";
  EXPECT_EQ(echo->opcode, 1);
  EXPECT_EQ(echo->payload.size(), text.size()) << "the reassembled message, echoed whole";
  EXPECT_TRUE(echo->payload == text) << "the reassembled message, echoed byte for byte";
}

}  // namespace
}  // namespace ws
