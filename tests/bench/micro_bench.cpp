// Chapter 16 — micro-benchmarks (Google Benchmark) of the protocol's hot
// routines, with no sockets: unmasking (RFC 6455 §5.3), UTF-8 validation
// (§8.1), frame header decoding (§5.2), the HTTP upgrade request parser (§4.1),
// and one whole echo through a server-role Connection. Each fast routine runs
// next to its simple reference, so the speed-up is measured, not claimed.
//
//   make bench-micro                        build and run all of them
//   build/micro_bench --benchmark_filter=Utf8   only some
//
// Not a test: `make test` never runs it (no timed assertions anywhere).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/frame.h"
#include "openpipe/protocol/http_parser.h"
#include "openpipe/protocol/utf8.h"

namespace ws {
namespace {

constexpr MaskKey kKey = {0x37, 0xfa, 0x21, 0x3d};  // RFC 6455 §5.7's example key

// ---- unmasking (§5.3) ---------------------------------------------------------------

// The payload starts 6 bytes into the buffer, where it sits in a read buffer
// after a masked frame's 2-byte header and 4-byte key: not 8-byte aligned.
constexpr size_t kPayloadOffset = 6;

template <void (*Mask)(std::span<uint8_t>, const MaskKey&, uint64_t)>
void BM_Unmask(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> buffer(size + kPayloadOffset, 0x55);
  std::span<uint8_t> payload(buffer.data() + kPayloadOffset, size);
  for (auto _ : state) {
    Mask(payload, kKey, 0);
    benchmark::DoNotOptimize(buffer.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_Unmask<apply_mask>)->Name("Unmask/fast")->Arg(20)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(BM_Unmask<apply_mask_reference>)
    ->Name("Unmask/reference")
    ->Arg(20)
    ->Arg(1024)
    ->Arg(64 * 1024);

// ---- UTF-8 validation (§8.1) -----------------------------------------------------------

// Chat-like English with the odd typographic character: mostly ASCII.
constexpr std::string_view kAsciiHeavy =
    "The quick brown fox jumps over the lazy dog, then sends {\"type\":\"chat\","
    "\"text\":\"see you at the café at 5 — don’t be late\",\"id\":12345}. ";
// The same idea in six scripts: 1, 2, 3 and 4-byte characters mixed.
constexpr std::string_view kMultilingual =
    "English: hello world. Ελληνικά: γειά σου κόσμε. Русский: привет, мир. "
    "中文: 你好，世界。 日本語: こんにちは世界。 Emoji: 👋🌍🚀. ";

std::vector<uint8_t> repeat_to(std::string_view unit, size_t size) {
  std::vector<uint8_t> out;
  while (out.size() + unit.size() <= size) out.insert(out.end(), unit.begin(), unit.end());
  while (out.size() < size) out.push_back(' ');  // pad with ASCII: still valid
  return out;
}

// fast: is_valid_utf8 (ASCII words + DFA); else is_valid_utf8_reference.
void BM_Utf8(benchmark::State& state, std::string_view unit, bool fast) {
  const std::vector<uint8_t> text = repeat_to(unit, 64 * 1024);
  for (auto _ : state) {
    bool valid =
        fast ? is_valid_utf8(std::span<const uint8_t>(text)) : is_valid_utf8_reference(text);
    benchmark::DoNotOptimize(valid);
    if (!valid) state.SkipWithError("the benchmark text is not valid UTF-8");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(BM_Utf8, ascii_heavy_fast, kAsciiHeavy, true)->Name("Utf8/ascii-heavy/fast");
BENCHMARK_CAPTURE(BM_Utf8, ascii_heavy_reference, kAsciiHeavy, false)
    ->Name("Utf8/ascii-heavy/reference");
BENCHMARK_CAPTURE(BM_Utf8, mixed_fast, kMultilingual, true)->Name("Utf8/mixed/fast");
BENCHMARK_CAPTURE(BM_Utf8, mixed_reference, kMultilingual, false)->Name("Utf8/mixed/reference");

// ---- frame header decoding (§5.2) -------------------------------------------------------

// One masked text frame with a 20-byte payload (26 bytes on the wire). The
// decoder unmasks the payload in place, so every pass flips it back and
// forth; the header bytes are never modified.
void BM_DecodeFrame20(benchmark::State& state) {
  std::vector<uint8_t> frame = {0x81, 0x80 | 20, kKey[0], kKey[1], kKey[2], kKey[3]};
  frame.resize(frame.size() + 20, 'x');
  FrameDecoder decoder(Role::kServer, 1 << 20);
  for (auto _ : state) {
    DecodeResult result = decoder.decode(frame);
    benchmark::DoNotOptimize(result);
    if (!result.frame_end) state.SkipWithError("the frame did not decode in one call");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_DecodeFrame20)->Name("FrameDecoder/masked-20B");

// ---- the HTTP upgrade request (§4.1) ----------------------------------------------------

constexpr std::string_view kChromeRequest =
    "GET /echo HTTP/1.1\r\n"
    "Host: localhost:8000\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://localhost:8000\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

void BM_ParseChromeRequest(benchmark::State& state) {
  HttpRequestParser parser;
  for (auto _ : state) {
    parser.reset();
    ParseResult result = parser.feed(as_bytes(kChromeRequest));
    benchmark::DoNotOptimize(result);
    if (result.status != ParseStatus::kOk) state.SkipWithError("the request did not parse");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChromeRequest.size()));
}
BENCHMARK(BM_ParseChromeRequest)->Name("HttpRequestParser/chrome-upgrade");

// ---- one whole echo, protocol only --------------------------------------------------------

// What the echo server's protocol layer does per message, without the
// kernel: decode and unmask a 20-byte text frame, validate it, call the
// handler, which queues the reply; then "send" it (mark_sent).
class EchoHandler final : public ConnectionHandler {
 public:
  void on_request(Connection& c, const HttpRequest&) override { c.accept(); }
  void on_text(Connection& c, std::string_view text) override { c.send_text(text); }
};

void BM_ConnectionEcho20(benchmark::State& state) {
  EchoHandler handler;
  Connection connection;
  std::string request(kChromeRequest);
  connection.receive_data({reinterpret_cast<uint8_t*>(request.data()), request.size()}, handler);
  connection.mark_sent(connection.buffered_amount());  // the 101
  const std::vector<uint8_t> frame = [] {
    std::vector<uint8_t> f = {0x81, 0x80 | 20, kKey[0], kKey[1], kKey[2], kKey[3]};
    f.resize(f.size() + 20, 'x');
    apply_mask(std::span(f).subspan(6), kKey);
    return f;
  }();
  std::vector<uint8_t> input(frame.size());
  for (auto _ : state) {
    std::memcpy(input.data(), frame.data(), frame.size());  // receive_data unmasks in place
    connection.receive_data(input, handler);
    benchmark::DoNotOptimize(connection.pending_output().data());
    connection.mark_sent(connection.buffered_amount());
  }
  if (connection.state() != State::kOpen) state.SkipWithError("the connection did not stay open");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ConnectionEcho20)->Name("Connection/echo-20B");

}  // namespace
}  // namespace ws

BENCHMARK_MAIN();
