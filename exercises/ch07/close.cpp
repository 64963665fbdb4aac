// EXERCISE SKELETON for chapter 07 (tutorial/07-close.md): src/protocol/close.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=07
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/protocol/close.cpp 07-close.md
// Close frames (RFC 6455 §5.5.1) and status codes (§7.4): see close.h.
// The closing handshake itself is the connection's job (connection.cpp,
// chapter 08); this file only reads and writes close payloads. Tutorial: chapter 07.
#include "openpipe/protocol/close.h"
#include "todo.h"  // todo(): what every stub below calls

#include "openpipe/protocol/utf8.h"

namespace ws {

// Which codes may appear in a close frame on the wire (§7.4.1, §7.4.2).
bool is_valid_close_code(uint16_t code) {
  (void)code;
  todo("is_valid_close_code (tutorial/07-close.md, region close.valid-code)");
}

// §5.5.1: "If there is a body, the first two bytes of the body MUST be a
// 2-byte unsigned integer (in network byte order) representing a status code
// ... Following the 2-byte integer, the body MAY contain UTF-8-encoded data".
Error parse_close_payload(std::span<const uint8_t> payload, ClosePayload& out) {
  (void)payload;
  (void)out;
  todo("parse_close_payload (tutorial/07-close.md, region close.parse)");
}

size_t build_close_payload(uint16_t code, std::string_view reason, ClosePayloadBytes& out) {
  (void)code;
  (void)reason;
  (void)out;
  todo("build_close_payload (tutorial/07-close.md, region close.build)");
}

std::string_view truncate_utf8(std::string_view text, size_t max_bytes) {
  (void)text;
  (void)max_bytes;
  todo("truncate_utf8 (tutorial/07-close.md, region close.truncate)");
}

}  // namespace ws
