// Chapter 04: frames (RFC 6455 §5.2), masking (§5.3) and the examples of §5.7.
// Run: make test CH=04   or   ./build/tests/ch04_frame_test --gtest_filter='Ch04_Frame.*'
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "openpipe/core/buffer.h"
#include "openpipe/protocol/frame.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::bytes;
using test::hex;
using test::to_hex;

constexpr uint64_t kNoLimit = UINT64_MAX;
const MaskKey kRfcKey = {0x37, 0xfa, 0x21, 0x3d};  // the key used in §5.7

// One frame as a test sees it: its header and its payload, put back together
// from however many pieces the decoder handed out.
struct Frame {
  FrameHeader header;
  std::vector<uint8_t> payload;
  bool ended = false;  // a piece with frame_end arrived
};

// Readable in failure messages: "fin=1 op=text masked=1 len=5 payload=48 65".
std::string describe(const std::vector<Frame>& frames) {
  std::string out;
  for (const Frame& f : frames) {
    out += "[fin=" + std::to_string(f.header.fin) + " op=" + to_string(f.header.opcode) +
           " masked=" + std::to_string(f.header.masked) +
           " len=" + std::to_string(f.header.payload_length) + " ended=" + std::to_string(f.ended) +
           " payload=" + to_hex(f.payload) + "]";
  }
  return out;
}

// Feeds `input` to the decoder the way frame.h says a caller should, adding
// every piece to `frames`. Returns the error, if any.
Error feed(FrameDecoder& decoder, std::span<uint8_t> input, std::vector<Frame>& frames) {
  while (!input.empty()) {
    DecodeResult r = decoder.decode(input);
    input = input.subspan(r.consumed);
    if (r.status == DecodeStatus::kError) return r.error;
    if (r.status == DecodeStatus::kNeedMore) break;
    if (r.frame_start) frames.push_back({decoder.header(), {}, false});
    frames.back().payload.insert(frames.back().payload.end(), r.payload.begin(), r.payload.end());
    frames.back().ended = r.frame_end;
  }
  return Error::kNone;
}

// Decodes `wire` in two reads, split at `split` (a copy: decoding unmasks in place).
std::vector<Frame> decode_split(const std::vector<uint8_t>& wire, size_t split, Role receiver) {
  std::vector<uint8_t> copy = wire;
  std::span<uint8_t> all(copy);
  FrameDecoder decoder(receiver, kNoLimit);
  std::vector<Frame> frames;
  EXPECT_EQ(feed(decoder, all.first(split), frames), Error::kNone);
  EXPECT_EQ(feed(decoder, all.subspan(split), frames), Error::kNone);
  EXPECT_TRUE(decoder.at_frame_boundary());
  return frames;
}

std::vector<Frame> decode_whole(const std::vector<uint8_t>& wire, Role receiver) {
  return decode_split(wire, 0, receiver);
}

// Decodes one byte per call.
std::vector<Frame> decode_bytewise(const std::vector<uint8_t>& wire, Role receiver) {
  std::vector<uint8_t> copy = wire;
  FrameDecoder decoder(receiver, kNoLimit);
  std::vector<Frame> frames;
  for (size_t i = 0; i < copy.size(); ++i) {
    EXPECT_EQ(feed(decoder, std::span<uint8_t>(&copy[i], 1), frames), Error::kNone);
  }
  return frames;
}

// Feeds `wire` one byte at a time; returns the error and the number of bytes
// that had been fed when it was reported (0 if none).
std::pair<Error, size_t> first_error_bytewise(std::vector<uint8_t> wire, Role receiver,
                                              uint64_t max_payload = kNoLimit) {
  FrameDecoder decoder(receiver, max_payload);
  for (size_t i = 0; i < wire.size(); ++i) {
    DecodeResult r = decoder.decode(std::span<uint8_t>(&wire[i], 1));
    if (r.status == DecodeStatus::kError) return {r.error, i + 1};
  }
  return {Error::kNone, 0};
}

Error decode_error(std::vector<uint8_t> wire, Role receiver, uint64_t max_payload = kNoLimit) {
  FrameDecoder decoder(receiver, max_payload);
  std::vector<Frame> frames;
  return feed(decoder, wire, frames);
}

// [n bytes of binary data] for the §5.7 examples: a fixed, non-repeating-ish pattern.
std::vector<uint8_t> binary_data(size_t n) {
  std::vector<uint8_t> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 7 + i / 256 + 3);
  return data;
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<uint8_t> encode(Opcode opcode, bool fin, const std::vector<uint8_t>& payload,
                            const MaskKey* key = nullptr) {
  Buffer out;
  EXPECT_TRUE(append_frame(out, opcode, fin, payload, key));
  return {out.readable().begin(), out.readable().end()};
}

