// Test helpers: bytes from hex strings and back, for bytes-in/bytes-out tests.
// Header-only, used by every chapter's tests; no production code includes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ws::test {

// "81 05 48 65" -> {0x81, 0x05, 0x48, 0x65}. Spaces (and newlines) are
// ignored, so long vectors can be laid out for reading. Aborts on a bad digit
// or an odd count: a typo in a test vector must not pass silently.
inline std::vector<uint8_t> hex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> out;
  int high = -1;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t') continue;
    int d = digit(c);
    if (d < 0) std::abort();  // not a hex digit
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | d));
      high = -1;
    }
  }
  if (high >= 0) std::abort();  // odd number of digits
  return out;
}

// {0x81, 0x05} -> "81 05": readable in failure messages.
inline std::string to_hex(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < data.size(); ++i) {
    if (i > 0) out += ' ';
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xF];
  }
  return out;
}

// The bytes of a string as they are: bytes("Hello") -> {0x48, 0x65, ...}.
inline std::vector<uint8_t> bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

}  // namespace ws::test
