// Chapter 06 — messages: fragmentation, reassembly, UTF-8 checked as it
// arrives, and the size limit across fragments (RFC 6455 §5.4, §6.2, §8.1).
// Every test plays a client: it feeds masked frames to a server connection
// and reads the events and the bytes the server would send.
#include <gtest/gtest.h>

#include "openpipe/protocol/connection.h"
#include "support/recorder.h"

namespace ws {
namespace {

using test::client_frame;
using test::concat;
using test::feed;
using test::frames_in;
using test::Recorder;

using Events = std::vector<std::string>;

// ---- basic ------------------------------------------------------------------

TEST(Ch06_Message, SingleFrameTextIsOneMessage) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kText, "Hello"));
  EXPECT_EQ(r.events, Events{"text:Hello"}) << "RFC 6455 §5.7: a single-frame masked text message";
}

TEST(Ch06_Message, SingleFrameBinaryIsOneMessage) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kBinary, "\x01\x02"));
  EXPECT_EQ(r.events, Events{"binary:01 02"});
}

TEST(Ch06_Message, EmptyTextMessageIsDelivered) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kText, ""));
  EXPECT_EQ(r.events, Events{"text:"}) << "a message may be empty";
}

TEST(Ch06_Message, FragmentsAreReassembled) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kText, "Hel", false));
  EXPECT_TRUE(r.events.empty()) << "nothing is delivered before the FIN fragment";
  feed(c, r, client_frame(Opcode::kContinuation, "lo", true));
  EXPECT_EQ(r.events, Events{"text:Hello"}) << "RFC 6455 §5.7: \"Hel\" + \"lo\" is one message";
}

TEST(Ch06_Message, ManyFragmentsInOneRead) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r,
       concat({client_frame(Opcode::kBinary, "a", false),
               client_frame(Opcode::kContinuation, "b", false),
               client_frame(Opcode::kContinuation, "", false),
               client_frame(Opcode::kContinuation, "c", true)}));
  EXPECT_EQ(r.events, Events{"binary:61 62 63"});
}

TEST(Ch06_Message, MessagesArriveInOrder) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r,
       concat({client_frame(Opcode::kText, "one"), client_frame(Opcode::kText, "two"),
               client_frame(Opcode::kText, "three")}));
  EXPECT_EQ(r.events, (Events{"text:one", "text:two", "text:three"}));
}

// ---- edge -----------------------------------------------------------------------

TEST(Ch06_Message, ControlFrameBetweenFragmentsIsAllowed) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r,
       concat({client_frame(Opcode::kText, "Hel", false), client_frame(Opcode::kPing, "p"),
               client_frame(Opcode::kContinuation, "lo", true)}));
  EXPECT_EQ(r.events, (Events{"ping:p", "text:Hello"}))
      << "RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message";
  EXPECT_EQ(frames_in(test::drain(c)), Events{"pong:p"});
}

TEST(Ch06_Message, Utf8SequenceSplitAcrossFragmentsIsValid) {
  Recorder r;
  Connection c = test::open_server(r);
  // "κ" is CE BA: the two bytes go in two fragments.
  feed(c, r,
       concat({client_frame(Opcode::kText, "\xce", false),
               client_frame(Opcode::kContinuation, "\xba", true)}));
  EXPECT_EQ(r.events, Events{"text:\xce\xba"})
      << "UTF-8 is validated across fragments, not per frame";
}

TEST(Ch06_Message, BinaryIsNotValidatedAsUtf8) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kBinary, "\xff\xfe"));
  EXPECT_EQ(r.events, Events{"binary:ff fe"});
}

TEST(Ch06_Message, EverySplitPointGivesTheSameEvents) {
  std::vector<uint8_t> wire =
      concat({client_frame(Opcode::kText, "Hel", false), client_frame(Opcode::kPing, "ping"),
              client_frame(Opcode::kContinuation, "lo \xce\xba", true),
              client_frame(Opcode::kBinary, std::string(300, 'x'))});
  Events expected = {"ping:ping", "text:Hello \xce\xba",
                     "binary:" + test::hex_of(std::vector<uint8_t>(300, 'x'))};
  for (size_t split = 0; split <= wire.size(); ++split) {
    Recorder r;
    Connection c = test::open_server(r);
    feed(c, r, std::span<const uint8_t>(wire).first(split));
    feed(c, r, std::span<const uint8_t>(wire).subspan(split));
    ASSERT_EQ(r.events, expected) << "input split at byte " << split;
  }
}

