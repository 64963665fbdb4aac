// Chapter 20 exercises, part 1: RESP, the protocol Redis speaks, parsed
// without a socket (src/protocol/resp.cpp). Bytes in, values out: every type,
// every split point, and every limit a hostile broker could try to break.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/resp.h"

namespace ws {
namespace {

// Parses `bytes` that must hold exactly one complete value.
RespValue parse_one(std::string_view bytes, const RespLimits& limits = {}) {
  RespParser parser(limits);
  RespResult r = parser.feed(bytes);
  EXPECT_EQ(r.status, ParseStatus::kOk)
      << "one complete value in: " << bytes << " error=" << to_string(r.error);
  EXPECT_EQ(r.consumed, bytes.size()) << "the value is the whole input";
  return parser.take();
}

// The error `bytes` end in (kNone if they parse or need more).
RespError error_of(std::string_view bytes, const RespLimits& limits = {}) {
  RespParser parser(limits);
  return parser.feed(bytes).error;
}

std::string encoded(const RespValue& value) {
  std::string out;
  resp_append(out, value);
  return out;
}

// The redis-server answer to SUBSCRIBE, then one pub/sub message.
const std::string kSubscribeReply = "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
const std::string kMessage = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$7\r\nhi\r\nyou\r\n";

// ---- basic: one value of each type ----------------------------------------------------

TEST(Ch20_Resp, ParsesSimpleString) {
  RespValue v = parse_one("+OK\r\n");
  EXPECT_EQ(v.type, RespType::kSimpleString);
  EXPECT_EQ(v.text, "OK");
}

TEST(Ch20_Resp, ParsesError) {
  RespValue v = parse_one("-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(v.type, RespType::kError) << "'-' starts an error reply";
  EXPECT_EQ(v.text, "NOAUTH Authentication required.");
}

TEST(Ch20_Resp, ParsesIntegers) {
  EXPECT_EQ(parse_one(":1000\r\n").integer, 1000);
  EXPECT_EQ(parse_one(":-42\r\n").integer, -42);
  EXPECT_EQ(parse_one(":-9223372036854775808\r\n").integer, INT64_MIN) << "the whole int64 range";
  EXPECT_EQ(parse_one(":9223372036854775807\r\n").integer, INT64_MAX);
}

TEST(Ch20_Resp, ParsesBinarySafeBulkString) {
  RespValue v = parse_one(std::string("$8\r\na\r\nb\0\r\nc\r\n", 14));
  EXPECT_EQ(v.type, RespType::kBulkString);
  EXPECT_EQ(v.text, std::string("a\r\nb\0\r\nc", 8))
      << "a bulk string is a length then bytes: CR, LF and NUL inside are data";
}

TEST(Ch20_Resp, ParsesEmptyAndNullBulkStrings) {
  EXPECT_EQ(parse_one("$0\r\n\r\n").type, RespType::kBulkString);
  EXPECT_EQ(parse_one("$-1\r\n").type, RespType::kNull) << "RESP2's null bulk string";
  EXPECT_EQ(parse_one("*-1\r\n").type, RespType::kNull) << "RESP2's null array";
}

TEST(Ch20_Resp, ParsesPubSubMessage) {
  RespValue v = parse_one(kMessage);
  ASSERT_EQ(v.type, RespType::kArray);
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0].text, "message");
  EXPECT_EQ(v.elements[1].text, "news");
  EXPECT_EQ(v.elements[2].text, "hi\r\nyou");
}

TEST(Ch20_Resp, ParsesNestedArraysAndPush) {
  RespValue v = parse_one("*2\r\n*1\r\n:1\r\n*0\r\n");
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].elements[0].integer, 1);
  EXPECT_TRUE(v.elements[1].elements.empty()) << "*0 is an empty array";
  RespValue push = parse_one(">3\r\n$7\r\nmessage\r\n$1\r\nt\r\n$1\r\nx\r\n");
  EXPECT_EQ(push.type, RespType::kPush) << "RESP3 delivers pub/sub messages as '>' pushes";
  EXPECT_EQ(push.elements.size(), 3u);
}

// ---- a stream: values one after another ---------------------------------------------

