// Chapter 13 — the trace: what crossed the connection, as text for a reader.
// Bytes in (each direction, split anywhere), annotated lines out: the HTTP
// head as it is, then every frame field by field (RFC 6455 §4.1, §5.2, §5.7).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/trace.h"
#include "support/hex.h"

namespace ws {
namespace {

using test::bytes;
using test::hex;

// The opening handshake of RFC 6455 §1.3.
constexpr std::string_view kRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";
constexpr std::string_view kResponse =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

// RFC 6455 §5.7: "A single-frame masked text message" ("Hello", from a client)
// and "A single-frame unmasked text message" ("Hello", from a server).
constexpr std::string_view kMaskedHello = "81 85 37 fa 21 3d 7f 9f 4d 51 58";
constexpr std::string_view kUnmaskedHello = "81 05 48 65 6c 6c 6f";

// The exact lines for the two §5.7 frames: the layout, written out once.
constexpr std::string_view kMaskedHelloLine =
    "<- frame  FIN=1 RSV=000 opcode=0x1 (text)          MASK=1 key=37fa213d  "
    "len=5 (7-bit)             \"Hello\"\n";
constexpr std::string_view kUnmaskedHelloLine =
    "-> frame  FIN=1 RSV=000 opcode=0x1 (text)          MASK=0               "
    "len=5 (7-bit)             \"Hello\"\n";

// A server's tracer whose handshake is done, so the next bytes are frames.
struct OpenServerTrace {
  std::string text;
  Tracer tracer{text, TraceOptions{}};
  OpenServerTrace() {
    tracer.on_received(bytes(kRequest));
    tracer.on_sent(bytes(kResponse));
    text.clear();
  }
};

// The trace of `input` received by a server after the handshake, fed in the
// pieces given by `cuts` (positions in `input`).
std::string trace_received(const std::vector<uint8_t>& input, std::vector<size_t> cuts = {}) {
  OpenServerTrace t;
  size_t from = 0;
  cuts.push_back(input.size());
  for (size_t cut : cuts) {
    t.tracer.on_received(std::span<const uint8_t>(input).subspan(from, cut - from));
    from = cut;
  }
  return t.text;
}

std::string trace_sent(const std::vector<uint8_t>& input) {
  OpenServerTrace t;
  t.tracer.on_sent(input);
  return t.text;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// A frame with `length` payload bytes of `fill`, sent by a server (unmasked).
std::vector<uint8_t> server_frame(uint8_t first_byte, uint64_t length, uint8_t fill) {
  std::vector<uint8_t> frame = {first_byte};
  int length_bytes = 0;  // extended length bytes, most significant first (§5.2)
  if (length < 126) {
    frame.push_back(static_cast<uint8_t>(length));
  } else if (length <= 0xFFFF) {
    frame.push_back(126);
    length_bytes = 2;
  } else {
    frame.push_back(127);
    length_bytes = 8;
  }
  for (int i = length_bytes - 1; i >= 0; --i)
    frame.push_back(static_cast<uint8_t>(length >> (8 * i)));
  frame.resize(frame.size() + length, fill);
  return frame;
}

// ---- basic: the handshake as it is --------------------------------------------------

TEST(Ch13_Trace, PrintsTheRequestLineByLine) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(bytes(kRequest));
  EXPECT_EQ(text,
            "<- GET /chat HTTP/1.1\n"
            "<- Host: server.example.com\n"
            "<- Upgrade: websocket\n"
            "<- Connection: Upgrade\n"
            "<- Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
            "<- Sec-WebSocket-Version: 13\n"
            "<- (empty line: end of the head; from here on, WebSocket frames)\n")
      << "RFC 6455 §4.1: the request is an HTTP head; its empty line ends it, and "
         "\"Upgrade: websocket\" says frames follow";
}

TEST(Ch13_Trace, PrintsThe101ResponseLineByLine) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(bytes(kRequest));
  text.clear();
  tracer.on_sent(bytes(kResponse));
  EXPECT_EQ(text,
            "-> HTTP/1.1 101 Switching Protocols\n"
            "-> Upgrade: websocket\n"
            "-> Connection: Upgrade\n"
            "-> Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n"
            "-> (empty line: end of the head; from here on, WebSocket frames)\n")
      << "RFC 6455 §4.2.2: sent lines start with \"->\"; a 101 switches to frames";
}

// ---- basic: the frames of RFC 6455 §5.7 -----------------------------------------------

TEST(Ch13_Trace, DecodesTheMaskedHelloOfTheRfc) {
  EXPECT_EQ(trace_received(hex(kMaskedHello)), kMaskedHelloLine)
      << "RFC 6455 §5.7: FIN, RSV, opcode, MASK with its key, the length and its form, "
         "and the payload unmasked";
}

TEST(Ch13_Trace, DecodesTheUnmaskedHelloOfTheRfc) {
  EXPECT_EQ(trace_sent(hex(kUnmaskedHello)), kUnmaskedHelloLine)
      << "RFC 6455 §5.7: a server's frames carry no mask key";
}

TEST(Ch13_Trace, HandshakeThenFramesInOrder) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(bytes(kRequest));
  tracer.on_sent(bytes(kResponse));
  tracer.on_received(hex(kMaskedHello));
  tracer.on_sent(hex(kUnmaskedHello));
  const size_t request = text.find("<- GET /chat");
  const size_t response = text.find("-> HTTP/1.1 101");
  const size_t received = text.find(kMaskedHelloLine);
  const size_t sent = text.find(kUnmaskedHelloLine);
  ASSERT_NE(received, std::string::npos) << text;
  ASSERT_NE(sent, std::string::npos) << text;
  EXPECT_TRUE(request < response && response < received && received < sent)
      << "lines come in the order the bytes crossed the connection:\n"
      << text;
}

