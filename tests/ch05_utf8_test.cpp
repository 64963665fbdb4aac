// Chapter 05: UTF-8 validation (RFC 3629 §4, Unicode Table 3-7), as RFC 6455
// §8.1 requires of text messages. Cases follow Autobahn's section 6.
// Run: make test CH=05   or   ./build/tests/ch05_utf8_test --gtest_filter='Ch05_Utf8.*'
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "openpipe/protocol/utf8.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::bytes;
using test::hex;
using test::to_hex;

// Where the fast validator fails when fed one byte per call: the index of the
// byte whose feed() returned false, or size() if none did.
size_t fast_first_invalid_bytewise(std::span<const uint8_t> data) {
  Utf8Validator validator;
  for (size_t i = 0; i < data.size(); ++i) {
    if (!validator.feed(data.subspan(i, 1))) return i;
  }
  return data.size();
}

// Where the fast validator fails when fed the whole input at once, found from
// the outside: the shortest prefix that feed() rejects ends at that byte.
// (Checked at two prefixes only: the reference's answer and the one before.)
bool whole_feed_fails_exactly_at(std::span<const uint8_t> data, size_t position) {
  Utf8Validator before, at;
  const bool prefix_ok = before.feed(data.first(position));
  if (position == data.size()) return prefix_ok;
  return prefix_ok && !at.feed(data.first(position + 1));
}

// The whole answer: valid and complete.
bool valid_fed_in_two(std::span<const uint8_t> data, size_t split) {
  Utf8Validator validator;
  validator.feed(data.first(split));
  validator.feed(data.subspan(split));
  return validator.complete();
}

// A plain UTF-8 encoder (RFC 3629 §3), with no checks: it also encodes
// surrogates, which is how the tests build them.
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

// ---- the cases ----------------------------------------------------------------------

struct Case {
  const char* name;
  const char* wire;  // hex
  size_t first_bad;  // index of the first invalid byte; kTruncated if only cut short
};
constexpr size_t kTruncated = SIZE_MAX;
constexpr size_t kValid = SIZE_MAX - 1;

