// UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires of text messages and
// close reasons). Incremental: a message may be checked piece by piece as its
// frames and reads arrive, and validation fails at the first invalid byte.
// A simple reference decoder and a fast one (ASCII runs eight bytes at a time
// plus a small state machine) are tested against each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ws {

class Utf8Validator {
 public:
  // Checks the next bytes of a stream. Returns false as soon as a byte cannot
  // continue any valid UTF-8 sequence (overlong forms, surrogates U+D800 to
  // U+DFFF, code points above U+10FFFF, stray continuation bytes...); after
  // that the validator stays failed until reset().
  bool feed(std::span<const uint8_t> bytes);
  bool feed(std::string_view text) {
    return feed({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }
  // True if everything fed so far is valid and no sequence is cut short: the
  // check to make at the end of a message.
  bool complete() const { return state_ == kAccept; }
  bool failed() const { return state_ == kReject; }
  void reset() { state_ = kAccept; }

  // Implementation detail exposed for tests: the DFA states.
  static constexpr uint8_t kAccept = 0;
  static constexpr uint8_t kReject = 1;

 private:
  uint8_t state_ = kAccept;
};

// Whole-buffer checks: fast, and the simple reference.
bool is_valid_utf8(std::span<const uint8_t> bytes);
bool is_valid_utf8(std::string_view text);
bool is_valid_utf8_reference(std::span<const uint8_t> bytes);

// The index of the first byte at which `bytes` stops being a valid prefix of
// UTF-8, or bytes.size() if every byte is fine (the sequence may still be
// incomplete at the end). Used by tests to prove the fail-fast rule.
size_t first_invalid_utf8_byte_reference(std::span<const uint8_t> bytes);

}  // namespace ws
