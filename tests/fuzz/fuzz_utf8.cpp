// Fuzz harness (libFuzzer) for the UTF-8 validator of chapter 05
// (src/protocol/utf8.cpp): the fast validator (ASCII eight bytes at a time
// plus a DFA) against the simple reference read off Unicode Table 3-7.
//
// Invariants, for every input:
//   - is_valid_utf8 == is_valid_utf8_reference (the whole buffer);
//   - fed in two pieces, split at every position (or at 64 positions taken
//     from the input when it is long), the validator ends in the same
//     verdict as when fed whole: a character cut by a frame boundary counts;
//   - fed byte by byte, feed() first returns false exactly at the byte
//     first_invalid_utf8_byte_reference() names (fail fast, RFC 6455 §8.1),
//     and then stays failed;
//   - feed() on the whole input returns false iff the reference found an
//     invalid byte, and complete() agrees with the reference's verdict.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

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

// Splitting at every position costs O(n^2): beyond this, 64 positions.
constexpr size_t kEverySplitUpTo = 512;

void check_split(std::span<const uint8_t> bytes, size_t split, bool valid, bool has_invalid) {
  Utf8Validator v;
  bool first = v.feed(bytes.first(split));
  bool second = v.feed(bytes.subspan(split));
  FUZZ_CHECK((first && second) == !has_invalid, "split feed fails iff a byte is invalid");
  FUZZ_CHECK(v.failed() == has_invalid, "failed() agrees with the reference");
  FUZZ_CHECK(v.complete() == valid, "a split changes nothing: complete() agrees");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  const bool valid = is_valid_utf8_reference(bytes);
  const size_t first_invalid = first_invalid_utf8_byte_reference(bytes);
  const bool has_invalid = first_invalid < size;
  FUZZ_CHECK(first_invalid <= size, "the reference's index is inside the input");
  FUZZ_CHECK(!(valid && has_invalid), "the reference agrees with itself");

  FUZZ_CHECK(is_valid_utf8(bytes) == valid, "fast == reference on the whole buffer");

  Utf8Validator whole;
  FUZZ_CHECK(whole.feed(bytes) == !has_invalid, "feed() is false iff a byte is invalid");
  FUZZ_CHECK(whole.complete() == valid, "complete() == reference");

  //> fuzz.utf8-fail-fast
  // Byte by byte: the first false is at the reference's first invalid byte.
  Utf8Validator one;
  for (size_t i = 0; i < size; ++i) {
    bool ok = one.feed(bytes.subspan(i, 1));
    FUZZ_CHECK(ok == (i < first_invalid), "feed() fails exactly at the first invalid byte");
    FUZZ_CHECK(one.failed() == !ok, "failed() mirrors feed()");
  }
  FUZZ_CHECK(one.complete() == valid, "byte-by-byte feed: complete() == reference");
  //< fuzz.utf8-fail-fast

  if (size <= kEverySplitUpTo) {
    for (size_t split = 0; split <= size; ++split) check_split(bytes, split, valid, has_invalid);
  } else {
    for (size_t k = 0; k < 64; ++k) {
      size_t split = (size_t{data[k]} * 256 + data[size - 1 - k]) % (size + 1);
      check_split(bytes, split, valid, has_invalid);
    }
  }

  // The fast path reads eight bytes at a time: shift the input across every
  // alignment of the word to catch an off-by-one at a word edge.
  for (size_t skip = 1; skip < 8 && skip <= size; ++skip) {
    std::span<const uint8_t> tail = bytes.subspan(skip);
    FUZZ_CHECK(is_valid_utf8(tail) == is_valid_utf8_reference(tail), "fast == reference, shifted");
  }
  return 0;
}
