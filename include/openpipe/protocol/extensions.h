// The Sec-WebSocket-Extensions header (RFC 6455 §9.1): its grammar, taken
// apart into offers (a name and its parameters) and put back together.
// Owns nothing and knows no extension: what an offer means is decided by the
// extension itself (permessage-deflate: deflate.h). RFC 7692 §5 (negotiation).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ws {

//> extensions.types
// One element of the list: "permessage-deflate; client_max_window_bits=10"
// is {name "permessage-deflate", params {{"client_max_window_bits", "10"}}}.
struct ExtensionParam {
  std::string name;        // a token, as sent (compare with equals_ignore_case)
  std::string value;       // unquoted; empty if none was given
  bool has_value = false;  // "name=value" rather than "name"
};

struct ExtensionOffer {
  std::string name;                    // the extension's token
  std::vector<ExtensionParam> params;  // in the order they came
};
//< extensions.types

// Limits on what a client may put in its headers: a 8 KiB line could
// otherwise hold thousands of empty offers.
inline constexpr size_t kMaxExtensionOffers = 16;  // elements in all headers together
inline constexpr size_t kMaxExtensionParams = 16;  // parameters of one element

// Parses every value of the header (the HTTP parser gives them in order;
// RFC 7230 §3.2.2: several lines are one comma-separated list). Appends the
// elements to `out`. False if the syntax is broken or a limit is passed:
// then nothing the header says can be trusted, and every offer is declined.
bool parse_extensions(const std::vector<std::string_view>& values,
                      std::vector<ExtensionOffer>& out);

// "name; p1; p2=v" (values that are tokens are written as they are).
std::string format_extension(const ExtensionOffer& extension);

}  // namespace ws