const Case kCases[] = {
    // valid (Autobahn 6.2-6.3, 6.5, 6.7)
    {"empty", "", kValid},
    {"ascii", "48 65 6c 6c 6f", kValid},
    {"kosme (Greek 'world')", "ce ba e1 bd b9 cf 83 ce bc ce b5", kValid},
    {"U+0000", "00", kValid},
    {"U+007F (last 1-byte)", "7f", kValid},
    {"U+0080 (first 2-byte)", "c2 80", kValid},
    {"U+07FF (last 2-byte)", "df bf", kValid},
    {"U+0800 (first 3-byte)", "e0 a0 80", kValid},
    {"U+D7FF (before the surrogates)", "ed 9f bf", kValid},
    {"U+E000 (after the surrogates)", "ee 80 80", kValid},
    {"U+FFFD", "ef bf bd", kValid},
    {"U+FFFF (last 3-byte)", "ef bf bf", kValid},
    {"U+10000 (first 4-byte)", "f0 90 80 80", kValid},
    {"U+10FFFF (last code point)", "f4 8f bf bf", kValid},
    // above U+10FFFF (Autobahn 6.6, 6.8)
    {"U+110000", "f4 90 80 80", 1},
    {"F5 lead", "f5 80 80 80", 0},
    {"U+1FFFFF as 4 bytes", "f7 bf bf bf", 0},
    // 5- and 6-byte forms of the old RFC 2279 (Autobahn 6.3.2, 6.4.x)
    {"5-byte form", "f8 88 80 80 80", 0},
    {"6-byte form", "fc 84 80 80 80 80", 0},
    {"FE", "fe", 0},
    {"FF", "ff", 0},
    {"FE FE FF FF", "fe fe ff ff", 0},
    // stray continuation bytes (Autobahn 6.9-6.11)
    {"first continuation byte 80", "80", 0},
    {"last continuation byte BF", "bf", 0},
    {"two continuation bytes", "80 bf", 0},
    {"continuation after ASCII", "61 62 80", 2},
    {"continuation after a complete character", "c2 80 80", 2},
    {"continuation after 4-byte character", "f0 90 80 80 80", 4},
    // lonely start bytes followed by a space (Autobahn 6.12)
    {"C2 then space", "c2 20", 1},
    {"E1 then space", "e1 20", 1},
    {"F1 then space", "f1 20", 1},
    {"E1 80 then space", "e1 80 20", 2},
    {"F1 80 80 then space", "f1 80 80 20", 3},
    // overlong forms of '/' U+002F (Autobahn 6.16)
    {"overlong '/' in 2 bytes", "c0 af", 0},
    {"overlong '/' in 3 bytes", "e0 80 af", 1},
    {"overlong '/' in 4 bytes", "f0 80 80 af", 1},
    {"overlong '/' in 5 bytes", "f8 80 80 80 af", 0},
    {"overlong '/' in 6 bytes", "fc 80 80 80 80 af", 0},
    // maximal overlongs (Autobahn 6.17)
    {"maximal overlong 2-byte (U+007F)", "c1 bf", 0},
    {"maximal overlong 3-byte (U+07FF)", "e0 9f bf", 1},
    {"maximal overlong 4-byte (U+FFFF)", "f0 8f bf bf", 1},
    {"maximal overlong 5-byte", "f8 87 bf bf bf", 0},
    {"maximal overlong 6-byte", "fc 83 bf bf bf bf", 0},
    // overlong NUL (Autobahn 6.18)
    {"overlong NUL in 2 bytes", "c0 80", 0},
    {"overlong NUL in 3 bytes", "e0 80 80", 1},
    {"overlong NUL in 4 bytes", "f0 80 80 80", 1},
    // single surrogates (Autobahn 6.19)
    {"U+D800", "ed a0 80", 1},
    {"U+DB7F", "ed ad bf", 1},
    {"U+DB80", "ed ae 80", 1},
    {"U+DBFF", "ed af bf", 1},
    {"U+DC00", "ed b0 80", 1},
    {"U+DF80", "ed be 80", 1},
    {"U+DFFF", "ed bf bf", 1},
    // paired surrogates (Autobahn 6.20): still invalid in UTF-8 (CESU-8 is not UTF-8)
    {"U+D800 U+DC00", "ed a0 80 ed b0 80", 1},
    {"U+D800 U+DFFF", "ed a0 80 ed bf bf", 1},
    {"U+DBFF U+DC00", "ed af bf ed b0 80", 1},
    {"U+DBFF U+DFFF", "ed af bf ed bf bf", 1},
    // Autobahn 6.4: fail fast in the middle of a message
    {"kosme then U+D800 then text", "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
     12},
    // truncated sequences: valid prefixes, incomplete (Autobahn 6.13-6.15)
    {"C2 alone", "c2", kTruncated},
    {"E0 A0 (one byte missing)", "e0 a0", kTruncated},
    {"E1 alone", "e1", kTruncated},
    {"F0 90 80 (one byte missing)", "f0 90 80", kTruncated},
    {"F4 8F BF (one byte missing)", "f4 8f bf", kTruncated},
    {"kosme with its last byte cut", "ce ba e1 bd b9 cf 83 ce bc ce", kTruncated},
};

bool expected_valid(const Case& c) {
  return c.first_bad == kValid;
}

size_t expected_first_bad(const Case& c, size_t size) {
  return c.first_bad == kValid || c.first_bad == kTruncated ? size : c.first_bad;
}

// ===== basic ===========================================================================

TEST(Ch05_Utf8, AcceptsAscii) {
  EXPECT_TRUE(is_valid_utf8(std::string_view("Hello, world")));
}

TEST(Ch05_Utf8, AcceptsKosme) {
  EXPECT_TRUE(is_valid_utf8(std::string_view("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")))
      << "\"κόσμε\": 2-byte and 3-byte characters (Autobahn 6.2.1)";
}

TEST(Ch05_Utf8, AcceptsBoundaryCodePoints) {
  for (const char* wire :
       {"00", "7f", "c2 80", "df bf", "e0 a0 80", "ef bf bf", "f0 90 80 80", "f4 8f bf bf"}) {
    EXPECT_TRUE(is_valid_utf8(hex(wire))) << wire << ": Unicode Table 3-7, first/last of a row";
  }
}

TEST(Ch05_Utf8, FastAndReferenceAgreeOnEveryCase) {
  for (const Case& c : kCases) {
    auto data = hex(c.wire);
    EXPECT_EQ(is_valid_utf8_reference(data), expected_valid(c)) << "reference: " << c.name;
    EXPECT_EQ(is_valid_utf8(data), expected_valid(c)) << "fast: " << c.name;
  }
}

TEST(Ch05_Utf8, ReferenceFindsTheFirstInvalidByte) {
  for (const Case& c : kCases) {
    auto data = hex(c.wire);
    EXPECT_EQ(first_invalid_utf8_byte_reference(data), expected_first_bad(c, data.size()))
        << c.name << " (" << c.wire << ")";
  }
}

