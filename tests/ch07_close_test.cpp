// Chapter 07: close frames (RFC 6455 §5.5.1) and status codes (§7.4).
// The closing handshake's states are chapter 08's tests.
// Run: make test CH=07   or   ./build/tests/ch07_close_test --gtest_filter='Ch07_Close.*'
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "openpipe/core/error.h"
#include "openpipe/protocol/close.h"
#include "openpipe/protocol/utf8.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::bytes;
using test::hex;
using test::to_hex;

// RFC 6455 §7.4.1 and §7.4.2 (plus the IANA registry), written out as ranges
// that cover every 16-bit value exactly once.
struct CodeRange {
  uint32_t first, last;
  bool valid;       // may appear in a close frame on the wire
  const char* why;  // the failure hint
};
const CodeRange kCodeRanges[] = {
    {0, 999, false, "§7.4.2: 0-999 are not used"},
    {1000, 1003, true, "§7.4.1: normal, going away, protocol error, unsupported data"},
    {1004, 1004, false, "§7.4.1: 1004 is reserved"},
    {1005, 1005, false, "§7.4.1: 1005 (no status) MUST NOT be set in a Close frame"},
    {1006, 1006, false, "§7.4.1: 1006 (abnormal closure) MUST NOT be set in a Close frame"},
    {1007, 1011, true, "§7.4.1: invalid data, policy, too big, extension, internal error"},
    {1012, 1014, true, "IANA: service restart, try again later, bad gateway"},
    {1015, 1015, false, "§7.4.1: 1015 (TLS handshake) MUST NOT be set in a Close frame"},
    {1016, 2999, false, "§7.4.2: reserved for this protocol's future revisions"},
    {3000, 3999, true, "§7.4.2: for libraries and frameworks (IANA-registered)"},
    {4000, 4999, true, "§7.4.2: for private use"},
    {5000, 65535, false, "§7.4.2 defines no range above 4999"},
};

Error parse(const std::vector<uint8_t>& payload, ClosePayload& out) {
  return parse_close_payload(payload, out);
}

std::vector<uint8_t> build(uint16_t code, std::string_view reason) {
  ClosePayloadBytes out{};
  const size_t n = build_close_payload(code, reason, out);
  return {out.begin(), out.begin() + n};
}

// ===== basic ===========================================================================

TEST(Ch07_Close, CodeTableCoversEveryValueOnce) {
  uint32_t next = 0;
  for (const CodeRange& range : kCodeRanges) {
    ASSERT_EQ(range.first, next) << "the test's own table has a gap or an overlap";
    next = range.last + 1;
  }
  EXPECT_EQ(next, 65536u);
}

TEST(Ch07_Close, ValidCodesMatchTheRfcForEvery16BitValue) {
  for (const CodeRange& range : kCodeRanges) {
    for (uint32_t code = range.first; code <= range.last; ++code) {
      ASSERT_EQ(is_valid_close_code(static_cast<uint16_t>(code)), range.valid)
          << "code " << code << ": " << range.why;
    }
  }
}

TEST(Ch07_Close, ParsesEmptyPayloadAs1005) {
  ClosePayload close;
  close.code = kCloseNormal;  // so the test sees it change
  EXPECT_EQ(parse({}, close), Error::kNone) << "RFC 6455 §5.5.1: a close frame MAY have no body";
  EXPECT_EQ(close.code, kCloseNoStatus)
      << "RFC 6455 §7.1.5: no status code in the close frame -> 1005";
  EXPECT_TRUE(close.reason.empty());
}

TEST(Ch07_Close, ParsesCodeAndReason) {
  auto payload = hex("03 e8 62 79 65");  // 1000 "bye"
  ClosePayload close;
  ASSERT_EQ(parse(payload, close), Error::kNone);
  EXPECT_EQ(close.code, 1000) << "RFC 6455 §5.5.1: the code is a 2-byte integer in network order";
  EXPECT_EQ(close.reason, "bye");
  EXPECT_EQ(static_cast<const void*>(close.reason.data()), payload.data() + 2)
      << "the reason is a view into the payload, not a copy";
}

TEST(Ch07_Close, ParsesCodeWithoutReason) {
  ClosePayload close;
  ASSERT_EQ(parse(hex("0f a0"), close), Error::kNone);  // 4000
  EXPECT_EQ(close.code, 4000);
  EXPECT_TRUE(close.reason.empty());
}

TEST(Ch07_Close, BuildsCodeInNetworkOrderAndReason) {
  EXPECT_EQ(to_hex(build(kCloseNormal, "")), "03 e8");
  EXPECT_EQ(to_hex(build(kCloseGoingAway, "bye")), "03 e9 62 79 65");
  EXPECT_EQ(to_hex(build(4999, "")), "13 87") << "RFC 6455 §5.5.1: network byte order";
}

TEST(Ch07_Close, BuildsEmptyPayloadFor1005) {
  EXPECT_EQ(build(kCloseNoStatus, "ignored").size(), 0u)
      << "RFC 6455 §7.4.1: 1005 MUST NOT be sent; it is said by sending no code at all";
}