TEST(Ch13_Trace, FragmentedTextShowsEachFrame) {
  // RFC 6455 §5.7: "A fragmented unmasked text message": "Hel", then "lo".
  const std::string text = trace_sent(hex("01 03 48 65 6c  80 02 6c 6f"));
  EXPECT_TRUE(contains(text, "FIN=0 RSV=000 opcode=0x1 (text)")) << text;
  EXPECT_TRUE(contains(text, "FIN=1 RSV=000 opcode=0x0 (continuation)")) << text;
  EXPECT_TRUE(contains(text, "\"lo\"\n"))
      << "RFC 6455 §5.4: a continuation of a text message is text too\n"
      << text;
}

TEST(Ch13_Trace, PingAndPongShowTheirPayload) {
  // RFC 6455 §5.7: an unmasked ping and a masked pong, both "Hello".
  const std::string ping = trace_sent(hex("89 05 48 65 6c 6c 6f"));
  const std::string pong = trace_received(hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"));
  EXPECT_TRUE(contains(ping, "opcode=0x9 (ping)") && contains(ping, "\"Hello\"")) << ping;
  EXPECT_TRUE(contains(pong, "opcode=0xa (pong)") && contains(pong, "\"Hello\"")) << pong;
}

TEST(Ch13_Trace, CloseFrameShowsCodeAndReason) {
  const std::string text = trace_sent(hex("88 05 03 e8 62 79 65"));  // 1000, "bye"
  EXPECT_TRUE(contains(text, "opcode=0x8 (close)")) << text;
  EXPECT_TRUE(contains(text, "code=1000 (normal closure) reason=\"bye\""))
      << "RFC 6455 §5.5.1: a close body is a 2-byte code, then a UTF-8 reason\n"
      << text;
}

TEST(Ch13_Trace, BinaryPayloadIsShownInHex) {
  const std::string text = trace_sent(hex("82 03 00 ff 10"));
  EXPECT_TRUE(contains(text, "hex 00 ff 10\n")) << text;
}

// ---- edge: length forms, escapes, splits, options ----------------------------------------

TEST(Ch13_Trace, Names16BitLengthForm) {
  // RFC 6455 §5.7: "256 bytes binary message in a single unmasked frame".
  const std::string text = trace_sent(server_frame(0x82, 256, 0xab));
  EXPECT_TRUE(contains(text, "len=256 (126 + 16-bit)"))
      << "RFC 6455 §5.2: 126 means a 16-bit extended length follows\n"
      << text;
}

TEST(Ch13_Trace, Names64BitLengthForm) {
  // RFC 6455 §5.7: "64KiB binary message in a single unmasked frame".
  const std::string text = trace_sent(server_frame(0x82, 65536, 0xab));
  EXPECT_TRUE(contains(text, "len=65536 (127 + 64-bit)"))
      << "RFC 6455 §5.2: 127 means a 64-bit extended length follows\n"
      << text;
}

TEST(Ch13_Trace, FlagsALengthFormThatIsNotMinimal) {
  const std::string text = trace_sent(hex("81 7e 00 02 68 69"));  // "hi" with a 16-bit length
  EXPECT_TRUE(contains(text, "len=2 (126 + 16-bit, not minimal)"))
      << "RFC 6455 §5.2: \"the minimal number of bytes MUST be used to encode the length\"\n"
      << text;
}

TEST(Ch13_Trace, CloseWithoutReasonShowsOnlyTheCode) {
  const std::string text = trace_sent(hex("88 02 03 e9"));  // 1001
  EXPECT_TRUE(contains(text, "code=1001 (going away)\n")) << text;
}

TEST(Ch13_Trace, EmptyCloseSaysNoStatus) {
  const std::string text = trace_sent(hex("88 00"));
  EXPECT_TRUE(contains(text, "no code (1005: no status)"))
      << "RFC 6455 §7.1.5: a close frame without a code reads as 1005\n"
      << text;
}

TEST(Ch13_Trace, TextEscapesControlCharactersAndQuotes) {
  const std::string text = trace_sent(hex("81 06 61 0a 62 22 5c 01"));  // a\nb"\ and 0x01
  EXPECT_TRUE(contains(text, R"("a\nb\"\\\x01")"))
      << "a preview is one printable line: control characters become escapes\n"
      << text;
}

TEST(Ch13_Trace, TerminalControlsAreEscaped) {
  const std::string text = trace_sent(hex("81 06 1b 5b 32 4a c2 9b"));  // ESC [2J, then U+009B
  EXPECT_TRUE(contains(text, R"("\x1b[2J\u009b")"))
      << "a payload must not be able to clear or drive the reader's terminal\n"
      << text;
}

TEST(Ch13_Trace, TextKeepsUtf8AndEscapesInvalidBytes) {
  const std::string text = trace_sent(hex("81 05 c3 a9 ff 21 21"));  // "é", 0xff, "!!"
  EXPECT_TRUE(contains(text, "\"\xC3\xA9\\xff!!\"")) << text;
}

TEST(Ch13_Trace, SplitAtEveryByteGivesTheSameTrace) {
  // The handshake, a masked text frame, a 16-bit-length binary frame and a close.
  std::vector<uint8_t> input = bytes(kRequest);
  for (std::string_view frame : {kMaskedHello, std::string_view("88 82 00 00 00 00 03 e8")}) {
    const std::vector<uint8_t> b = hex(frame);
    input.insert(input.end(), b.begin(), b.end());
  }
  std::vector<uint8_t> big = {0x82, 0xfe, 0x00, 0xc8, 1, 2, 3, 4};  // 200 bytes, masked
  big.resize(big.size() + 200, 0x55);
  input.insert(input.end() - 8, big.begin(), big.end());  // before the close

  auto trace = [&input](std::vector<size_t> cuts) {
    std::string text;
    Tracer tracer(text, TraceOptions{});
    size_t from = 0;
    cuts.push_back(input.size());
    for (size_t cut : cuts) {
      tracer.on_received(std::span<const uint8_t>(input).subspan(from, cut - from));
      from = cut;
    }
    return text;
  };
  const std::string whole = trace({});
  ASSERT_TRUE(contains(whole, "len=200 (126 + 16-bit)")) << whole;
  for (size_t split = 0; split <= input.size(); ++split) {
    ASSERT_EQ(trace({split}), whole)
        << "input split at byte " << split << ": a frame is printed once, when it is complete";
  }
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
  EXPECT_EQ(trace(every_byte), whole) << "one byte per read";
}

TEST(Ch13_Trace, LeavesTheCallersBytesAsTheyWere) {
  const std::vector<uint8_t> masked = hex(kMaskedHello);
  std::vector<uint8_t> input = masked;
  OpenServerTrace t;
  t.tracer.on_received(input);
  EXPECT_EQ(input, masked) << "the trace unmasks a copy: the server still needs the masked bytes";
}

TEST(Ch13_Trace, ColourOffWritesNoEscapeBytes) {
  const std::string text = trace_received(hex(kMaskedHello));
  EXPECT_FALSE(contains(text, "\x1b")) << "no ANSI escapes unless colour is asked for";
}

TEST(Ch13_Trace, ColourOnMarksReceivedAndSentApart) {
  std::string text;
  Tracer tracer(text, TraceOptions{Role::kServer, true, ""});
  tracer.on_received(bytes(kRequest));
  tracer.on_sent(bytes(kResponse));
  EXPECT_TRUE(contains(text, "\x1b[36m<-")) << "received lines: cyan arrow";
  EXPECT_TRUE(contains(text, "\x1b[32m->")) << "sent lines: green arrow";
}

TEST(Ch13_Trace, LabelStartsEveryLine) {
  std::string text;
  Tracer tracer(text, TraceOptions{Role::kServer, false, "[7] "});
  tracer.on_received(bytes(kRequest));
  tracer.note("connection from 127.0.0.1:5000");
  size_t lines = 0;
  for (size_t at = 0; at < text.size(); at = text.find('\n', at) + 1, ++lines) {
    EXPECT_EQ(text.compare(at, 4, "[7] "), 0) << text;
  }
  EXPECT_EQ(lines, 8u) << text;
  EXPECT_TRUE(contains(text, "[7] -- connection from 127.0.0.1:5000\n")) << text;
}

TEST(Ch13_Trace, ClientRoleExpectsMaskedFramesSent) {
  std::string text;
  Tracer tracer(text, TraceOptions{Role::kClient, false, ""});
  tracer.on_sent(bytes(kRequest));
  tracer.on_received(bytes(kResponse));
  tracer.on_sent(hex(kMaskedHello));
  tracer.on_received(hex(kUnmaskedHello));
  EXPECT_TRUE(contains(text, "-> frame  FIN=1 RSV=000 opcode=0x1 (text)          MASK=1"))
      << "RFC 6455 §5.1: a client masks what it sends\n"
      << text;
  EXPECT_TRUE(contains(text, "<- frame  FIN=1 RSV=000 opcode=0x1 (text)          MASK=0")) << text;
}

TEST(Ch13_Trace, HeadLinesArePrintedAsTheyAre) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(bytes("GET / HTTP/1.1\r\nsec-ch-ua: \"Chromium\";v=\"156\"\r\nX: a\x01\r\n"));
  EXPECT_TRUE(contains(text, "<- sec-ch-ua: \"Chromium\";v=\"156\"\n"))
      << "quotes in a header are not escaped: the line is shown as it came\n"
      << text;
  EXPECT_TRUE(contains(text, "<- X: a\\x01\n")) << "only control bytes are escaped\n" << text;
}

TEST(Ch13_Trace, PlainHttpBodyIsCountedNotDecoded) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(bytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  tracer.on_sent(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n<p>x"));
  tracer.on_sent(bytes("!"));
  EXPECT_TRUE(contains(text, "<- (empty line: end of the head)\n")) << text;
  EXPECT_TRUE(contains(text, "-> (body: 5 bytes)\n")) << text;
  EXPECT_FALSE(contains(text, "frame")) << "no upgrade, no frames\n" << text;
}

TEST(Ch13_Trace, SecondRequestOnTheSameConnectionIsPrinted) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(bytes("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(contains(text, "<- GET /b HTTP/1.1\n")) << "HTTP/1.1 keeps the connection\n" << text;
}

// ---- adversarial: invalid frames, huge payloads, cut-short input -------------------------------

TEST(Ch13_Trace, UnmaskedFrameFromAClientIsInvalid) {
  const std::string text = trace_received(hex(kUnmaskedHello));
  EXPECT_TRUE(contains(text, "<- invalid frame: frame-not-masked"))
      << "RFC 6455 §5.1: \"The server MUST close the connection upon receiving a frame that "
         "is not masked\"\n"
      << text;
}

TEST(Ch13_Trace, ReservedBitIsInvalid) {
  const std::string text = trace_received(hex("c1 85 37 fa 21 3d 7f 9f 4d 51 58"));
  EXPECT_TRUE(contains(text, "<- invalid frame: frame-reserved-bits")) << text;
  EXPECT_TRUE(contains(text, "header bytes c1;")) << text;
}

TEST(Ch13_Trace, BytesAfterAnInvalidFrameAreCountedAtTheClose) {
  OpenServerTrace t;
  t.tracer.on_received(hex(kUnmaskedHello));
  t.tracer.on_received(hex(kMaskedHello));
  t.tracer.on_closed();
  EXPECT_TRUE(contains(t.text, "<- (16 bytes after the invalid frame, not decoded)"))
      << "RFC 6455 §7.1.7: after a failure nothing more is processed\n"
      << t.text;
}

TEST(Ch13_Trace, PreviewOfAOneMebibytePayloadIsBounded) {
  const uint64_t length = uint64_t{1} << 20;
  const std::string text = trace_sent(server_frame(0x81, length, 'x'));
  EXPECT_TRUE(contains(text, "len=1048576 (127 + 64-bit)")) << text;
  EXPECT_TRUE(contains(text, "\"" + std::string(kTraceTextPreview, 'x') + "\"\xE2\x80\xA6(" +
                                 std::to_string(length - kTraceTextPreview) + " more bytes)"))
      << "at most kTraceTextPreview bytes are shown, then how many more there were";
  EXPECT_LT(text.size(), 300u) << "one line, whatever the payload's size";
}

TEST(Ch13_Trace, HugeDeclaredLengthCostsNothingAndIsReportedAtTheClose) {
  OpenServerTrace t;
  // A masked binary frame that declares 2^62 bytes and sends 3.
  t.tracer.on_received(hex("82 ff 40 00 00 00 00 00 00 00  01 02 03 04  aa bb cc"));
  EXPECT_EQ(t.text, "") << "a frame prints when its payload is complete";
  t.tracer.on_closed();
  EXPECT_TRUE(contains(t.text, "len=4611686018427387904 (127 + 64-bit)")) << t.text;
  EXPECT_TRUE(contains(t.text, "(cut short: 3 of 4611686018427387904 payload bytes came)"))
      << t.text;
}

TEST(Ch13_Trace, EndlessHeaderLineIsCut) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(bytes("GET /" + std::string(100000, 'a') + " HTTP/1.1\r\n"));
  EXPECT_LT(text.size(), kTraceLineLimit + 100) << "a hostile line costs a bounded amount";
  EXPECT_TRUE(contains(text, "(" + std::to_string(100000 + 15 - kTraceLineLimit) + " more bytes)"))
      << text;
}

}  // namespace
}  // namespace ws
