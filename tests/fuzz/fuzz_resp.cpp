// Fuzz harness (libFuzzer) for the RESP parser of chapter 20
// (src/protocol/resp.cpp): a hostile broker's bytes. It parses the input as a
// stream of values twice, whole and split at a position taken from the input,
// and checks what resp.h promises: consumed <= size, kNeedMore takes every
// byte, the same values and the same error however the bytes were split,
// every value within the limits, and every value encodes to bytes that parse
// back to itself. Build and run it with `make fuzz FUZZ=resp`.
//
// Input layout:  [split:2][limits:1][RESP bytes...]
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "openpipe/protocol/resp.h"

namespace {

using namespace ws;

#define FUZZ_CHECK(condition, what)                                          \
  do {                                                                       \
    if (!(condition)) {                                                      \
      std::fprintf(stderr, "invariant broken: %s (%s)\n", what, #condition); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

// The defaults, or tiny limits that short inputs can reach.
RespLimits pick_limits(uint8_t selector) {
  if ((selector & 1) == 0) return RespLimits{};
  RespLimits tiny;
  tiny.max_bulk_length = 16;
  tiny.max_array_length = 4;
  tiny.max_depth = 3;
  tiny.max_line_length = 12;
  tiny.max_total_elements = 10;
  return tiny;
}

// Depth and element count of a value, to check the limits held.
void measure(const RespValue& v, size_t depth, size_t& max_depth, size_t& elements) {
  if (v.type != RespType::kArray && v.type != RespType::kPush) return;
  max_depth = std::max(max_depth, depth + 1);
  elements += v.elements.size();
  for (const RespValue& e : v.elements) measure(e, depth + 1, max_depth, elements);
}

void check_value(const RespValue& v, const RespLimits& limits) {
  if (v.type == RespType::kBulkString) {
    FUZZ_CHECK(v.text.size() <= limits.max_bulk_length, "bulk strings within the limit");
  }
  size_t depth = 0, elements = 0;
  measure(v, 0, depth, elements);
  FUZZ_CHECK(depth <= limits.max_depth, "nesting within max_depth");
  FUZZ_CHECK(elements <= limits.max_total_elements, "elements within max_total_elements");
  // What we parsed encodes to bytes that parse back to the same value.
  std::string bytes;
  resp_append(bytes, v);
  RespParser again(limits);
  RespResult r = again.feed(bytes);
  FUZZ_CHECK(r.status == ParseStatus::kOk && r.consumed == bytes.size(), "re-encoded parses");
  std::string twice;
  resp_append(twice, again.value());
  FUZZ_CHECK(twice == bytes, "re-encoded value is the same value");
}

struct Outcome {
  std::vector<std::string> values;  // each value, re-encoded
  RespError error = RespError::kNone;
  size_t consumed = 0;
};

// Feeds the pieces one after the other, taking every value on the way.
Outcome parse_stream(const RespLimits& limits,
                     const std::vector<std::span<const uint8_t>>& pieces) {
  RespParser parser(limits);
  Outcome out;
  for (std::span<const uint8_t> piece : pieces) {
    while (out.error == RespError::kNone) {
      RespResult r = parser.feed(piece);
      FUZZ_CHECK(r.consumed <= piece.size(), "consumed <= size");
      out.consumed += r.consumed;
      if (r.status == ParseStatus::kError) {
        FUZZ_CHECK(r.error != RespError::kNone, "kError says why");
        out.error = r.error;
        break;
      }
      FUZZ_CHECK(r.error == RespError::kNone, "no error without kError");
      if (r.status == ParseStatus::kNeedMore) {
        FUZZ_CHECK(r.consumed == piece.size(), "kNeedMore takes every byte");
        break;
      }
      FUZZ_CHECK(r.consumed > 0, "a value takes at least one byte");
      check_value(parser.value(), limits);
      std::string bytes;
      resp_append(bytes, parser.take());
      out.values.push_back(std::move(bytes));
      piece = piece.subspan(r.consumed);
      if (piece.empty()) break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t n = size - 3;
  std::span<const uint8_t> bytes(data + 3, n);
  const size_t cut = ((size_t{data[0]} << 8) | data[1]) % (n + 1);
  const RespLimits limits = pick_limits(data[2]);

  Outcome whole = parse_stream(limits, {bytes});
  Outcome split = parse_stream(limits, {bytes.first(cut), bytes.subspan(cut)});
  FUZZ_CHECK(whole.consumed <= n, "consumed <= size over the stream");
  FUZZ_CHECK(whole.error == split.error, "same error however the input is split");
  FUZZ_CHECK(whole.consumed == split.consumed, "same bytes consumed however the input is split");
  FUZZ_CHECK(whole.values == split.values, "same values however the input is split");
  return 0;
}
