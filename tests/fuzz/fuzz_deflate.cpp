// Fuzz harness (libFuzzer) for permessage-deflate (RFC 7692, chapter 22): a
// server-role Connection that accepted "permessage-deflate" receives the fuzz
// input as the client's frames, in chunks of random sizes, and echoes every
// message (compressed: the threshold is 0). The input's first byte picks the
// policy and the limit, so both context-takeover paths and the bomb check run.
//
// Invariants, checked on every input:
//   - nothing crashes (AddressSanitizer and UBSan watch every access), and no
//     message is delivered larger than max_message_size (a bomb is stopped);
//   - text delivered is valid UTF-8 by the reference decoder;
//   - every echo the server wrote inflates (with zlib, called here directly)
//     back to exactly the message that was delivered.
//
// Input layout:  [options:1][chunk seed:1][client bytes (frames)...]
//   options bit 0: context takeover on both sides (else none, the default)
//           bit 1: max_message_size 4 KiB (else 1 MiB)
//           bit 2: the offer asks server_max_window_bits=8 (Z_RLE compressor)
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/deflate.h"
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

std::string request(bool window8) {
  return std::string(
             "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate") +
         (window8 ? "; server_max_window_bits=8" : "") + "\r\n\r\n";
}

class Echo : public ConnectionHandler {
 public:
  DeflateShared* shared = nullptr;
  uint64_t limit = 0;
  std::vector<std::string> delivered;  // messages echoed, in order

  void on_request(Connection& c, const HttpRequest&) override { c.accept({}, {}, shared); }
  void on_text(Connection& c, std::string_view text) override {
    FUZZ_CHECK(text.size() <= limit, "a text message over the limit");
    const auto bytes =
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    FUZZ_CHECK(is_valid_utf8_reference(bytes), "invalid UTF-8 delivered");
    if (c.send_text(text)) delivered.emplace_back(text);
  }
  void on_binary(Connection& c, std::span<const uint8_t> data) override {
    FUZZ_CHECK(data.size() <= limit, "a binary message over the limit");
    if (c.send_binary(data)) delivered.emplace_back(data.begin(), data.end());
  }
};

// Inflates every data frame the server wrote (after the 101) with zlib and
// compares it with what was delivered.
void check_echoes(std::string_view wire, const std::vector<std::string>& delivered,
                  bool keep_context) {
  const size_t head_end = wire.find("\r\n\r\n");
  FUZZ_CHECK(head_end != std::string_view::npos, "no 101");
  size_t at = head_end + 4;
  z_stream z{};
  FUZZ_CHECK(inflateInit2(&z, -15) == Z_OK, "inflateInit2");
  size_t next = 0;
  while (at + 2 <= wire.size()) {
    const uint8_t b0 = static_cast<uint8_t>(wire[at]), b1 = static_cast<uint8_t>(wire[at + 1]);
    size_t length = b1 & 0x7F, header = 2;
    if (length == 126) {
      length = static_cast<uint8_t>(wire[at + 2]) << 8 | static_cast<uint8_t>(wire[at + 3]);
      header = 4;
    } else if (length == 127) {
      length = 0;
      for (int i = 0; i < 8; ++i) length = length << 8 | static_cast<uint8_t>(wire[at + 2 + i]);
      header = 10;
    }
    FUZZ_CHECK(at + header + length <= wire.size(), "a frame cut short");
    std::string payload(wire.substr(at + header, length));
    at += header + length;
    const uint8_t opcode = b0 & 0x0F;
    if (opcode >= 8) continue;
    FUZZ_CHECK((b0 & 0x80) != 0, "echoes are single frames");
    FUZZ_CHECK(next < delivered.size(), "an echo nobody asked for");
    std::string message = payload;
    if (b0 & 0x40) {  // RSV1: inflate with the tail put back (§7.2.2)
      payload += std::string("\x00\x00\xff\xff", 4);
      message.assign(delivered[next].size() + 64, '\0');
      z.next_in = reinterpret_cast<Bytef*>(payload.data());
      z.avail_in = static_cast<uInt>(payload.size());
      z.next_out = reinterpret_cast<Bytef*>(message.data());
      z.avail_out = static_cast<uInt>(message.size());
      const int rc = inflate(&z, Z_SYNC_FLUSH);
      FUZZ_CHECK(rc == Z_OK || rc == Z_BUF_ERROR, "an echo that does not inflate");
      message.resize(message.size() - z.avail_out);
      if (!keep_context) inflateReset(&z);
    }
    FUZZ_CHECK(message == delivered[next], "an echo that differs from the message");
    ++next;
  }
  inflateEnd(&z);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t options = data[0];
  uint32_t seed = data[1] | 0x100u;
  std::vector<uint8_t> input(data + 2, data + size);

  DeflateConfig config;
  config.min_size = 0;
  config.server_context_takeover = config.client_context_takeover = (options & 1) != 0;
  DeflateShared shared(config);
  ConnectionLimits limits;
  limits.max_message_size = (options & 2) ? 4096 : 1 << 20;
  Echo echo;
  echo.shared = &shared;
  echo.limit = limits.max_message_size;
  Connection c(limits);
  const std::string head = request((options & 4) != 0);
  std::vector<uint8_t> head_bytes(head.begin(), head.end());
  c.receive_data(head_bytes, echo);
  FUZZ_CHECK(c.deflate() != nullptr, "the offer was accepted");

  std::string wire(reinterpret_cast<const char*>(c.pending_output().data()),
                   c.pending_output().size());
  c.mark_sent(wire.size());
  std::span<uint8_t> rest(input);
  while (!rest.empty()) {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
    const size_t n = std::min<size_t>(rest.size(), 1 + seed % 64);
    c.receive_data(rest.first(n), echo);
    rest = rest.subspan(n);
    const auto out = c.pending_output();
    wire.append(reinterpret_cast<const char*>(out.data()), out.size());
    c.mark_sent(out.size());
  }
  check_echoes(wire, echo.delivered, (options & 1) != 0);
  return 0;
}