// ---- the examples of RFC 6455 §5.7 --------------------------------------------------

struct RfcExample {
  const char* name;
  std::vector<uint8_t> wire;
  Role receiver;  // who may receive it: masked frames go to a server
  std::vector<Frame> frames;
};

FrameHeader make_header(bool fin, Opcode opcode, uint64_t length, bool masked = false) {
  FrameHeader h;
  h.fin = fin;
  h.opcode = opcode;
  h.payload_length = length;
  h.masked = masked;
  if (masked) h.mask_key = kRfcKey;
  return h;
}

std::vector<RfcExample> rfc_examples() {
  const auto hello = bytes("Hello");
  return {
      {"unmasked text",
       hex("81 05 48 65 6c 6c 6f"),
       Role::kClient,
       {{make_header(true, Opcode::kText, 5), hello, true}}},
      {"masked text",
       hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
       Role::kServer,
       {{make_header(true, Opcode::kText, 5, true), hello, true}}},
      {"fragmented text",
       hex("01 03 48 65 6c  80 02 6c 6f"),
       Role::kClient,
       {{make_header(false, Opcode::kText, 3), bytes("Hel"), true},
        {make_header(true, Opcode::kContinuation, 2), bytes("lo"), true}}},
      {"unmasked ping",
       hex("89 05 48 65 6c 6c 6f"),
       Role::kClient,
       {{make_header(true, Opcode::kPing, 5), hello, true}}},
      {"masked pong",
       hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
       Role::kServer,
       {{make_header(true, Opcode::kPong, 5, true), hello, true}}},
      {"256 bytes binary",
       concat(hex("82 7E 0100"), binary_data(256)),
       Role::kClient,
       {{make_header(true, Opcode::kBinary, 256), binary_data(256), true}}},
      {"64KiB binary",
       concat(hex("82 7F 0000000000010000"), binary_data(65536)),
       Role::kClient,
       {{make_header(true, Opcode::kBinary, 65536), binary_data(65536), true}}},
  };
}

// ===== basic ===========================================================================

TEST(Ch04_Frame, OpcodeNames) {
  EXPECT_STREQ(to_string(Opcode::kContinuation), "continuation");
  EXPECT_STREQ(to_string(Opcode::kText), "text");
  EXPECT_STREQ(to_string(Opcode::kBinary), "binary");
  EXPECT_STREQ(to_string(Opcode::kClose), "close");
  EXPECT_STREQ(to_string(Opcode::kPing), "ping");
  EXPECT_STREQ(to_string(Opcode::kPong), "pong");
  EXPECT_STREQ(to_string(static_cast<Opcode>(0x3)), "reserved") << "RFC 6455 §5.2: %x3-7 reserved";
  EXPECT_STREQ(to_string(static_cast<Opcode>(0xB)), "reserved") << "RFC 6455 §5.2: %xB-F reserved";
}

TEST(Ch04_Frame, TestMessagesPrintOpcodesByName) {
  EXPECT_EQ(::testing::PrintToString(Opcode::kPing), "ping") << "frame.h declares operator<<";
  EXPECT_EQ(::testing::PrintToString(static_cast<Opcode>(0xB)), "reserved (11)");
  EXPECT_EQ(::testing::PrintToString(DecodeStatus::kNeedMore), "need-more");
  EXPECT_EQ(::testing::PrintToString(Role::kClient), "client");
}

TEST(Ch04_Frame, ControlOpcodesHaveTheHighBit) {
  EXPECT_FALSE(is_control(Opcode::kContinuation));
  EXPECT_FALSE(is_control(Opcode::kText));
  EXPECT_FALSE(is_control(Opcode::kBinary));
  EXPECT_TRUE(is_control(Opcode::kClose)) << "RFC 6455 §5.5: control opcodes have bit 0x8 set";
  EXPECT_TRUE(is_control(Opcode::kPing));
  EXPECT_TRUE(is_control(Opcode::kPong));
}