TEST(Ch07_Close, BuiltPayloadParsesBack) {
  ClosePayload close;
  auto payload = build(kClosePolicyViolation, "heartbeat missed");
  ASSERT_EQ(parse(payload, close), Error::kNone);
  EXPECT_EQ(close.code, kClosePolicyViolation);
  EXPECT_EQ(close.reason, "heartbeat missed");
}

// ===== edge ============================================================================

TEST(Ch07_Close, TruncatesReasonTo123Bytes) {
  const std::string reason(200, 'x');
  auto payload = build(kCloseNormal, reason);
  EXPECT_EQ(payload.size(), 125u)
      << "RFC 6455 §5.5: a control frame's payload is at most 125 bytes: 2 for the code, 123 "
         "for the reason";
}

TEST(Ch07_Close, TruncatesReasonOnACharacterBoundary) {
  // k ASCII bytes, then 3-byte euro signs: every position of the cut inside a character.
  for (size_t k = 0; k < 4; ++k) {
    std::string reason(k, 'a');
    while (reason.size() < 200) reason += "\xe2\x82\xac";
    auto payload = build(kCloseNormal, reason);
    const size_t reason_size = payload.size() - 2;
    EXPECT_LE(reason_size, kMaxCloseReason);
    EXPECT_GT(reason_size + 3, kMaxCloseReason) << "k=" << k << ": cut no more than needed";
    EXPECT_TRUE(is_valid_utf8(std::span(payload).subspan(2)))
        << "k=" << k << ": a reason cut inside a character would be invalid UTF-8 (-> 1007)";
  }
}

TEST(Ch07_Close, TruncateUtf8KeepsShortTextAndCutsLongText) {
  EXPECT_EQ(truncate_utf8("abc", 3), "abc");
  EXPECT_EQ(truncate_utf8("abc", 10), "abc");
  EXPECT_EQ(truncate_utf8("abcd", 3), "abc");
  EXPECT_EQ(truncate_utf8("abc", 0), "");
}

TEST(Ch07_Close, TruncateUtf8NeverSplitsACharacter) {
  const std::string_view text = "a\xce\xba\xe2\x82\xac\xf0\x9f\x98\x80";  // a κ € 😀
  const size_t boundaries[] = {0, 1, 3, 6, 10};  // where a character starts or the text ends
  for (size_t max = 0; max <= text.size(); ++max) {
    size_t expected = 0;
    for (size_t b : boundaries) {
      if (b <= max) expected = b;
    }
    EXPECT_EQ(truncate_utf8(text, max).size(), expected) << "max_bytes " << max;
  }
}

TEST(Ch07_Close, EveryPrefixOfAPayloadParsesAsExpected) {
  // 1001 + "κόσμε": each prefix is a payload a peer could send.
  auto payload = hex("03 e9 ce ba e1 bd b9 cf 83 ce bc ce b5");
  const size_t char_ends[] = {2, 4, 7, 9, 11, 13};  // code, then each character's end
  for (size_t n = 0; n <= payload.size(); ++n) {
    std::vector<uint8_t> prefix(payload.begin(), payload.begin() + n);
    ClosePayload close;
    Error expected = Error::kCloseInvalidUtf8;  // the reason ends inside a character
    if (n == 0) expected = Error::kNone;
    if (n == 1) expected = Error::kCloseOneByteBody;
    for (size_t end : char_ends) {
      if (n == end) expected = Error::kNone;
    }
    EXPECT_EQ(parse(prefix, close), expected) << "prefix of " << n << " bytes";
  }
}

// ===== adversarial =====================================================================

TEST(Ch07_Close, RejectsOneByteBody) {
  ClosePayload close;
  EXPECT_EQ(parse(hex("03"), close), Error::kCloseOneByteBody)
      << "RFC 6455 §5.5.1: a body starts with a 2-byte code, so 1 byte is half a code";
  EXPECT_EQ(close_code(Error::kCloseOneByteBody), kCloseProtocolError);
}

TEST(Ch07_Close, RejectsCodesNotAllowedOnTheWire) {
  for (const char* wire : {"00 00", "03 e7", "03 ec", "03 ed", "03 ee", "03 f7", "0b b7", "13 88",
                           "ff ff"}) {  // 0 999 1004 1005 1006 1015 2999 5000 65535
    ClosePayload close;
    EXPECT_EQ(parse(hex(wire), close), Error::kCloseInvalidCode)
        << wire << ": RFC 6455 §7.4: not a code an endpoint may send";
  }
  EXPECT_EQ(close_code(Error::kCloseInvalidCode), kCloseProtocolError) << "answered with 1002";
}

TEST(Ch07_Close, RejectsReasonThatIsNotUtf8) {
  for (const char* wire : {"03 e8 ff", "03 e8 ce", "03 e8 ed a0 80", "03 e8 c0 af", "03 e8 80"}) {
    ClosePayload close;
    EXPECT_EQ(parse(hex(wire), close), Error::kCloseInvalidUtf8)
        << wire << ": RFC 6455 §5.5.1: the reason is UTF-8-encoded data";
  }
  EXPECT_EQ(close_code(Error::kCloseInvalidUtf8), kCloseInvalidPayload)
      << "RFC 6455 §8.1: invalid UTF-8 fails the connection with 1007";
}

}  // namespace
}  // namespace ws
