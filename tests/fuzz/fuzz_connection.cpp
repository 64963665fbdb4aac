// Fuzz harness (libFuzzer) for the frame decoder driving the server-role
// connection state machine (src/protocol/frame.cpp, src/protocol/connection.cpp,
// chapters 04-08). A Connection accepts a valid handshake, then the fuzz input
// arrives as the client's frames, in chunks of random sizes, with the output
// drained at random moments, as a real socket would. The handler echoes every
// message, like the /echo route.
//
// Invariants, checked on every input:
//   - nothing crashes (AddressSanitizer and UBSan watch every access);
//   - every delivered message is within max_message_size, and text is valid
//     UTF-8 by the simple reference decoder (the connection used the fast one);
//   - the output is a sequence of valid server frames: FIN set, RSV 0, known
//     opcode, unmasked, minimal length encoding, control frames <= 125 bytes;
//     the data frames are exactly the echoes that send_*() accepted, in order;
//     the pongs repeat the pings' payloads, in order; a close frame, if any,
//     is the last frame and carries a valid code and a UTF-8 reason;
//   - once CLOSED, more input produces no output and no event.
//
// Input layout:  [options:1][chunk seed:1][client bytes (frames)...]
//   options bits 0-1: max_message_size (16 MiB, 1024, 125, 1)
//           bit 2:    max_output tiny (512 bytes) instead of 64 MiB
//           bit 3:    a text message starting with 'C' makes the server close(4000)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/close.h"
#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/utf8.h"

