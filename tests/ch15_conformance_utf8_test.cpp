// Chapter 15 — conformance, part 2: UTF-8 in text messages, Autobahn|Testsuite
// section 6. §5.6: "The "Payload data" is text data encoded as UTF-8";
// §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
// that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint
// MUST _Fail the WebSocket Connection_" (close code 1007, §7.4.1).
// Cases 6.5-6.23 are Markus Kuhn's UTF-8 decoder stress test, generated here
// exactly as Autobahn generates them (case6_x_x.py), with the verdicts
// written out by hand (not computed by our validator: one bug must not be
// able to hide itself). Beyond Autobahn, every case is also sent split at
// every byte into two fragments, and fail-fast is checked with frames cut short.
// Run: make test CH=15   or   ./build/tests/ch15_conformance_utf8_test --gtest_filter='*Case6_4*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "support/echo_environment.h"
#include "support/hex.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::close_handshake;
using test::describe_bytes;
using test::expect_close;
using test::expect_message;
using test::RawClient;
using test::TestServer;

constexpr uint8_t kContinuation = 0, kText = 1, kPing = 9;

uint16_t port() {
  return test::EchoServer::port();
}

// "ce ba" -> the two bytes, as a std::string (hex avoids C++'s greedy \x escapes).
std::string h(std::string_view hex_text) {
  std::vector<uint8_t> bytes = test::hex(hex_text);
  return {bytes.begin(), bytes.end()};
}

// A masked frame, with a new masking key each time (§5.3).
std::string frame(uint8_t opcode, std::string_view payload, bool fin = true) {
  return RawClient::encode(opcode, payload, fin, true, 0, test::varied_mask_key());
}

const std::string kKosme = h("ce ba e1 bd b9 cf 83 ce bc ce b5");  // "κόσμε", Kuhn's first line
const std::string kHelloUtf8 =
    "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!";

// What a text message must do: be echoed, or fail the connection with 1007.
void expect_verdict(RawClient& client, bool valid, std::string_view payload) {
  if (valid) {
    EXPECT_TRUE(expect_message(client, kText, payload)) << "valid UTF-8 is echoed unchanged";
    EXPECT_TRUE(close_handshake(client));
  } else {
    EXPECT_TRUE(expect_close(client, {1007}))
        << "RFC 6455 §8.1: invalid UTF-8 in a text message MUST fail the connection (1007)";
  }
}

// ===== 6.1 Valid UTF-8 with zero payload fragments ==================================

TEST(Ch15_Autobahn, Case6_1_1_EmptyText) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, ""));
  expect_verdict(client, true, "");
}

TEST(Ch15_Autobahn, Case6_1_2_ThreeEmptyFragments) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "", false) + frame(kContinuation, "", false) +
                  frame(kContinuation, "", true));
  expect_verdict(client, true, "");
}

TEST(Ch15_Autobahn, Case6_1_3_EmptyFragmentsAroundText) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "", false) + frame(kContinuation, "middle frame payload", false) +
                  frame(kContinuation, "", true));
  expect_verdict(client, true, "middle frame payload");
}

// ===== 6.2 Valid UTF-8 in one or many fragments ======================================

TEST(Ch15_Autobahn, Case6_2_1_ValidTextInOneFragment) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, kHelloUtf8));
  expect_verdict(client, true, kHelloUtf8);
}

TEST(Ch15_Autobahn, Case6_2_2_ValidTextInTwoFragmentsOnCodePointBoundary) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const size_t cut = std::string("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4").size();
  client.send_raw(frame(kText, kHelloUtf8.substr(0, cut), false) +
                  frame(kContinuation, kHelloUtf8.substr(cut), true));
  expect_verdict(client, true, kHelloUtf8);
}

// One frame per byte: every multi-byte character is split across frames.
std::string one_fragment_per_byte(std::string_view payload) {
  std::string out;
  for (size_t i = 0; i < payload.size(); ++i) {
    out += frame(i == 0 ? kText : kContinuation, payload.substr(i, 1), i + 1 == payload.size());
  }
  return out;
}

