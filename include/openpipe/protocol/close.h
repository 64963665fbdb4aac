// Close frames (RFC 6455 §5.5.1) and status codes (§7.4): which codes may
// appear on the wire, parsing a close payload and building one.
// No state and no I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "openpipe/core/error.h"

namespace ws {

//> close.codes
// RFC 6455 §7.4.1, plus 1012-1014 registered with IANA after the RFC.
enum CloseCode : uint16_t {
  kCloseNormal = 1000,              // the purpose of the connection is fulfilled
  kCloseGoingAway = 1001,           // server shutting down, page navigated away
  kCloseProtocolError = 1002,       // the peer broke the protocol
  kCloseUnsupportedData = 1003,     // a message type we cannot accept
  kCloseNoStatus = 1005,            // never sent: "the close frame had no code"
  kCloseAbnormal = 1006,            // never sent: "the TCP connection just dropped"
  kCloseInvalidPayload = 1007,      // e.g. a text message that is not UTF-8
  kClosePolicyViolation = 1008,     // a generic "no" (e.g. a heartbeat missed)
  kCloseMessageTooBig = 1009,       // a message over our limit
  kCloseMandatoryExtension = 1010,  // client-only: an extension it needs is missing
  kCloseInternalError = 1011,       // the server hit an unexpected condition
  kCloseServiceRestart = 1012,      // IANA: the service is restarting
  kCloseTryAgainLater = 1013,       // IANA: temporary overload
  kCloseBadGateway = 1014,          // IANA: a gateway got an invalid response
  kCloseTlsHandshake = 1015,        // never sent: the TLS handshake failed
};
//< close.codes

// §7.4.2: a reason takes at most 125 - 2 bytes.
inline constexpr size_t kMaxCloseReason = 123;

// True if `code` may appear in a close frame: 1000-1003, 1007-1014,
// 3000-4999. False for 0-999, 1004-1006, 1015, 1016-2999 and >= 5000.
bool is_valid_close_code(uint16_t code);

struct ClosePayload {
  uint16_t code = kCloseNoStatus;  // kCloseNoStatus if the payload was empty
  std::string_view reason;         // UTF-8, points into the parsed payload
};

// Parses a received close payload: empty, or a 2-byte code plus a UTF-8
// reason. Errors: kCloseOneByteBody, kCloseInvalidCode (1002),
// kCloseInvalidUtf8 (1007).
Error parse_close_payload(std::span<const uint8_t> payload, ClosePayload& out);

// Appends the payload of a close frame to send: nothing for kCloseNoStatus,
// otherwise the code and `reason` cut to kMaxCloseReason bytes (on a UTF-8
// character boundary). Returns the number of bytes written (0 to 125).
using ClosePayloadBytes = std::array<uint8_t, 2 + kMaxCloseReason>;
size_t build_close_payload(uint16_t code, std::string_view reason, ClosePayloadBytes& out);

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 character.
std::string_view truncate_utf8(std::string_view text, size_t max_bytes);

}  // namespace ws