TEST(Ch04_Frame, DecodesRfcUnmaskedText) {
  auto wire = hex("81 05 48 65 6c 6c 6f");
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
  EXPECT_EQ(r.consumed, 7u);
  EXPECT_TRUE(r.frame_start);
  EXPECT_TRUE(r.frame_end);
  EXPECT_TRUE(decoder.header().fin) << "RFC 6455 §5.2: 0x80 in byte 0 is FIN";
  EXPECT_EQ(decoder.header().opcode, Opcode::kText) << "RFC 6455 §5.2: opcode is the low nibble";
  EXPECT_FALSE(decoder.header().masked);
  EXPECT_EQ(decoder.header().payload_length, 5u) << "RFC 6455 §5.2: 0-125 is the length itself";
  EXPECT_EQ(to_hex(r.payload), to_hex(bytes("Hello")));
  EXPECT_EQ(r.payload.data(), wire.data() + 2)
      << "the payload is not copied: it points into the input";
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(Ch04_Frame, DecodesRfcMaskedTextUnmaskingInPlace) {
  auto wire = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  FrameDecoder decoder(Role::kServer, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
  EXPECT_TRUE(decoder.header().masked);
  EXPECT_EQ(to_hex(decoder.header().mask_key), "37 fa 21 3d");
  EXPECT_EQ(r.payload.data(), wire.data() + 6) << "unmasked in place, inside the input";
  EXPECT_EQ(to_hex(r.payload), to_hex(bytes("Hello")))
      << "RFC 6455 §5.3: payload octet i XOR mask key octet i mod 4";
}

TEST(Ch04_Frame, DecodesEveryRfcExample) {
  for (const RfcExample& example : rfc_examples()) {
    EXPECT_EQ(describe(decode_whole(example.wire, example.receiver)), describe(example.frames))
        << "RFC 6455 §5.7 example: " << example.name;
  }
}

TEST(Ch04_Frame, Decodes16BitLength) {
  auto wire = concat(hex("82 7E 01 00"), binary_data(256));
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
  EXPECT_EQ(decoder.header().payload_length, 256u)
      << "RFC 6455 §5.2: 126 means a 16-bit extended length follows";
  EXPECT_EQ(r.payload.size(), 256u);
  EXPECT_EQ(r.payload.data(), wire.data() + 4);
}

TEST(Ch04_Frame, Decodes64BitLength) {
  auto wire = concat(hex("82 7F 00 00 00 00 00 01 00 00"), binary_data(65536));
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
  EXPECT_EQ(decoder.header().payload_length, 65536u)
      << "RFC 6455 §5.2: 127 means a 64-bit extended length follows";
  EXPECT_EQ(r.payload.size(), 65536u);
  EXPECT_EQ(r.payload.data(), wire.data() + 10);
}

TEST(Ch04_Frame, EncodesEveryRfcExample) {
  const auto hello = bytes("Hello");
  EXPECT_EQ(to_hex(encode(Opcode::kText, true, hello)), "81 05 48 65 6c 6c 6f")
      << "RFC 6455 §5.7: single-frame unmasked text";
  EXPECT_EQ(to_hex(encode(Opcode::kText, true, hello, &kRfcKey)),
            "81 85 37 fa 21 3d 7f 9f 4d 51 58")
      << "RFC 6455 §5.7: single-frame masked text";
  EXPECT_EQ(to_hex(encode(Opcode::kText, false, bytes("Hel"))), "01 03 48 65 6c")
      << "RFC 6455 §5.7: first fragment has FIN=0";
  EXPECT_EQ(to_hex(encode(Opcode::kContinuation, true, bytes("lo"))), "80 02 6c 6f")
      << "RFC 6455 §5.7: last fragment is a continuation with FIN=1";
  EXPECT_EQ(to_hex(encode(Opcode::kPing, true, hello)), "89 05 48 65 6c 6c 6f")
      << "RFC 6455 §5.7: unmasked ping";
  EXPECT_EQ(to_hex(encode(Opcode::kPong, true, hello, &kRfcKey)),
            "8a 85 37 fa 21 3d 7f 9f 4d 51 58")
      << "RFC 6455 §5.7: masked pong";
  EXPECT_EQ(encode(Opcode::kBinary, true, binary_data(256)),
            concat(hex("82 7E 01 00"), binary_data(256)))
      << "RFC 6455 §5.7: 256 bytes need the 16-bit length";
  EXPECT_EQ(encode(Opcode::kBinary, true, binary_data(65536)),
            concat(hex("82 7F 00 00 00 00 00 01 00 00"), binary_data(65536)))
      << "RFC 6455 §5.7: 64 KiB need the 64-bit length";
}

TEST(Ch04_Frame, EncodesMinimalLength) {
  struct Case {
    uint64_t length;
    size_t header_size;
    const char* length_bytes;  // bytes 1.. of the header
  };
  const Case cases[] = {
      {0, 2, "00"},
      {125, 2, "7d"},
      {126, 4, "7e 00 7e"},
      {65535, 4, "7e ff ff"},
      {65536, 10, "7f 00 00 00 00 00 01 00 00"},
      {0x7FFFFFFFFFFFFFFF, 10, "7f 7f ff ff ff ff ff ff ff"},
  };
  for (const Case& c : cases) {
    FrameHeader header = make_header(true, Opcode::kBinary, c.length);
    std::array<uint8_t, kMaxFrameHeaderSize> out{};
    EXPECT_EQ(frame_header_size(header), c.header_size) << "length " << c.length;
    ASSERT_EQ(encode_frame_header(header, out), c.header_size) << "length " << c.length;
    EXPECT_EQ(to_hex(std::span(out).subspan(1, c.header_size - 1)), c.length_bytes)
        << "RFC 6455 §5.2: \"the minimal number of bytes MUST be used to encode the length\"";
  }
}

TEST(Ch04_Frame, EncodesMaskBitAndKey) {
  FrameHeader header = make_header(true, Opcode::kBinary, 300, true);
  std::array<uint8_t, kMaxFrameHeaderSize> out{};
  ASSERT_EQ(encode_frame_header(header, out), 8u) << "2 + 2 (length) + 4 (mask key)";
  EXPECT_EQ(to_hex(std::span(out).first(8)), "82 fe 01 2c 37 fa 21 3d")
      << "RFC 6455 §5.2: the MASK bit is the top bit of byte 1; the key follows the length";
}

TEST(Ch04_Frame, EncodedHeadersDecodeBack) {
  for (uint64_t length : {0ull, 1ull, 125ull, 126ull, 127ull, 65535ull, 65536ull, 1ull << 40}) {
    for (bool masked : {false, true}) {
      FrameHeader header = make_header(length % 2 == 0, Opcode::kBinary, length, masked);
      std::array<uint8_t, kMaxFrameHeaderSize> out{};
      size_t n = encode_frame_header(header, out);
      FrameDecoder decoder(masked ? Role::kServer : Role::kClient, kNoLimit);
      DecodeResult r = decoder.decode(std::span(out).first(n));
      ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
      EXPECT_EQ(r.consumed, n);
      EXPECT_TRUE(r.frame_start);
      EXPECT_EQ(r.frame_end, length == 0);
      EXPECT_EQ(decoder.header().payload_length, length);
      EXPECT_EQ(decoder.header().fin, header.fin);
      EXPECT_EQ(decoder.header().masked, masked);
    }
  }
}

// ===== edge ============================================================================

TEST(Ch04_Frame, EmptyPayloadYieldsOneEmptyPiece) {
  auto wire = hex("82 00");
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload)
      << "a frame with no payload still reports itself, so the caller sees it start and end";
  EXPECT_TRUE(r.frame_start);
  EXPECT_TRUE(r.frame_end);
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(r.consumed, 2u);
}

TEST(Ch04_Frame, MaskedEmptyPayloadYieldsOneEmptyPiece) {
  auto wire = hex("88 80 01 02 03 04");  // a close frame with no body, from a client
  FrameDecoder decoder(Role::kServer, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
  EXPECT_TRUE(r.frame_start && r.frame_end);
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(r.consumed, 6u) << "the mask key is part of the header even with no payload";
}

TEST(Ch04_Frame, ReturnsOnePiecePerCall) {
  auto wire = hex("81 02 48 69  82 00  89 01 21");  // text "Hi", empty binary, ping "!"
  FrameDecoder decoder(Role::kClient, kNoLimit);
  std::span<uint8_t> input(wire);
  const size_t expected_consumed[] = {4, 2, 3};
  for (size_t expected : expected_consumed) {
    DecodeResult r = decoder.decode(input);
    ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
    EXPECT_EQ(r.consumed, expected) << "each decode() stops at the end of its frame";
    EXPECT_TRUE(r.frame_start && r.frame_end);
    input = input.subspan(r.consumed);
  }
  EXPECT_TRUE(input.empty());
}

TEST(Ch04_Frame, EmptyInputNeedsMore) {
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode({});
  EXPECT_EQ(r.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(Ch04_Frame, KeepsAPartialHeader) {
  auto wire = hex("82 7E 01");  // the 16-bit length is missing its last byte
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  EXPECT_EQ(r.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 3u) << "header bytes that arrived are taken and kept inside";
  EXPECT_FALSE(decoder.at_frame_boundary()) << "a partial header is pending";
}

TEST(Ch04_Frame, SplitHeaderPayloadPointsIntoNewInput) {
  auto first = hex("81 85 37");                  // header cut inside the mask key
  auto second = hex("fa 21 3d 7f 9f 4d 51 58");  // rest of the key, then the payload
  FrameDecoder decoder(Role::kServer, kNoLimit);
  EXPECT_EQ(decoder.decode(first).status, DecodeStatus::kNeedMore);
  DecodeResult r = decoder.decode(second);
  ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
  EXPECT_TRUE(r.frame_start);
  EXPECT_EQ(r.payload.data(), second.data() + 3)
      << "the payload is in the second input, not in the decoder's header copy";
  EXPECT_EQ(to_hex(r.payload), to_hex(bytes("Hello")));
}

TEST(Ch04_Frame, HeaderCompleteAtEndOfInputReportsFrameStart) {
  auto wire = hex("82 03");  // header only; the 3 payload bytes come later
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload)
      << "the header is reported as soon as it is complete, before any payload";
  EXPECT_TRUE(r.frame_start);
  EXPECT_FALSE(r.frame_end);
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(decoder.decode({}).status, DecodeStatus::kNeedMore)
      << "no input in the middle of a payload: nothing to report";
}

TEST(Ch04_Frame, MaskedPayloadInPiecesUnmasksWithItsOffset) {
  const auto message = bytes("a payload long enough to cross several key rotations");
  const auto wire = encode(Opcode::kBinary, true, message, &kRfcKey);
  for (size_t split = 0; split <= wire.size(); ++split) {
    EXPECT_EQ(describe(decode_split(wire, split, Role::kServer)),
              describe({{make_header(true, Opcode::kBinary, message.size(), true), message, true}}))
        << "split at " << split
        << ": RFC 6455 §5.3: the key index is the offset in the PAYLOAD, not in this read";
  }
}

TEST(Ch04_Frame, EveryRfcExampleSplitAtEveryByte) {
  for (const RfcExample& example : rfc_examples()) {
    if (example.wire.size() > 1000) continue;  // the 64 KiB example has its own test below
    for (size_t split = 0; split <= example.wire.size(); ++split) {
      EXPECT_EQ(describe(decode_split(example.wire, split, example.receiver)),
                describe(example.frames))
          << "RFC 6455 §5.7 example \"" << example.name << "\" split at byte " << split;
    }
  }
}

TEST(Ch04_Frame, RfcExample64KiBSplitAtEveryByte) {
  // Unmasked, so the decoder never writes to the input: the check is that the
  // pieces are consecutive slices of it, which costs O(1) per split.
  auto wire = concat(hex("82 7F 00 00 00 00 00 01 00 00"), binary_data(65536));
  std::span<uint8_t> all(wire);
  for (size_t split = 0; split <= wire.size(); ++split) {
    FrameDecoder decoder(Role::kClient, kNoLimit);
    const uint8_t* next = wire.data() + 10;  // where the next piece must begin
    int starts = 0, ends = 0;
    for (std::span<uint8_t> input : {all.first(split), all.subspan(split)}) {
      while (!input.empty()) {
        DecodeResult r = decoder.decode(input);
        input = input.subspan(r.consumed);
        ASSERT_NE(r.status, DecodeStatus::kError) << "split " << split;
        if (r.status == DecodeStatus::kNeedMore) break;
        if (!r.payload.empty()) {
          ASSERT_EQ(r.payload.data(), next) << "split " << split;
        }
        next += r.payload.size();
        starts += r.frame_start;
        ends += r.frame_end;
      }
    }
    ASSERT_EQ(next, wire.data() + wire.size()) << "split " << split << ": all 65536 bytes";
    ASSERT_EQ(starts, 1) << "split " << split;
    ASSERT_EQ(ends, 1) << "split " << split;
  }
}

TEST(Ch04_Frame, EveryRfcExampleOneByteAtATime) {
  for (const RfcExample& example : rfc_examples()) {
    EXPECT_EQ(describe(decode_bytewise(example.wire, example.receiver)), describe(example.frames))
        << "RFC 6455 §5.7 example \"" << example.name << "\" fed one byte per call";
  }
}

TEST(Ch04_Frame, AcceptsControlFrameOf125Bytes) {
  auto wire = concat(hex("89 7d"), binary_data(125));
  EXPECT_EQ(decode_error(wire, Role::kClient), Error::kNone)
      << "RFC 6455 §5.5: 125 bytes is the largest control payload, and it is allowed";
}

TEST(Ch04_Frame, AcceptsFrameOfExactlyMaxPayload) {
  auto wire = concat(hex("82 0a"), binary_data(10));
  EXPECT_EQ(decode_error(wire, Role::kClient, 10), Error::kNone)
      << "max_payload is the largest allowed length, not the first refused one";
}

TEST(Ch04_Frame, AcceptsLargestLegal64BitLength) {
  auto wire = hex("82 7f 7f ff ff ff ff ff ff ff");
  FrameDecoder decoder(Role::kClient, kNoLimit);
  DecodeResult r = decoder.decode(wire);
  ASSERT_EQ(r.status, DecodeStatus::kPayload) << to_string(r.error);
  EXPECT_EQ(decoder.header().payload_length, 0x7FFFFFFFFFFFFFFFull)
      << "RFC 6455 §5.2: frame-payload-length-63 goes up to %x7FFFFFFFFFFFFFFF";
}

TEST(Ch04_Frame, AtFrameBoundaryFollowsTheFrame) {
  auto wire = hex("82 03 01 02 03");
  FrameDecoder decoder(Role::kClient, kNoLimit);
  EXPECT_TRUE(decoder.at_frame_boundary());
  decoder.decode(std::span(wire).first(1));
  EXPECT_FALSE(decoder.at_frame_boundary()) << "inside the header";
  decoder.decode(std::span(wire).subspan(1, 2));
  EXPECT_FALSE(decoder.at_frame_boundary()) << "inside the payload";
  decoder.decode(std::span(wire).subspan(3));
  EXPECT_TRUE(decoder.at_frame_boundary()) << "the frame ended";
}

TEST(Ch04_Frame, SetMaxPayloadAppliesToTheNextHeader) {
  FrameDecoder decoder(Role::kClient, 100);
  decoder.set_max_payload(4);
  auto wire = hex("82 05 01 02 03 04 05");
  EXPECT_EQ(decoder.decode(wire).error, Error::kFrameTooLarge);
}

TEST(Ch04_Frame, DecoderIsAtMost48Bytes) {
  EXPECT_LE(sizeof(FrameDecoder), 48u)
      << "every connection embeds a FrameDecoder: chapter 16 counts the bytes of an idle one";
}

// ===== adversarial: fail fast, from the header ==========================================

TEST(Ch04_Frame, RejectsReservedBitsFromByteZero) {
  for (uint8_t rsv : {0x40, 0x20, 0x10}) {
    auto [error, at] =
        first_error_bytewise({static_cast<uint8_t>(0x81 | rsv), 0x80}, Role::kServer);
    EXPECT_EQ(error, Error::kFrameReservedBits)
        << "RFC 6455 §5.2: RSV bit " << to_hex(std::vector<uint8_t>{rsv})
        << " MUST be 0 unless an extension is negotiated";
    EXPECT_EQ(at, 1u) << "the RSV bits are in byte 0: no need to wait for byte 1";
  }
}

TEST(Ch04_Frame, RejectsUnknownOpcodesFromByteZero) {
  for (uint8_t opcode : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    auto [error, at] =
        first_error_bytewise({static_cast<uint8_t>(0x80 | opcode), 0x80}, Role::kServer);
    EXPECT_EQ(error, Error::kFrameUnknownOpcode)
        << "RFC 6455 §5.2: opcode " << int{opcode} << " is reserved: MUST _Fail_";
    EXPECT_EQ(at, 1u) << "the opcode is in byte 0";
  }
}

TEST(Ch04_Frame, RejectsFragmentedControlFrameFromByteZero) {
  for (uint8_t opcode : {0x8, 0x9, 0xA}) {
    auto [error, at] = first_error_bytewise({opcode, 0x80}, Role::kServer);  // FIN = 0
    EXPECT_EQ(error, Error::kFrameControlFragmented)
        << "RFC 6455 §5.5: control frames MUST NOT be fragmented (opcode " << int{opcode} << ")";
    EXPECT_EQ(at, 1u) << "FIN and the opcode are both in byte 0";
  }
}

TEST(Ch04_Frame, ServerRejectsUnmaskedFrame) {
  auto [error, at] = first_error_bytewise(hex("81 05 48 65 6c 6c 6f"), Role::kServer);
  EXPECT_EQ(error, Error::kFrameNotMasked)
      << "RFC 6455 §5.1: \"The server MUST close the connection upon receiving a frame that is "
         "not masked\"";
  EXPECT_EQ(at, 2u) << "the MASK bit is in byte 1";
}

TEST(Ch04_Frame, ClientRejectsMaskedFrame) {
  auto [error, at] = first_error_bytewise(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), Role::kClient);
  EXPECT_EQ(error, Error::kFrameMasked)
      << "RFC 6455 §5.1: \"A client MUST close a connection if it detects a masked frame\"";
  EXPECT_EQ(at, 2u) << "the MASK bit is in byte 1";
}

TEST(Ch04_Frame, RejectsControlFrameOver125FromByteOne) {
  for (uint8_t length : {126, 127}) {  // 126/127: an extended length follows, so over 125
    auto [error, at] = first_error_bytewise({0x89, length, 0x00, 0x7e}, Role::kClient);
    EXPECT_EQ(error, Error::kFrameControlTooLong)
        << "RFC 6455 §5.5: \"All control frames MUST have a payload length of 125 bytes or less\"";
    EXPECT_EQ(at, 2u) << "a control frame with an extended length is too long already";
  }
}

TEST(Ch04_Frame, RejectsLengthTopBitFromByteTwo) {
  auto [error, at] = first_error_bytewise(hex("82 7f 80 00 00 00 00 00 00 00"), Role::kClient);
  EXPECT_EQ(error, Error::kFrameLengthTopBit)
      << "RFC 6455 §5.2: the 64-bit length's \"most significant bit MUST be 0\"";
  EXPECT_EQ(at, 3u) << "the top bit is in the first length byte";
}

TEST(Ch04_Frame, RejectsOneTebibyteFrameFromItsHeader) {
  // 82 7f 00 00 01 00 00 00 00 00: a binary frame announcing 2^40 bytes.
  auto wire = hex("82 7f 00 00 01 00 00 00 00 00");
  FrameDecoder decoder(Role::kClient, 16 << 20);
  DecodeResult r = decoder.decode(wire);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(r.error, Error::kFrameTooLarge)
      << "a declared length over max_payload fails from the header alone (1009)";
  EXPECT_EQ(r.consumed, 10u) << "no byte of the 1 TiB payload is waited for or buffered";
}

TEST(Ch04_Frame, RejectsTooLargeAsSoonAsTheLengthIsComplete) {
  struct Case {
    const char* wire;
    Role receiver;
    uint64_t max;
    size_t at;  // bytes fed when the error must be reported
  };
  const Case cases[] = {
      {"82 0b", Role::kClient, 10, 2},                              // 7-bit length 11 > 10
      {"82 7e 01 00", Role::kClient, 255, 4},                       // 16-bit 256 > 255
      {"82 7f 00 00 00 00 00 01 00 00", Role::kClient, 65535, 10},  // 64-bit 65536 > 65535
      {"82 fe 01 00 aa bb cc dd", Role::kServer, 255, 4},           // masked: before the key
  };
  for (const Case& c : cases) {
    auto [error, at] = first_error_bytewise(hex(c.wire), c.receiver, c.max);
    EXPECT_EQ(error, Error::kFrameTooLarge) << c.wire;
    EXPECT_EQ(at, c.at) << c.wire << ": decided by the last length byte, not the mask key";
  }
}

// The decoder reads a header that arrived whole in one step, and collects one
// split across reads byte by byte: both must report the same error, with the
// byte that proves it as the last one consumed.
TEST(Ch04_Frame, WholeOrSplitHeaderFailsAtTheSameByte) {
  struct Case {
    const char* wire;  // a bad header, then a few more bytes
    Role receiver;
    uint64_t max;
    Error error;
    size_t at;  // bytes consumed when the error is reported
  };
  const Case cases[] = {
      {"c1 85 37 fa 21 3d 7f", Role::kServer, kNoLimit, Error::kFrameReservedBits, 1},
      {"83 85 37 fa 21 3d 7f", Role::kServer, kNoLimit, Error::kFrameUnknownOpcode, 1},
      {"09 80 37 fa 21 3d 7f", Role::kServer, kNoLimit, Error::kFrameControlFragmented, 1},
      {"81 05 48 65 6c 6c 6f", Role::kServer, kNoLimit, Error::kFrameNotMasked, 2},
      {"81 85 37 fa 21 3d 7f", Role::kClient, kNoLimit, Error::kFrameMasked, 2},
      {"89 fe 00 7e 37 fa 21 3d 7f", Role::kServer, kNoLimit, Error::kFrameControlTooLong, 2},
      {"82 ff 80 00 00 00 00 00 00 00 37 fa 21 3d 7f", Role::kServer, kNoLimit,
       Error::kFrameLengthTopBit, 3},
      {"82 8b 37 fa 21 3d 7f", Role::kServer, 10, Error::kFrameTooLarge, 2},
      {"82 fe 01 00 37 fa 21 3d 7f", Role::kServer, 255, Error::kFrameTooLarge, 4},
      {"82 ff 00 00 00 00 00 01 00 00 37 fa 21 3d 7f", Role::kServer, 65535, Error::kFrameTooLarge,
       10},
  };
  for (const Case& c : cases) {
    const std::vector<uint8_t> wire = hex(c.wire);
    for (size_t split = 0; split < wire.size(); ++split) {  // 0: the whole header in one read
      std::vector<uint8_t> copy = wire;
      std::span<uint8_t> all(copy);
      FrameDecoder decoder(c.receiver, c.max);
      DecodeResult r = decoder.decode(all.first(split));
      size_t consumed = r.consumed;
      if (r.status != DecodeStatus::kError) {
        r = decoder.decode(all.subspan(split));
        consumed += r.consumed;
      }
      EXPECT_EQ(r.error, c.error) << c.wire << ", split at " << split;
      EXPECT_EQ(consumed, c.at) << c.wire << ", split at " << split
                                << ": the byte that proves the error is the last one consumed";
    }
  }
}

TEST(Ch04_Frame, StaysFailedAfterAnError) {
  FrameDecoder decoder(Role::kServer, kNoLimit);
  auto bad = hex("81 05");  // unmasked, to a server
  ASSERT_EQ(decoder.decode(bad).error, Error::kFrameNotMasked);
  auto good = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  DecodeResult r = decoder.decode(good);
  EXPECT_EQ(r.status, DecodeStatus::kError)
      << "RFC 6455 §7.1.7: \"An endpoint MUST NOT continue to attempt to process data\"";
  EXPECT_EQ(r.error, Error::kFrameNotMasked);
  EXPECT_EQ(r.consumed, 0u);
}

// ===== masking: the fast version against the reference ====================================

TEST(Ch04_Frame, MaskMatchesRfcExample) {
  auto data = bytes("Hello");
  apply_mask(data, kRfcKey);
  EXPECT_EQ(to_hex(data), "7f 9f 4d 51 58") << "RFC 6455 §5.7: \"Hello\" masked with 37 fa 21 3d";
}

TEST(Ch04_Frame, MaskingTwiceRestores) {
  auto data = binary_data(100);
  apply_mask(data, kRfcKey, 3);
  apply_mask(data, kRfcKey, 3);
  EXPECT_EQ(data, binary_data(100)) << "RFC 6455 §5.3: the same algorithm masks and unmasks";
}

TEST(Ch04_Frame, MaskWordsMatchesReferenceForEveryLengthAndOffset) {
  const MaskKey key = {0x01, 0x23, 0x45, 0x67};  // distinct bytes: a wrong phase shows
  for (size_t length = 0; length <= 100; ++length) {
    for (uint64_t offset = 0; offset <= 7; ++offset) {
      auto fast = binary_data(length);
      auto reference = binary_data(length);
      apply_mask(fast, key, offset);
      apply_mask_reference(reference, key, offset);
      ASSERT_EQ(to_hex(fast), to_hex(reference)) << "length " << length << ", offset " << offset;
    }
  }
}

TEST(Ch04_Frame, MaskWordsMatchesReferenceAtUnalignedStarts) {
  const MaskKey key = {0x01, 0x23, 0x45, 0x67};
  auto fast_storage = binary_data(128);
  auto reference_storage = binary_data(128);
  for (size_t start = 0; start < 8; ++start) {  // every alignment of data()
    for (size_t length : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100}) {
      for (uint64_t offset : {0ull, 1ull, 2ull, 3ull, (1ull << 40) + 1}) {
        std::span<uint8_t> fast(fast_storage.data() + start, length);
        std::span<uint8_t> reference(reference_storage.data() + start, length);
        apply_mask(fast, key, offset);
        apply_mask_reference(reference, key, offset);
        ASSERT_EQ(fast_storage, reference_storage)
            << "start " << start << ", length " << length << ", offset " << offset
            << ": bytes outside the span must not change either";
      }
    }
  }
}

TEST(Ch04_Frame, MaskInPiecesEqualsMaskWhole) {
  auto whole = binary_data(50);
  apply_mask_reference(whole, kRfcKey);
  for (size_t split = 0; split <= 50; ++split) {
    auto pieces = binary_data(50);
    apply_mask(std::span(pieces).first(split), kRfcKey, 0);
    apply_mask(std::span(pieces).subspan(split), kRfcKey, split);
    ASSERT_EQ(pieces, whole) << "split at " << split << ": the offset continues the key phase";
  }
}

TEST(Ch04_Frame, AppendFrameMasksWhileCopying) {
  const MaskKey key = {0xde, 0xad, 0xbe, 0xef};
  for (size_t length : {0, 1, 5, 125, 126, 1000}) {
    auto payload = binary_data(length);
    auto expected_body = payload;
    apply_mask_reference(expected_body, key);
    auto wire = encode(Opcode::kBinary, true, payload, &key);
    FrameHeader header = make_header(true, Opcode::kBinary, length, true);
    const size_t header_size = frame_header_size(header);
    ASSERT_EQ(wire.size(), header_size + length);
    EXPECT_EQ(to_hex(std::span(wire).subspan(header_size)), to_hex(expected_body))
        << "length " << length << ": RFC 6455 §5.3 masking, as the reference does it";
    EXPECT_EQ(payload, binary_data(length)) << "the caller's payload is not modified";
  }
}

TEST(Ch04_Frame, AppendFrameRefusesToPassBufferMaximum) {
  Buffer out(10);
  EXPECT_FALSE(append_frame(out, Opcode::kBinary, true, binary_data(9)))
      << "2 header bytes + 9 payload bytes do not fit in 10";
  EXPECT_TRUE(out.empty()) << "nothing is appended when the frame does not fit";
  EXPECT_TRUE(append_frame(out, Opcode::kBinary, true, binary_data(8)));
  EXPECT_EQ(out.size(), 10u);
}

}  // namespace
}  // namespace ws