TEST(Ch15_Autobahn, Case6_2_3_ValidTextOneFragmentPerByte) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(one_fragment_per_byte(kHelloUtf8));
  expect_verdict(client, true, kHelloUtf8);
}

TEST(Ch15_Autobahn, Case6_2_4_KosmeOneFragmentPerByte) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(one_fragment_per_byte(kKosme));
  expect_verdict(client, true, kKosme);
}

// ===== 6.3 Invalid UTF-8 in one or many fragments =====================================

const std::string kInvalidKosme = kKosme + h("ed a0 80") + "edited";  // a surrogate in the middle

TEST(Ch15_Autobahn, Case6_3_1_InvalidTextInOneFragment) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, kInvalidKosme));
  expect_verdict(client, false, "");
}

TEST(Ch15_Autobahn, Case6_3_2_InvalidTextOneFragmentPerByte) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(one_fragment_per_byte(kInvalidKosme));
  expect_verdict(client, false, "");
}

// ===== 6.4 Fail fast ==================================================================
// The invalid byte must fail the connection when it arrives, not when the
// message (or even the frame) ends: we send up to the bad byte, then wait
// for the close WITHOUT sending the rest. Autobahn waits 1 s for it.

const std::string kFailFastPart1 = kKosme;            // valid
const std::string kFailFastPart2 = h("f4 90 80 80");  // 0x110000: invalid at the 0x90
const std::string kFailFastPart3 = "edited";          // valid

const char* const kFailFastHint =
    "RFC 6455 §8.1: fail as soon as the bytes are known to be invalid; the rest was never sent";

TEST(Ch15_Autobahn, Case6_4_1_InvalidSecondFragmentFailsFast) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, kFailFastPart1, false));
  client.send_frame(kPing, "first fragment taken");  // proves the valid part was accepted
  ASSERT_TRUE(test::expect_pong(client, "first fragment taken")) << "a valid fragment is no error";
  client.send_raw(frame(kContinuation, kFailFastPart2, false));
  EXPECT_TRUE(expect_close(client, {1007}, true, 1000ms)) << kFailFastHint;
}

TEST(Ch15_Autobahn, Case6_4_2_InvalidByteAloneInSecondFragmentFailsFast) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string payload = kFailFastPart1 + kFailFastPart2 + kFailFastPart3;
  client.send_raw(frame(kText, payload.substr(0, 12), false));  // ends with the lead byte f4
  client.send_frame(kPing, "first fragment taken");
  ASSERT_TRUE(test::expect_pong(client, "first fragment taken"))
      << "a fragment that ends inside a character is no error (§5.6: only the message must be "
         "valid)";
  client.send_raw(frame(kContinuation, payload.substr(12, 1), false));  // 0x90
  EXPECT_TRUE(expect_close(client, {1007}, true, 1000ms)) << kFailFastHint;
}

// 6.4.3/6.4.4: the same, but inside ONE frame: its header declares the whole
// payload, and only a prefix of it is sent.
TEST(Ch15_Autobahn, Case6_4_3_InvalidBytesInsideOneFrameFailFast) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string payload = kFailFastPart1 + kFailFastPart2 + kFailFastPart3;
  const std::string whole = frame(kText, payload);
  const size_t header = whole.size() - payload.size();
  client.send_raw(whole.substr(0, header + kFailFastPart1.size()));
  std::this_thread::sleep_for(20ms);  // let the valid prefix arrive alone
  client.send_raw(whole.substr(header + kFailFastPart1.size(), kFailFastPart2.size()));
  EXPECT_TRUE(expect_close(client, {1007}, true, 1000ms))
      << kFailFastHint << " (the frame is not complete: 6 payload bytes are missing)";
}

