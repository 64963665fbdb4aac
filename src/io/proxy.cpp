// Behind a reverse proxy. See include/openpipe/io/proxy.h.
#include "openpipe/io/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace ws {

std::string peer_host(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    size_t close = peer.find(']');
    return std::string(peer.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  return std::string(peer.substr(0, peer.rfind(':')));
}

//> proxy.last-forwarded
std::string last_forwarded_address(std::string_view header) {
  size_t comma = header.rfind(',');
  std::string_view last = comma == std::string_view::npos ? header : header.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  if (last.empty() || last.size() >= INET6_ADDRSTRLEN) return {};
  std::string address(last);
  in6_addr scratch{};
  if (::inet_pton(AF_INET, address.c_str(), &scratch) == 1) return address;
  if (::inet_pton(AF_INET6, address.c_str(), &scratch) == 1) return address;
  return {};
}
//< proxy.last-forwarded

//> proxy.missing-upgrade
std::string missing_upgrade_text(const HttpRequest& request) {
  if (!request.header("Sec-WebSocket-Key")) {
    return "This is a WebSocket endpoint: connect with a WebSocket client.\n";
  }
  return "This is a WebSocket endpoint, and this request came from a WebSocket client "
         "(it has Sec-WebSocket-Key), but the 'Upgrade: websocket' and 'Connection: Upgrade' "
         "headers are missing. A proxy in front of this server probably dropped them: they "
         "are hop-by-hop headers. With nginx:\n"
         "    proxy_http_version 1.1;\n"
         "    proxy_set_header Upgrade $http_upgrade;\n"
         "    proxy_set_header Connection \"upgrade\";\n"
         "(see docs/deployment.md)\n";
}
//< proxy.missing-upgrade

}  // namespace ws
