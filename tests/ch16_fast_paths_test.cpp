// Chapter 16: the UTF-8 block check (16 bytes at a time, src/protocol/utf8.cpp,
// regions utf8.simd-tables and utf8.simd-blocks) against the simple reference
// of chapter 05 (RFC 3629 §4, as RFC 6455 §8.1 requires). Chapter 05's tests
// mostly feed short inputs, which never reach the block check; these put every
// interesting byte sequence inside a block and across the boundary between two.
// Run: make test CH=16   or   ./build/tests/ch16_fast_paths_test
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "openpipe/protocol/utf8.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::to_hex;

constexpr size_t kBlock = 16;  // bytes per step of the block check

// A plain UTF-8 encoder (RFC 3629 §3) with no checks: it encodes surrogates too.
std::vector<uint8_t> encode(uint32_t cp) {
  if (cp < 0x80) return {static_cast<uint8_t>(cp)};
  if (cp < 0x800) {
    return {static_cast<uint8_t>(0xC0 | cp >> 6), static_cast<uint8_t>(0x80 | (cp & 0x3F))};
  }
  if (cp < 0x10000) {
    return {static_cast<uint8_t>(0xE0 | cp >> 12), static_cast<uint8_t>(0x80 | (cp >> 6 & 0x3F)),
            static_cast<uint8_t>(0x80 | (cp & 0x3F))};
  }
  return {static_cast<uint8_t>(0xF0 | cp >> 18), static_cast<uint8_t>(0x80 | (cp >> 12 & 0x3F)),
          static_cast<uint8_t>(0x80 | (cp >> 6 & 0x3F)), static_cast<uint8_t>(0x80 | (cp & 0x3F))};
}

// Three blocks of ASCII with `bytes` written at `position`.
std::vector<uint8_t> in_ascii(std::span<const uint8_t> bytes, size_t position) {
  std::vector<uint8_t> data(3 * kBlock, 'a');
  std::copy(bytes.begin(), bytes.end(), data.begin() + static_cast<long>(position));
  return data;
}

// Where feed() fails when given the whole input: the shortest rejected prefix.
bool whole_feed_fails_exactly_at(std::span<const uint8_t> data, size_t position) {
  Utf8Validator before, at;
  const bool prefix_ok = before.feed(data.first(position));
  if (position == data.size()) return prefix_ok;
  return prefix_ok && !at.feed(data.first(position + 1));
}

// ===== basic =================================================================================

TEST(Ch16_Utf8Blocks, LongMultilingualTextIsValidWholeAndInPieces) {
  constexpr std::string_view kParagraph =
      "English: hello. Ελληνικά: γειά σου κόσμε. Русский: привет. 中文: 你好。 Emoji: 👋🌍. ";
  std::vector<uint8_t> text;
  while (text.size() < 64 * 1024) text.insert(text.end(), kParagraph.begin(), kParagraph.end());
  EXPECT_TRUE(is_valid_utf8(text)) << "64 KiB of valid text: every block must check clean";
  // Fed in pieces of every size 1..40, characters are cut at every block position.
  for (size_t piece = 1; piece <= 40; ++piece) {
    Utf8Validator validator;
    for (size_t at = 0; at < text.size(); at += piece) {
      ASSERT_TRUE(validator.feed(std::span(text).subspan(at, std::min(piece, text.size() - at))))
          << "pieces of " << piece << " bytes, failed at offset " << at;
    }
    EXPECT_TRUE(validator.complete()) << "pieces of " << piece << " bytes";
  }
}

// ===== edge: every sequence at every place in a block ========================================