TEST(Ch15_Autobahn, Case6_4_4_InvalidByteInsideOneFrameFailsFast) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string payload = kFailFastPart1 + kFailFastPart2 + kFailFastPart3;
  const std::string whole = frame(kText, payload);
  const size_t header = whole.size() - payload.size();
  client.send_raw(whole.substr(0, header + 12));
  std::this_thread::sleep_for(20ms);
  client.send_raw(whole.substr(header + 12, 1));  // the 0x90
  EXPECT_TRUE(expect_close(client, {1007}, true, 1000ms))
      << kFailFastHint << " (the frame is not complete: 8 payload bytes are missing)";
}

// Beyond Autobahn: a 1 MiB text frame whose 20th byte is invalid. Only the
// first 100 bytes are sent; the close must come anyway.
TEST(Ch15_Autobahn, Case6_4_X_InvalidByteEarlyInAHugeFrameFailsFast) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  std::string payload(1 << 20, 'a');
  payload[20] = '\xff';
  client.send_raw(frame(kText, payload).substr(0, 100));
  EXPECT_TRUE(expect_close(client, {1007}, true, 1000ms))
      << kFailFastHint << " (a server that waits for the whole frame waits for 1 MiB)";
}

// ===== 6.5-6.23 Markus Kuhn's UTF-8 decoder stress test ====================================

struct Utf8Case {
  std::string name;  // "Case6_12_3_UnexpectedContinuationBytes"
  bool valid;
  std::string bytes;
};

void PrintTo(const Utf8Case& c, std::ostream* os) {
  *os << c.name;
}

std::string utf8_case_name(const ::testing::TestParamInfo<Utf8Case>& info) {
  return info.param.name + (info.param.valid ? "_Echoed" : "_Fails1007");
}

struct Utf8Group {
  const char* name;
  std::vector<std::pair<bool, std::string>> cases;
};