namespace {

using namespace ws;

#define FUZZ_CHECK(condition, what)                                          \
  do {                                                                       \
    if (!(condition)) {                                                      \
      std::fprintf(stderr, "invariant broken: %s (%s)\n", what, #condition); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

constexpr std::string_view kRequest =
    "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A small deterministic generator: chunk sizes and drain moments come from
// the input, so every crash replays exactly.
struct Rng {
  uint32_t state;
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

// One frame as the client sees it. Parsed here, independently of frame.cpp,
// so that a bug in the decoder cannot hide itself by being on both sides.
struct WireFrame {
  uint8_t opcode;
  std::string payload;
};

// Parses `wire` (everything the server wrote after its 101) and checks every
// header rule a server frame must follow.
std::vector<WireFrame> parse_server_frames(std::string_view wire) {
  std::vector<WireFrame> frames;
  size_t at = 0;
  while (at < wire.size()) {
    FUZZ_CHECK(wire.size() - at >= 2, "no frame is cut short");
    auto b0 = static_cast<uint8_t>(wire[at]);
    auto b1 = static_cast<uint8_t>(wire[at + 1]);
    FUZZ_CHECK((b0 & 0x80) != 0, "the server never fragments (FIN set)");
    FUZZ_CHECK((b0 & 0x70) == 0, "RFC 6455 §5.2: RSV bits are 0");
    uint8_t opcode = b0 & 0x0F;
    FUZZ_CHECK(opcode == 1 || opcode == 2 || opcode == 8 || opcode == 10,
               "the server sends text, binary, close or pong");
    FUZZ_CHECK((b1 & 0x80) == 0, "RFC 6455 §5.1: a server MUST NOT mask");
    uint64_t length = b1 & 0x7F;
    size_t header = 2;
    if (length == 126) {
      FUZZ_CHECK(wire.size() - at >= 4, "16-bit length present");
      length =
          (uint64_t{static_cast<uint8_t>(wire[at + 2])} << 8) | static_cast<uint8_t>(wire[at + 3]);
      FUZZ_CHECK(length >= 126, "RFC 6455 §5.2: minimal length encoding (16-bit)");
      header = 4;
    } else if (length == 127) {
      FUZZ_CHECK(wire.size() - at >= 10, "64-bit length present");
      length = 0;
      for (size_t i = 0; i < 8; ++i)
        length = (length << 8) | static_cast<uint8_t>(wire[at + 2 + i]);
      FUZZ_CHECK(length > 0xFFFF, "RFC 6455 §5.2: minimal length encoding (64-bit)");
      FUZZ_CHECK((length >> 63) == 0, "RFC 6455 §5.2: the top bit of the length is 0");
      header = 10;
    }
    if (opcode >= 8) FUZZ_CHECK(length <= 125, "RFC 6455 §5.5: control payload <= 125");
    FUZZ_CHECK(wire.size() - at - header >= length, "the payload is all there");
    frames.push_back({opcode, std::string(wire.substr(at + header, length))});
    at += header + length;
  }
  return frames;
}

class Harness final : public ConnectionHandler {
 public:
  explicit Harness(uint64_t max_message, bool close_on_c)
      : max_message_(max_message), close_on_c_(close_on_c) {}

  void on_request(Connection& c, const HttpRequest&) override {
    FUZZ_CHECK(c.accept() == Error::kNone, "the RFC's own request is accepted");
    ++events;
  }
  void on_open(Connection&) override { ++events; }
  void on_text(Connection& c, std::string_view text) override {
    ++events;
    FUZZ_CHECK(c.state() == State::kOpen || c.state() == State::kClosing, "messages while open");
    FUZZ_CHECK(text.size() <= max_message_, "a text message is within max_message_size");
    FUZZ_CHECK(is_valid_utf8_reference(as_bytes(text)), "RFC 6455 §8.1: text is valid UTF-8");
    if (close_on_c_ && !text.empty() && text[0] == 'C') {
      c.close(4000, "bye");
      return;
    }
    if (c.send_text(text)) echoes.push_back({1, std::string(text)});
  }
  void on_binary(Connection& c, std::span<const uint8_t> data) override {
    ++events;
    FUZZ_CHECK(data.size() <= max_message_, "a binary message is within max_message_size");
    if (c.send_binary(data)) echoes.push_back({2, std::string(data.begin(), data.end())});
  }
  void on_ping(Connection& c, std::span<const uint8_t> payload) override {
    ++events;
    FUZZ_CHECK(payload.size() <= 125, "RFC 6455 §5.5: a ping payload is <= 125 bytes");
    // The pong is queued before on_ping runs, and only while OPEN.
    if (c.state() == State::kOpen) pings.emplace_back(payload.begin(), payload.end());
  }
  void on_pong(Connection&, std::span<const uint8_t> payload) override {
    ++events;
    FUZZ_CHECK(payload.size() <= 125, "RFC 6455 §5.5: a pong payload is <= 125 bytes");
  }
  void on_close(Connection& c, uint16_t code, std::string_view reason) override {
    ++events;
    ++closes;
    FUZZ_CHECK(closes == 1, "on_close is called once");
    FUZZ_CHECK(c.state() == State::kClosed, "on_close comes with CLOSED");
    FUZZ_CHECK(reason.size() <= kMaxCloseReason, "a close reason fits 123 bytes");
    FUZZ_CHECK(code == kCloseAbnormal || code == kCloseNoStatus || is_valid_close_code(code),
               "on_close reports a code that may exist");
  }
  void on_error(Connection&, Error error) override {
    ++events;
    uint16_t code = close_code(error);
    FUZZ_CHECK(code == 1002 || code == 1007 || code == 1009,
               "a frame error fails with 1002/1007/1009");
  }

  size_t events = 0;
  int closes = 0;
  std::vector<WireFrame> echoes;   // data frames the server agreed to send
  std::vector<std::string> pings;  // payloads that must come back as pongs

 private:
  uint64_t max_message_;
  bool close_on_c_;
};

// Moves the pending output to `wire`, as a socket write would.
void drain(Connection& c, std::string& wire) {
  std::span<const uint8_t> out = c.pending_output();
  wire.append(reinterpret_cast<const char*>(out.data()), out.size());
  c.mark_sent(out.size());
}

void check_output(const Harness& h, std::string_view wire, bool small_output) {
  std::vector<WireFrame> frames = parse_server_frames(wire);
  size_t data = 0, pongs = 0;
  bool closed = false;
  for (const WireFrame& f : frames) {
    FUZZ_CHECK(!closed, "RFC 6455 §5.5.1: nothing follows a close frame");
    if (f.opcode == 8) {
      closed = true;
      FUZZ_CHECK(f.payload.size() != 1, "a close body is empty or >= 2 bytes");
      if (f.payload.size() >= 2) {
        uint16_t code = static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8) |
                                              static_cast<uint8_t>(f.payload[1]));
        FUZZ_CHECK(is_valid_close_code(code), "RFC 6455 §7.4: the close code may be sent");
        FUZZ_CHECK(is_valid_utf8_reference(as_bytes(f.payload).subspan(2)),
                   "the close reason is UTF-8");
      }
    } else if (f.opcode == 10) {
      // With a tiny output buffer a pong may be dropped when it is full; the
      // ones that went out are still the pings' payloads, in order.
      while (small_output && pongs < h.pings.size() && h.pings[pongs] != f.payload) ++pongs;
      FUZZ_CHECK(pongs < h.pings.size(), "no pong without a ping");
      FUZZ_CHECK(h.pings[pongs] == f.payload, "RFC 6455 §5.5.2: a pong repeats the ping");
      ++pongs;
    } else {
      FUZZ_CHECK(data < h.echoes.size(), "no data frame the handler did not send");
      FUZZ_CHECK(h.echoes[data].opcode == f.opcode, "echo has the message's type");
      FUZZ_CHECK(h.echoes[data].payload == f.payload, "echo has the message's bytes");
      ++data;
    }
  }
  FUZZ_CHECK(data == h.echoes.size(), "every accepted send reached the wire");
  if (!small_output) FUZZ_CHECK(pongs == h.pings.size(), "every ping got its pong");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr uint64_t kMaxMessage[] = {16 << 20, 1024, 125, 1};
  const uint8_t options = data[0];
  ConnectionLimits limits;
  limits.max_message_size = kMaxMessage[options & 3];
  const bool small_output = (options & 4) != 0;
  if (small_output) limits.max_output = 512;
  Rng rng{0x9E3779B9u ^ (uint32_t{data[1]} * 0x01000193u)};

  Harness h(limits.max_message_size, (options & 8) != 0);
  Connection c(limits);
  std::vector<uint8_t> request(kRequest.begin(), kRequest.end());
  c.receive_data(request, h);
  FUZZ_CHECK(c.state() == State::kOpen, "the handshake opens the connection");
  std::string head;
  drain(c, head);
  FUZZ_CHECK(head.starts_with("HTTP/1.1 101 "), "the answer is a 101");

  // The client's bytes, in a copy: receive_data unmasks payloads in place.
  std::vector<uint8_t> input(data + 2, data + size);
  //> fuzz.connection-chunks
  std::string wire;
  size_t at = 0;
  while (at < input.size()) {
    size_t chunk = 1 + rng.next() % (size_t{1} << (rng.next() % 12));
    chunk = std::min(chunk, input.size() - at);
    const bool was_closed = c.state() == State::kClosed;
    const size_t events_before = h.events;
    const size_t output_before = wire.size() + c.buffered_amount();
    c.receive_data(std::span<uint8_t>(input).subspan(at, chunk), h);
    at += chunk;
    if (was_closed) {
      FUZZ_CHECK(h.events == events_before, "no event after CLOSED");
      FUZZ_CHECK(wire.size() + c.buffered_amount() == output_before, "no output after CLOSED");
    }
    FUZZ_CHECK(c.wants_close_transport() == (c.state() == State::kClosed),
               "TCP closes exactly when CLOSED");
    if (rng.next() % 4 != 0) drain(c, wire);
  }
  //< fuzz.connection-chunks
  // The client goes away: an open connection ends with 1006, once.
  const bool was_closed = c.state() == State::kClosed;
  c.receive_eof(h);
  FUZZ_CHECK(c.state() == State::kClosed, "EOF closes");
  FUZZ_CHECK(h.closes == 1, "every opened connection reports on_close once");
  if (!was_closed) FUZZ_CHECK(c.close_code() == kCloseAbnormal, "RFC 6455 §7.1.5: EOF is 1006");
  drain(c, wire);
  check_output(h, wire, small_output);
  return 0;
}