TEST(Ch06_Message, HundredThousandEmptyFragments) {
  Recorder r;
  Connection c = test::open_server(r);
  std::vector<uint8_t> wire = client_frame(Opcode::kText, "start", false);
  std::vector<uint8_t> empty = client_frame(Opcode::kContinuation, "", false);
  for (int i = 0; i < 100000; ++i) wire.insert(wire.end(), empty.begin(), empty.end());
  std::vector<uint8_t> last = client_frame(Opcode::kContinuation, "end", true);
  wire.insert(wire.end(), last.begin(), last.end());
  feed(c, r, wire);
  EXPECT_EQ(r.events, Events{"text:startend"})
      << "fragments cost no memory of their own: 100,000 empty ones are fine";
}

// ---- adversarial --------------------------------------------------------------------

TEST(Ch06_Message, ContinuationWithNoMessageIsProtocolError) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kContinuation, "lo"));
  EXPECT_EQ(r.events.front(), "error:message-unexpected-continuation");
  EXPECT_EQ(frames_in(test::drain(c)), Events{"close:1002:message-unexpected-continuation"})
      << "RFC 6455 §5.4: a continuation frame needs a message to continue";
}

TEST(Ch06_Message, NewDataFrameInsideFragmentedMessageIsProtocolError) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r,
       concat({client_frame(Opcode::kText, "Hel", false), client_frame(Opcode::kText, "lo")}));
  EXPECT_EQ(r.events.front(), "error:message-expected-continuation");
  EXPECT_EQ(frames_in(test::drain(c)), Events{"close:1002:message-expected-continuation"})
      << "RFC 6455 §5.4: fragments of different messages MUST NOT be interleaved";
}

TEST(Ch06_Message, InvalidUtf8FailsBeforeTheFrameEnds) {
  Recorder r;
  Connection c = test::open_server(r);
  // A 10-byte text frame whose third byte is invalid (0xff). Feed only the
  // header and the first three payload bytes: the failure must not wait.
  std::vector<uint8_t> frame = client_frame(Opcode::kText, std::string("ab\xff") + "defghij");
  size_t header_size = 6;  // 2 bytes + 4-byte mask key
  feed(c, r, std::span<const uint8_t>(frame).first(header_size + 3));
  ASSERT_FALSE(r.events.empty())
      << "RFC 6455 §8.1 / Autobahn 6.x fail-fast: the bad byte is enough";
  EXPECT_EQ(r.events.front(), "error:message-invalid-utf8");
  EXPECT_EQ(frames_in(test::drain(c)), Events{"close:1007:message-invalid-utf8"});
}

TEST(Ch06_Message, InvalidUtf8InALaterFragmentFails) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r,
       concat({client_frame(Opcode::kText, "ok", false),
               client_frame(Opcode::kContinuation, "\xed\xa0\x80", true)}));  // a surrogate
  EXPECT_EQ(r.events.front(), "error:message-invalid-utf8");
}

TEST(Ch06_Message, MessageEndingInsideASequenceFails) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kText, "abc\xce"));
  EXPECT_EQ(r.events.front(), "error:message-invalid-utf8")
      << "a valid prefix is not enough: the message must end on a character boundary";
  EXPECT_EQ(frames_in(test::drain(c)), Events{"close:1007:message-invalid-utf8"});
}

TEST(Ch06_Message, SizeLimitCountsAllFragments) {
  Recorder r;
  ConnectionLimits limits;
  limits.max_message_size = 10;
  Connection c = test::open_server(r, limits);
  feed(c, r,
       concat({client_frame(Opcode::kBinary, "123456", false),
               client_frame(Opcode::kContinuation, "789012", true)}));
  EXPECT_EQ(r.events.front(), "error:message-too-large");
  EXPECT_EQ(frames_in(test::drain(c)), Events{"close:1009:message-too-large"})
      << "RFC 6455 §7.4.1: 1009 for a message too big to process";
}

TEST(Ch06_Message, MessageExactlyAtTheLimitIsFine) {
  Recorder r;
  ConnectionLimits limits;
  limits.max_message_size = 10;
  Connection c = test::open_server(r, limits);
  feed(c, r,
       concat({client_frame(Opcode::kBinary, "12345", false),
               client_frame(Opcode::kContinuation, "67890", true)}));
  EXPECT_EQ(r.events, Events{"binary:31 32 33 34 35 36 37 38 39 30"});
}

TEST(Ch06_Message, DeclaredHugeFrameIsRefusedFromItsHeader) {
  Recorder r;
  Connection c = test::open_server(r);
  // FIN+binary, MASK + 127, then a 64-bit length of 1 TiB, then a mask key.
  std::vector<uint8_t> header = {0x82, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04};
  feed(c, r, header);
  EXPECT_EQ(r.events.front(), "error:frame-too-large")
      << "the length alone decides: no payload byte is needed, nothing is allocated";
  EXPECT_EQ(frames_in(test::drain(c)), Events{"close:1009:frame-too-large"});
}

}  // namespace
}  // namespace ws