// The groups of Autobahn's createUtf8TestSequences(), in its order: group k
// is case 6.(k+5), and its cases are numbered from 1.
std::vector<Utf8Group> kuhn_groups() {
  const bool V = true, I = false;
  std::vector<Utf8Group> groups;
  // 6.5: Kuhn §1, some correct UTF-8 text.
  groups.push_back({"SomeValidUtf8",
                    {{V, "hello$world"},
                     {V, "hello" + h("c2 a2") + "world"},
                     {V, "hello" + h("e2 82 ac") + "world"},
                     {V, "hello" + h("f0 a4 ad a2") + "world"},
                     {V, kKosme}}});
  // 6.6: every prefix of "κόσμε": valid exactly when it ends on a character.
  Utf8Group prefixes{"PrefixesOfValidUtf8", {}};
  const bool complete_after[11] = {I, V, I, I, V, I, V, I, V, I, V};
  for (size_t n = 1; n <= kKosme.size(); ++n) {
    prefixes.cases.push_back({complete_after[n - 1], kKosme.substr(0, n)});
  }
  groups.push_back(prefixes);
  // 6.7: Kuhn §2.1, the first sequence of each length.
  groups.push_back(
      {"FirstPossibleSequence",
       {{V, std::string(1, '\0')}, {V, h("c2 80")}, {V, h("e0 a0 80")}, {V, h("f0 90 80 80")}}});
  // 6.8: the first 5- and 6-byte sequences: no longer UTF-8 (RFC 3629 §3).
  groups.push_back(
      {"FirstPossibleLength5And6", {{I, h("f8 88 80 80 80")}, {I, h("fc 84 80 80 80 80")}}});
  // 6.9: Kuhn §2.2, the last sequence of each length.
  groups.push_back({"LastPossibleSequence",
                    {{V, h("7f")}, {V, h("df bf")}, {V, h("ef bf bf")}, {V, h("f4 8f bf bf")}}});
  // 6.10: beyond U+10FFFF.
  groups.push_back(
      {"LastPossibleLength4To6",
       {{I, h("f7 bf bf bf")}, {I, h("fb bf bf bf bf")}, {I, h("fd bf bf bf bf bf")}}});
  // 6.11: Kuhn §2.3, other boundary conditions.
  groups.push_back({"OtherBoundaryConditions",
                    {{V, h("ed 9f bf")},
                     {V, h("ee 80 80")},
                     {V, h("ef bf bd")},
                     {V, h("f4 8f bf bf")},
                     {I, h("f4 90 80 80")}}});
  // 6.12: Kuhn §3.1, unexpected continuation bytes.
  std::string all_continuations;
  for (int b = 0x80; b < 0xbf; ++b) all_continuations += static_cast<char>(b);
  groups.push_back({"UnexpectedContinuationBytes",
                    {{I, h("80")},
                     {I, h("bf")},
                     {I, h("80 bf")},
                     {I, h("80 bf 80")},
                     {I, h("80 bf 80 bf")},
                     {I, h("80 bf 80 bf 80")},
                     {I, h("80 bf 80 bf 80 bf")},
                     {I, all_continuations}}});
  // 6.13: Kuhn §3.2, lonely start bytes, each followed by a space.
  Utf8Group lonely{"LonelyStartBytes", {}};
  for (auto [first, last] :
       {std::pair{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}}) {
    std::string s;
    for (int b = first; b < last; ++b) s += std::string(1, static_cast<char>(b)) + " ";
    lonely.cases.push_back({I, s});
  }
  groups.push_back(lonely);
  // 6.14: Kuhn §3.3, sequences with the last continuation byte missing.
  const std::vector<std::string> cut_short = {
      h("c0"), h("e0 80"), h("f0 80 80"), h("f8 80 80 80"), h("fc 80 80 80 80"),
      h("df"), h("ef bf"), h("f7 bf bf"), h("fb bf bf bf"), h("fd bf bf bf bf")};
  Utf8Group missing{"LastContinuationByteMissing", {}};
  std::string concatenated;
  for (const std::string& s : cut_short) {
    missing.cases.push_back({I, s});
    concatenated += s;
  }
  groups.push_back(missing);
  // 6.15: Kuhn §3.4, all of them one after the other.
  groups.push_back({"ConcatenatedIncompleteSequences", {{I, concatenated}}});
  // 6.16: Kuhn §3.5, bytes that can never appear.
  groups.push_back({"ImpossibleBytes", {{I, h("fe")}, {I, h("ff")}, {I, h("fe fe ff ff")}}});
  // 6.17: Kuhn §4.1, '/' in 2 to 6 bytes (overlong).
  groups.push_back({"OverlongAscii",
                    {{I, h("c0 af")},
                     {I, h("e0 80 af")},
                     {I, h("f0 80 80 af")},
                     {I, h("f8 80 80 80 af")},
                     {I, h("fc 80 80 80 80 af")}}});
  // 6.18: Kuhn §4.2, the largest overlong sequences.
  groups.push_back({"MaximumOverlong",
                    {{I, h("c1 bf")},
                     {I, h("e0 9f bf")},
                     {I, h("f0 8f bf bf")},
                     {I, h("f8 87 bf bf bf")},
                     {I, h("fc 83 bf bf bf bf")}}});
  // 6.19: Kuhn §4.3, overlong NUL.
  groups.push_back({"OverlongNul",
                    {{I, h("c0 80")},
                     {I, h("e0 80 80")},
                     {I, h("f0 80 80 80")},
                     {I, h("f8 80 80 80 80")},
                     {I, h("fc 80 80 80 80 80")}}});
  // 6.20: Kuhn §5.1, single UTF-16 surrogates (RFC 3629 §3: not UTF-8).
  groups.push_back({"SingleSurrogates",
                    {{I, h("ed a0 80")},
                     {I, h("ed ad bf")},
                     {I, h("ed ae 80")},
                     {I, h("ed af bf")},
                     {I, h("ed b0 80")},
                     {I, h("ed be 80")},
                     {I, h("ed bf bf")}}});
  // 6.21: Kuhn §5.2, paired surrogates (CESU-8): still not UTF-8.
  groups.push_back({"PairedSurrogates",
                    {{I, h("ed a0 80 ed b0 80")},
                     {I, h("ed a0 80 ed bf bf")},
                     {I, h("ed ad bf ed b0 80")},
                     {I, h("ed ad bf ed bf bf")},
                     {I, h("ed ae 80 ed b0 80")},
                     {I, h("ed ae 80 ed bf bf")},
                     {I, h("ed af bf ed b0 80")},
                     {I, h("ed af bf ed bf bf")}}});
  // 6.22: Kuhn §5.3, noncharacters: VALID UTF-8 (RFC 3629 allows them).
  Utf8Group nonchars{"Noncharacters", {{V, h("ef bf be")}, {V, h("ef bf bf")}}};
  for (uint8_t lead : {0xf0, 0xf1, 0xf2, 0xf3, 0xf4}) {
    for (uint8_t second : {0x8f, 0x9f, 0xaf, 0xbf}) {
      if (lead == 0xf4 && second != 0x8f) continue;  // above U+10FFFF
      for (uint8_t last : {0xbe, 0xbf}) {
        if (lead == 0xf0 && second == 0x8f) continue;  // overlong
        nonchars.cases.push_back({V, std::string{static_cast<char>(lead), static_cast<char>(second),
                                                 '\xbf', static_cast<char>(last)}});
      }
    }
  }
  groups.push_back(nonchars);
  // 6.23: the "Specials" block, U+FFF9..U+FFFF: valid.
  Utf8Group specials{"UnicodeSpecials", {}};
  for (uint8_t last = 0xb9; last <= 0xbf; ++last) {
    specials.cases.push_back({V, std::string{'\xef', '\xbf', static_cast<char>(last)}});
  }
  groups.push_back(specials);
  return groups;
}