TEST(Ch20_Resp, StopsAfterOneValue) {
  const std::string stream = kSubscribeReply + kMessage;
  RespParser parser;
  RespResult r = parser.feed(stream);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, kSubscribeReply.size()) << "the rest belongs to the next value";
  EXPECT_EQ(parser.value().elements[0].text, "subscribe");
  r = parser.feed(std::string_view(stream).substr(r.consumed));
  ASSERT_EQ(r.status, ParseStatus::kOk) << "after kOk, feed() starts the next value";
  EXPECT_EQ(parser.value().elements[0].text, "message");
}

TEST(Ch20_Resp, NeedsMoreUntilTheLastByte) {
  RespParser parser;
  RespResult r = parser.feed(std::string_view(kMessage).substr(0, kMessage.size() - 1));
  EXPECT_EQ(r.status, ParseStatus::kNeedMore) << "the final LF is still missing";
  EXPECT_EQ(r.consumed, kMessage.size() - 1) << "kNeedMore takes every byte";
}

//> test.resp-every-split
// muduo's test for its HTTP parser, applied to RESP: split the input at
// every byte, in two pieces and one byte at a time; the value is the same.
TEST(Ch20_Resp, SameValueAtEverySplitPoint) {
  const RespValue expected = parse_one(kMessage);
  for (size_t cut = 0; cut <= kMessage.size(); ++cut) {
    RespParser parser;
    RespResult first = parser.feed(std::string_view(kMessage).substr(0, cut));
    ASSERT_EQ(first.status, cut == kMessage.size() ? ParseStatus::kOk : ParseStatus::kNeedMore)
        << "split at " << cut;
    if (cut < kMessage.size()) {
      RespResult second = parser.feed(std::string_view(kMessage).substr(cut));
      ASSERT_EQ(second.status, ParseStatus::kOk) << "split at " << cut;
      EXPECT_EQ(second.consumed, kMessage.size() - cut) << "split at " << cut;
    }
    EXPECT_EQ(encoded(parser.value()), encoded(expected)) << "split at " << cut;
  }
}
//< test.resp-every-split

TEST(Ch20_Resp, SameValueFedOneByteAtATime) {
  const std::string stream = kSubscribeReply + kMessage + "$-1\r\n" + ":7\r\n";
  RespParser parser;
  std::vector<std::string> values;
  for (char c : stream) {
    RespResult r = parser.feed(std::string_view(&c, 1));
    ASSERT_EQ(r.consumed, 1u);
    if (r.status == ParseStatus::kOk) values.push_back(encoded(parser.take()));
  }
  ASSERT_EQ(values.size(), 4u) << "four values, whatever the chunking";
  EXPECT_EQ(values[0], kSubscribeReply);
  EXPECT_EQ(values[1], kMessage);
  EXPECT_EQ(values[2], "$-1\r\n");
  EXPECT_EQ(values[3], ":7\r\n");
}

// ---- edge: what the encoder writes --------------------------------------------------

TEST(Ch20_Resp, EncodesACommandAsBulkStrings) {
  std::string out;
  resp_append_command(out, {"PUBLISH", "news", "hi"});
  EXPECT_EQ(out, "*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$2\r\nhi\r\n")
      << "a command is an array of bulk strings: binary-safe, no escaping";
}

TEST(Ch20_Resp, EncodedValuesParseBack) {
  RespValue value =
      resp_array({resp_bulk("a"), resp_array({resp_bulk(std::string(300, 'x'))}), resp_bulk("")});
  EXPECT_EQ(encoded(parse_one(encoded(value))), encoded(value));
}

// ---- adversarial: malformed input ----------------------------------------------------

TEST(Ch20_Resp, RejectsUnknownTypeByte) {
  EXPECT_EQ(error_of("?what\r\n"), RespError::kUnknownType);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\n"), RespError::kUnknownType)
      << "a port that answers with another protocol is found at the first byte";
}

TEST(Ch20_Resp, RejectsLinesWithoutCrLf) {
  EXPECT_EQ(error_of("+OK\n"), RespError::kBadLineEnd) << "a bare LF does not end a line";
  EXPECT_EQ(error_of("+O\rK\r\n"), RespError::kBadLineEnd) << "no CR inside a simple string";
}

TEST(Ch20_Resp, RejectsBadIntegers) {
  for (std::string_view bad : {":\r\n", ":+1\r\n", ": 1\r\n", ":1x\r\n", ":-\r\n",
                               ":9223372036854775808\r\n", "$abc\r\n", "*1.5\r\n"}) {
    EXPECT_EQ(error_of(bad), RespError::kBadInteger) << bad;
  }
}