TEST(Ch16_Utf8Blocks, EveryTwoBytePairAtEveryPositionMatchesTheReference) {
  // Positions 0..32 put the pair at the start, the middle and the end of a
  // block, and across the boundaries between blocks 0|1 and 1|2.
  size_t mismatches = 0;
  for (size_t position = 0; position <= 2 * kBlock; ++position) {
    for (uint32_t a = 0; a < 256; ++a) {
      for (uint32_t b = 0; b < 256; ++b) {
        const uint8_t pair[] = {static_cast<uint8_t>(a), static_cast<uint8_t>(b)};
        const std::vector<uint8_t> data = in_ascii(pair, position);
        if (is_valid_utf8(data) != is_valid_utf8_reference(data) && ++mismatches < 10) {
          ADD_FAILURE() << "fast and reference disagree on " << to_hex(pair) << " at position "
                        << position << " (RFC 3629 §4)";
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(Ch16_Utf8Blocks, EveryCodePointAcrossTheBlockBoundaryIsValidExceptSurrogates) {
  // At 13, 14 and 15 a 4-byte character crosses from one block into the next.
  for (size_t position : {size_t{0}, size_t{13}, size_t{14}, size_t{15}}) {
    for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
      const std::vector<uint8_t> data = in_ascii(encode(cp), position);
      const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
      if (is_valid_utf8(data) == surrogate) {
        ADD_FAILURE() << "U+" << std::hex << cp << " at position " << std::dec << position
                      << (surrogate ? ": surrogates are not characters (RFC 3629 §3)"
                                    : ": every scalar value must be accepted");
        return;
      }
    }
  }
}

TEST(Ch16_Utf8Blocks, EveryThreeByteInputAcrossTheBlockBoundaryMatchesTheReference) {
  // Every lead byte C0..FF with every two following bytes, placed at 14 so
  // the sequence straddles the boundary. ASCII around it is neutral, so the
  // reference only needs the three bytes and the ASCII byte after them.
  size_t mismatches = 0;
  for (uint32_t a = 0xC0; a < 256; ++a) {
    for (uint32_t b = 0; b < 256; ++b) {
      for (uint32_t c = 0; c < 256; ++c) {
        const uint8_t bytes[] = {static_cast<uint8_t>(a), static_cast<uint8_t>(b),
                                 static_cast<uint8_t>(c), 'a'};
        const bool expected = is_valid_utf8_reference(bytes);
        if (is_valid_utf8(in_ascii(std::span(bytes).first(3), 14)) != expected &&
            ++mismatches < 10) {
          ADD_FAILURE() << "fast and reference disagree on " << to_hex(std::span(bytes).first(3))
                        << " across the block boundary";
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(Ch16_Utf8Blocks, FailsAtTheExactBadByteAfterCleanBlocks) {
  // Clean blocks are skipped; the block holding the bad byte is re-read by
  // the DFA, so feed() still fails at that byte and not at its block's start.
  for (size_t position = 0; position < 5 * kBlock; ++position) {
    std::vector<uint8_t> data(6 * kBlock, 'a');
    data[position] = 0xFF;
    EXPECT_TRUE(whole_feed_fails_exactly_at(data, position)) << "bad byte at " << position;
  }
}

// ===== adversarial: random long texts, mutated =================================================

TEST(Ch16_Utf8Blocks, MatchesReferenceOnLongMutatedText) {
  const uint8_t edge_bytes[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                                0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
  std::mt19937 rng(16);  // fixed seed: the same inputs on every run
  std::vector<uint8_t> data;
  for (int round = 0; round < 20000; ++round) {
    data.clear();
    const size_t length = rng() % 300;  // up to ~19 blocks
    while (data.size() < length) {
      const uint32_t limits[] = {0x80, 0x800, 0x10000, 0x110000};
      uint32_t cp = rng() % limits[rng() % 4];
      if (cp >= 0xD800 && cp <= 0xDFFF) cp -= 0x800;  // valid before the mutations
      for (uint8_t b : encode(cp)) data.push_back(b);
    }
    for (int mutation = rng() % 3; mutation > 0 && !data.empty(); --mutation) {
      const size_t at = rng() % data.size();
      const uint8_t edge = edge_bytes[rng() % sizeof edge_bytes];
      switch (rng() % 3) {
        case 0: data[at] = edge; break;
        case 1: data.erase(data.begin() + static_cast<long>(at)); break;
        default: data.insert(data.begin() + static_cast<long>(at), edge); break;
      }
    }
    const size_t reference = first_invalid_utf8_byte_reference(data);
    ASSERT_EQ(is_valid_utf8(data), is_valid_utf8_reference(data)) << to_hex(data);
    ASSERT_TRUE(whole_feed_fails_exactly_at(data, reference))
        << to_hex(data) << ": fed whole, feed() must fail at byte " << reference;
    const size_t split = data.empty() ? 0 : rng() % (data.size() + 1);
    Utf8Validator in_two;
    in_two.feed(std::span(data).first(split));
    in_two.feed(std::span(data).subspan(split));
    ASSERT_EQ(in_two.complete(), is_valid_utf8_reference(data))
        << to_hex(data) << " split at " << split;
  }
}

}  // namespace
}  // namespace ws