std::vector<Utf8Case> kuhn_cases() {
  std::vector<Utf8Case> cases;
  int section = 5;
  for (const Utf8Group& group : kuhn_groups()) {
    int number = 1;
    for (const auto& [valid, bytes] : group.cases) {
      cases.push_back(
          {"Case6_" + std::to_string(section) + "_" + std::to_string(number++) + "_" + group.name,
           valid, bytes});
    }
    ++section;
  }
  return cases;
}

// The table must be Autobahn's: same groups, same number of cases in each.
TEST(Ch15_Autobahn, Case6_X_TableHasAutobahnsCaseCounts) {
  const size_t expected[] = {5, 11, 4, 2, 4, 3, 5, 8, 5, 10, 1, 3, 5, 5, 5, 7, 8, 34, 7};
  std::vector<Utf8Group> groups = kuhn_groups();
  ASSERT_EQ(groups.size(), std::size(expected));
  for (size_t i = 0; i < groups.size(); ++i) {
    EXPECT_EQ(groups[i].cases.size(), expected[i]) << "case 6." << i + 5 << " " << groups[i].name;
  }
}

class Ch15_Autobahn_Section6 : public ::testing::TestWithParam<Utf8Case> {};

// Autobahn's own case: the whole payload in one text frame.
TEST_P(Ch15_Autobahn_Section6, InOneFrame) {
  const Utf8Case& c = GetParam();
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, c.bytes));
  SCOPED_TRACE("payload " + describe_bytes(c.bytes));
  expect_verdict(client, c.valid, c.bytes);
}

// Beyond Autobahn: the same payload as two fragments, split at every byte.
// Validity belongs to the message, not to its frames (§5.6, §8.1): a
// character split across frames is fine, and the verdict never changes.
TEST_P(Ch15_Autobahn_Section6, SplitIntoTwoFragmentsAtEveryByte) {
  const Utf8Case& c = GetParam();
  for (size_t cut = 0; cut <= c.bytes.size(); ++cut) {
    RawClient client;
    ASSERT_TRUE(client.open(port()));
    client.send_raw(frame(kText, c.bytes.substr(0, cut), false) +
                    frame(kContinuation, c.bytes.substr(cut), true));
    SCOPED_TRACE("cut at byte " + std::to_string(cut) + " of " + describe_bytes(c.bytes));
    expect_verdict(client, c.valid, c.bytes);
  }
}