// ===== edge ============================================================================

TEST(Ch05_Utf8, TruncatedSequenceIsAValidPrefix) {
  Utf8Validator validator;
  EXPECT_TRUE(validator.feed(hex("e0 a0")))
      << "E0 A0 can still become U+0800..U+0FFF: not invalid yet";
  EXPECT_FALSE(validator.complete()) << "but a message may not end here";
  EXPECT_FALSE(validator.failed());
  EXPECT_TRUE(validator.feed(hex("80")));
  EXPECT_TRUE(validator.complete()) << "E0 A0 80 is U+0800";
}

TEST(Ch05_Utf8, EveryCaseFedOneByteAtATimeFailsAtTheSameByte) {
  for (const Case& c : kCases) {
    auto data = hex(c.wire);
    EXPECT_EQ(fast_first_invalid_bytewise(data), expected_first_bad(c, data.size()))
        << c.name << ": feed() returns false at the first invalid byte";
  }
}

TEST(Ch05_Utf8, EveryCaseSplitAtEveryByteGivesTheSameAnswer) {
  for (const Case& c : kCases) {
    auto data = hex(c.wire);
    for (size_t split = 0; split <= data.size(); ++split) {
      EXPECT_EQ(valid_fed_in_two(data, split), expected_valid(c))
          << c.name << " split at " << split << ": the state carries across feed() calls";
    }
  }
}

TEST(Ch05_Utf8, FailsAtA0InsideAMessage) {
  // Autobahn 6.4.1: "κόσμε" then ED A0 80 (U+D800) then "edited", fed in pieces.
  Utf8Validator validator;
  EXPECT_TRUE(validator.feed(hex("ce ba e1 bd b9 cf 83 ce bc ce b5")));
  EXPECT_TRUE(validator.feed(hex("ed"))) << "ED may still start U+D000..U+D7FF";
  EXPECT_FALSE(validator.feed(hex("a0 80 65 64 69 74 65 64")))
      << "RFC 6455 §8.1: fail at the byte A0, without waiting for the end of the message";
  EXPECT_TRUE(validator.failed());
}

TEST(Ch05_Utf8, FailsAt90AfterF4) {
  Utf8Validator validator;
  EXPECT_TRUE(validator.feed(hex("f4")));
  EXPECT_FALSE(validator.feed(hex("90"))) << "F4 90 would be U+110000 or more: invalid at 90";
}

TEST(Ch05_Utf8, StaysFailedUntilReset) {
  Utf8Validator validator;
  EXPECT_FALSE(validator.feed(hex("ff")));
  EXPECT_FALSE(validator.feed(std::string_view("plain ascii")))
      << "a failed stream does not become valid again";
  EXPECT_FALSE(validator.complete());
  validator.reset();
  EXPECT_TRUE(validator.feed(std::string_view("plain ascii")));
  EXPECT_TRUE(validator.complete()) << "reset() starts a new message";
}

TEST(Ch05_Utf8, ResetDropsAnUnfinishedSequence) {
  Utf8Validator validator;
  validator.feed(hex("e1 80"));
  validator.reset();
  EXPECT_FALSE(validator.feed(hex("80")))
      << "after reset() a continuation byte has no sequence to continue";
}

TEST(Ch05_Utf8, AsciiFastPathStopsAtEveryPosition) {
  // An ASCII run of every length, then one bad byte: the 8-byte steps must
  // not skip over it, wherever it falls within a word.
  for (size_t run = 0; run < 40; ++run) {
    std::vector<uint8_t> data(run, 'a');
    data.push_back(0xff);
    data.insert(data.end(), 20, 'b');
    EXPECT_EQ(fast_first_invalid_bytewise(data), run);
    EXPECT_TRUE(whole_feed_fails_exactly_at(data, run)) << "ASCII run of " << run;
    EXPECT_FALSE(is_valid_utf8(data)) << "ASCII run of " << run;
  }
}

TEST(Ch05_Utf8, AsciiFastPathResumesAfterMultiByteCharacters) {
  for (size_t run = 0; run < 20; ++run) {
    std::vector<uint8_t> data;
    for (int i = 0; i < 3; ++i) {
      data.insert(data.end(), run, 'x');
      for (uint8_t b : hex("e2 82 ac")) data.push_back(b);  // €
    }
    EXPECT_TRUE(is_valid_utf8(data)) << "runs of " << run << " ASCII bytes between euro signs";
    data.push_back(0xe2);
    EXPECT_FALSE(is_valid_utf8(data)) << "ends inside a character";
  }
}

