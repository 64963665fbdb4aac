// The query string of a WebSocket URL (?room=lobby&name=ada), for the example
// programs: split on '&', percent-decoded, '+' read as a space (the form
// encoding browsers use). Owns nothing; knows no application. RFC 3986 §2.1, §3.4.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace app {

// "%41b+c" -> "Ab c"; nullopt if a '%' is not followed by two hex digits.
inline std::optional<std::string> percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] != '%') {
      out += text[i];
    } else {
      if (i + 2 >= text.size()) return std::nullopt;  // "%4" at the end
      const int high = hex(text[i + 1]);
      const int low = hex(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
  }
  return out;
}

// Every value of `name` in `query`, in order ("topic=a&topic=b" -> {"a", "b"}).
// A value that does not decode is skipped: the caller sees it as absent.
inline std::vector<std::string> query_values(std::string_view query, std::string_view name) {
  std::vector<std::string> values;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (auto value = percent_decode(raw)) values.push_back(std::move(*value));
  }
  return values;
}

// The first value of `name`, or nullopt if the query has none.
inline std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  std::vector<std::string> values = query_values(query, name);
  if (values.empty()) return std::nullopt;
  return std::move(values.front());
}

}  // namespace app