// Beyond Autobahn: the same payload sent one byte per write, in one frame.
TEST_P(Ch15_Autobahn_Section6, OneFrameOctetWise) {
  const Utf8Case& c = GetParam();
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_chunked(frame(kText, c.bytes), 1);
  SCOPED_TRACE("payload " + describe_bytes(c.bytes));
  expect_verdict(client, c.valid, c.bytes);
}

INSTANTIATE_TEST_SUITE_P(Utf8, Ch15_Autobahn_Section6, ::testing::ValuesIn(kuhn_cases()),
                         utf8_case_name);

// ===== Beyond Autobahn: every code point class, split at every byte ========================

// Every kind of character (1 to 4 bytes), in a message that is split into
// two fragments at every byte: each split of every multi-byte sequence.
TEST(Ch15_Autobahn, Case6_X_EveryMultiByteSplitAcrossFragmentsIsEchoed) {
  const std::string text = "a" + h("c2 80") + h("df bf") + h("e0 a0 80") + h("ed 9f bf") +
                           h("ee 80 80") + h("ef bf bf") + h("f0 90 80 80") + h("f4 8f bf bf") +
                           "z";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    RawClient client;
    ASSERT_TRUE(client.open(port()));
    client.send_raw(frame(kText, text.substr(0, cut), false) +
                    frame(kContinuation, text.substr(cut), true));
    EXPECT_TRUE(expect_message(client, kText, text)) << "cut at byte " << cut;
    EXPECT_TRUE(close_handshake(client));
  }
}

// Each byte of a 4-byte character in its own frame, with empty frames
// between them: the validator's state survives every frame boundary.
TEST(Ch15_Autobahn, Case6_X_CharacterSpreadOverFramesWithEmptyFramesBetween) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string text = h("f0 9f 98 80");  // U+1F600
  std::string bytes = frame(kText, "", false);
  for (char byte : text)
    bytes += frame(kContinuation, std::string(1, byte), false) + frame(kContinuation, "", false);
  bytes += frame(kContinuation, "", true);
  client.send_raw(bytes);
  expect_verdict(client, true, text);
}

// A ping between the two halves of a character: control frames do not
// disturb the text being validated (§5.4: they may come between fragments).
TEST(Ch15_Autobahn, Case6_X_PingBetweenTheHalvesOfACharacter) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "x" + h("ce"), false) + frame(kPing, "between") +
                  frame(kContinuation, h("ba") + "y", true));
  EXPECT_TRUE(test::expect_pong(client, "between"));
  expect_verdict(client, true, "x" + h("ce ba") + "y");
}

// A message that ends inside a character fails, even though each fragment
// on its own ended "cleanly enough" to be accepted.
TEST(Ch15_Autobahn, Case6_X_MessageEndingInsideACharacterFails) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  client.send_raw(frame(kText, "ok " + h("e2 82"), false) + frame(kContinuation, "", true));
  EXPECT_TRUE(expect_close(client, {1007})) << "RFC 6455 §8.1: the message as a whole is not UTF-8";
}

// Binary messages are not UTF-8 and are never checked.
TEST(Ch15_Autobahn, Case6_X_BinaryIsNotValidated) {
  RawClient client;
  ASSERT_TRUE(client.open(port()));
  const std::string bytes = kInvalidKosme + h("ff fe c0 80");
  client.send_binary(bytes);
  EXPECT_TRUE(expect_message(client, 2, bytes))
      << "RFC 6455 §5.6: binary data is for the application";
  EXPECT_TRUE(close_handshake(client));
}

}  // namespace
}  // namespace ws
