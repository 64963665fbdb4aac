// Running behind a reverse proxy (nginx, chapter 23, docs/deployment.md):
// the client's real address from X-Forwarded-For, and the answer that names
// the mistake when a proxy did not forward the upgrade. Owns nothing; the
// server decides whom to trust (ServerConfig::trusted_proxies).
// RFC 7239 §5.2 and the de-facto X-Forwarded-For; RFC 6455 §4.1 (Upgrade and
// Connection are hop-by-hop: RFC 9110 §7.6.1, a proxy drops them unless told).
#pragma once

#include <string>
#include <string_view>

#include "openpipe/protocol/http_parser.h"

namespace ws {

// "127.0.0.1:5432" -> "127.0.0.1", "[::1]:5432" -> "::1" (peer_name()'s form).
std::string peer_host(std::string_view peer);

// The last address of an X-Forwarded-For value ("203.0.113.7, 10.0.0.2" ->
// "10.0.0.2"), the one the nearest proxy appended; "" unless it is a valid
// IPv4 or IPv6 address (a header is no place for names or garbage).
std::string last_forwarded_address(std::string_view header);

// The body of the 426 for a request to a WebSocket path that is not an
// upgrade. A request that carries Sec-WebSocket-Key came from a WebSocket
// client: if it lost Upgrade/Connection, a proxy dropped them, and the text
// says which headers and which proxy settings.
std::string missing_upgrade_text(const HttpRequest& request);

}  // namespace ws
