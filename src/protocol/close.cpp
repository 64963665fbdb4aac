// Close frames (RFC 6455 §5.5.1) and status codes (§7.4): see close.h.
// The closing handshake itself is the connection's job (connection.cpp,
// chapter 08); this file only reads and writes close payloads. Tutorial: chapter 07.
#include "openpipe/protocol/close.h"

#include "openpipe/protocol/utf8.h"

namespace ws {

//> close.valid-code
// Which codes may appear in a close frame on the wire (§7.4.1, §7.4.2).
bool is_valid_close_code(uint16_t code) {
  // 3000-3999: registered with IANA by libraries and frameworks;
  // 4000-4999: private use. Both are for applications, so both pass.
  if (code >= 3000 && code <= 4999) return true;
  switch (code) {
    case kCloseNormal:
    case kCloseGoingAway:
    case kCloseProtocolError:
    case kCloseUnsupportedData:
    case kCloseInvalidPayload:
    case kClosePolicyViolation:
    case kCloseMessageTooBig:
    case kCloseMandatoryExtension:
    case kCloseInternalError:
    case kCloseServiceRestart:
    case kCloseTryAgainLater:
    case kCloseBadGateway: return true;
    default:
      // 0-999 unused; 1004 reserved; 1005, 1006 and 1015 "MUST NOT be set
      // as a status code in a Close control frame by an endpoint"; the rest
      // of 1016-2999 is not defined yet; 5000 and up is no range at all.
      return false;
  }
}
//< close.valid-code

//> close.parse
// §5.5.1: "If there is a body, the first two bytes of the body MUST be a
// 2-byte unsigned integer (in network byte order) representing a status code
// ... Following the 2-byte integer, the body MAY contain UTF-8-encoded data".
Error parse_close_payload(std::span<const uint8_t> payload, ClosePayload& out) {
  if (payload.empty()) {
    out = ClosePayload{kCloseNoStatus, {}};  // no body: the application sees 1005
    return Error::kNone;
  }
  if (payload.size() == 1) return Error::kCloseOneByteBody;  // half a code
  const uint16_t code = static_cast<uint16_t>(payload[0] << 8 | payload[1]);
  if (!is_valid_close_code(code)) return Error::kCloseInvalidCode;
  const std::span<const uint8_t> reason = payload.subspan(2);
  if (!is_valid_utf8(reason)) return Error::kCloseInvalidUtf8;  // §8.1: fail with 1007
  out.code = code;
  out.reason = {reinterpret_cast<const char*>(reason.data()), reason.size()};
  return Error::kNone;
}
//< close.parse

//> close.build
size_t build_close_payload(uint16_t code, std::string_view reason, ClosePayloadBytes& out) {
  // 1005 means "no code": it is said by sending no body at all.
  if (code == kCloseNoStatus) return 0;
  out[0] = static_cast<uint8_t>(code >> 8);  // network byte order
  out[1] = static_cast<uint8_t>(code);
  // §5.5: a control frame's payload is at most 125 bytes, so 123 for the reason.
  const std::string_view cut = truncate_utf8(reason, kMaxCloseReason);
  for (size_t i = 0; i < cut.size(); ++i) out[2 + i] = static_cast<uint8_t>(cut[i]);
  return 2 + cut.size();
}
//< close.build

//> close.truncate
std::string_view truncate_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  // Cut at max_bytes, then step back while the first byte left out is a
  // continuation byte (10xxxxxx): it belongs to a character we would split.
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}
//< close.truncate

}  // namespace ws