// ===== adversarial: every code point, exhaustive short inputs, random inputs ====================

TEST(Ch05_Utf8, EveryScalarValueIsValidAndEverySurrogateIsNot) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const auto data = encode(cp);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (is_valid_utf8(data) == surrogate) {
      ADD_FAILURE() << "U+" << std::hex << cp << " encoded as " << to_hex(data)
                    << (surrogate ? ": surrogates are not characters (RFC 3629 §3)"
                                  : ": every scalar value must be accepted");
      return;
    }
  }
}

TEST(Ch05_Utf8, FastMatchesReferenceOnEveryTwoAndThreeByteInput) {
  // All 65536 two-byte inputs, and every three-byte input that starts with a
  // lead byte (C0..FF): about four million, each fed whole and byte by byte.
  std::vector<uint8_t> data(3);
  size_t mismatches = 0;
  for (uint32_t a = 0; a < 256; ++a) {
    for (uint32_t b = 0; b < 256; ++b) {
      data = {static_cast<uint8_t>(a), static_cast<uint8_t>(b)};
      mismatches += is_valid_utf8(data) != is_valid_utf8_reference(data);
      mismatches += fast_first_invalid_bytewise(data) != first_invalid_utf8_byte_reference(data);
      if (a < 0xC0) continue;
      for (uint32_t c = 0; c < 256; ++c) {
        data = {static_cast<uint8_t>(a), static_cast<uint8_t>(b), static_cast<uint8_t>(c)};
        if (is_valid_utf8(data) != is_valid_utf8_reference(data) ||
            fast_first_invalid_bytewise(data) != first_invalid_utf8_byte_reference(data)) {
          if (++mismatches < 10) ADD_FAILURE() << "fast and reference disagree on " << to_hex(data);
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

// Bytes that sit on the edges of Table 3-7's ranges, to make random inputs interesting.
const uint8_t kEdgeBytes[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                              0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
                              0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff};

// The checks every differential test makes on one input.
void expect_fast_matches_reference(std::span<const uint8_t> data, std::mt19937& rng) {
  const size_t reference = first_invalid_utf8_byte_reference(data);
  ASSERT_EQ(is_valid_utf8(data), is_valid_utf8_reference(data)) << to_hex(data);
  ASSERT_EQ(fast_first_invalid_bytewise(data), reference) << to_hex(data);
  ASSERT_TRUE(whole_feed_fails_exactly_at(data, reference))
      << to_hex(data) << ": fed whole, feed() must fail at byte " << reference;
  const size_t split = data.empty() ? 0 : rng() % (data.size() + 1);
  ASSERT_EQ(valid_fed_in_two(data, split), is_valid_utf8_reference(data))
      << to_hex(data) << " split at " << split;
}

TEST(Ch05_Utf8, FastMatchesReferenceOnRandomBytes) {
  std::mt19937 rng(6455);  // fixed seed: the same inputs on every run
  std::vector<uint8_t> data;
  for (int round = 0; round < 100000; ++round) {
    data.resize(rng() % 40);
    for (uint8_t& b : data) {
      b = rng() % 2 ? kEdgeBytes[rng() % sizeof kEdgeBytes] : static_cast<uint8_t>(rng());
    }
    expect_fast_matches_reference(data, rng);
    if (HasFatalFailure()) return;
  }
}

TEST(Ch05_Utf8, FastMatchesReferenceOnMutatedText) {
  // Valid text (random code points, long ASCII runs among them), then one
  // small mutation: a byte replaced, removed or inserted, or the end cut off.
  std::mt19937 rng(3629);
  std::vector<uint8_t> data;
  for (int round = 0; round < 20000; ++round) {
    data.clear();
    const int characters = rng() % 12;
    for (int i = 0; i < characters; ++i) {
      if (rng() % 3 == 0) {
        data.insert(data.end(), rng() % 20, 'a');
        continue;
      }
      uint32_t cp = rng() % 0x110000;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp -= 0x800;  // stay valid before the mutation
      for (uint8_t b : encode(cp)) data.push_back(b);
    }
    ASSERT_TRUE(is_valid_utf8_reference(data)) << to_hex(data);
    if (!data.empty()) {
      const size_t at = rng() % data.size();
      const uint8_t edge = kEdgeBytes[rng() % sizeof kEdgeBytes];
      switch (rng() % 4) {
        case 0: data[at] = edge; break;
        case 1: data.erase(data.begin() + at); break;
        case 2: data.insert(data.begin() + at, edge); break;
        case 3: data.resize(at); break;
      }
    }
    expect_fast_matches_reference(data, rng);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace ws