TEST(Ch20_Resp, RejectsNegativeLengthsOtherThanNull) {
  EXPECT_EQ(error_of("$-2\r\n"), RespError::kBadLength);
  EXPECT_EQ(error_of("*-5\r\n"), RespError::kBadLength);
  EXPECT_EQ(error_of(">-1\r\n"), RespError::kBadLength) << "a push is never null";
}

TEST(Ch20_Resp, RejectsBulkWithoutCrLfAfterPayload) {
  EXPECT_EQ(error_of("$2\r\nabc\r\n"), RespError::kBulkBadEnd)
      << "exactly <length> bytes, then CR LF: a third byte is a lie about the length";
}

TEST(Ch20_Resp, ErrorSticksUntilReset) {
  RespParser parser;
  ASSERT_EQ(parser.feed("!\r\n").status, ParseStatus::kError);
  RespResult again = parser.feed("+OK\r\n");
  EXPECT_EQ(again.status, ParseStatus::kError) << "a broken stream cannot be trusted again";
  EXPECT_EQ(again.consumed, 0u);
  parser.reset();
  EXPECT_EQ(parser.feed("+OK\r\n").status, ParseStatus::kOk) << "reset() starts afresh";
}

// ---- adversarial: the limits -------------------------------------------------------------

TEST(Ch20_Resp, RejectsBulkOverTheLimitBeforeItsBytes) {
  RespLimits limits;
  limits.max_bulk_length = 10;
  EXPECT_EQ(parse_one("$10\r\n0123456789\r\n", limits).text.size(), 10u) << "the limit itself";
  RespParser parser(limits);
  RespResult r = parser.feed("$11\r\n");
  EXPECT_EQ(r.error, RespError::kBulkTooLong)
      << "the length line alone is enough: no byte of the payload needs to arrive";
}

TEST(Ch20_Resp, HugeBulkLengthAllocatesNothing) {
  RespParser parser;
  RespResult r = parser.feed("$9223372036854775807\r\n");
  EXPECT_EQ(r.error, RespError::kBulkTooLong) << "RespLimits::max_bulk_length";
}

TEST(Ch20_Resp, RejectsArrayOverTheLimit) {
  RespLimits limits;
  limits.max_array_length = 2;
  EXPECT_EQ(parse_one("*2\r\n:1\r\n:2\r\n", limits).elements.size(), 2u);
  EXPECT_EQ(error_of("*3\r\n", limits), RespError::kArrayTooLong);
}

//> test.resp-depth
TEST(Ch20_Resp, RejectsNestingDeeperThanTheLimit) {
  RespLimits limits;
  limits.max_depth = 3;
  EXPECT_EQ(parse_one("*1\r\n*1\r\n*1\r\n:1\r\n", limits).type, RespType::kArray)
      << "three arrays deep is exactly the limit";
  EXPECT_EQ(error_of("*1\r\n*1\r\n*1\r\n*1\r\n", limits), RespError::kTooDeep)
      << "a fourth level is refused as soon as its count line ends";
}
//< test.resp-depth

TEST(Ch20_Resp, DefaultDepthStopsANestingBomb) {
  std::string bomb;
  for (int i = 0; i < 100000; ++i) bomb += "*1\r\n";
  RespParser parser;
  RespResult r = parser.feed(bomb);
  EXPECT_EQ(r.error, RespError::kTooDeep) << "RespLimits::max_depth (8 by default)";
  EXPECT_LE(r.consumed, 4 * 9u) << "refused at the ninth level, not after reading them all";
}

TEST(Ch20_Resp, RejectsTooManyElementsInOneValue) {
  RespLimits limits;
  limits.max_total_elements = 5;
  EXPECT_EQ(error_of("*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n", limits), RespError::kTooManyElements)
      << "2 + 2 + 2 elements announced in one value";
}

TEST(Ch20_Resp, RejectsLineOverTheLimit) {
  RespLimits limits;
  limits.max_line_length = 4;
  EXPECT_EQ(parse_one("+1234\r\n", limits).text, "1234");
  EXPECT_EQ(error_of("+123456", limits), RespError::kLineTooLong)
      << "found before the line ends: a line that never ends cannot fill memory";
}

}  // namespace
}  // namespace ws
