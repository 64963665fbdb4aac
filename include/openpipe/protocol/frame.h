// RFC 6455 §5.2 frames: the header layout, an incremental decoder that hands
// out payload (unmasked in place) as it arrives, the encoder, and masking
// (§5.3) in a simple reference form and a word-at-a-time form.
// Owns: the bytes of a header that arrived in pieces. Does not own payloads,
// does not know about messages (message rules live in connection.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <vector>

#include "openpipe/core/buffer.h"
#include "openpipe/core/error.h"

namespace ws {

//> frame.opcode
enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};
//< frame.opcode

// "text", "binary", "close", ... ("reserved" for the others).
const char* to_string(Opcode opcode);
// Prints the name (and the value of a reserved opcode): test failures read "ping", not "<09>".
std::ostream& operator<<(std::ostream& out, Opcode opcode);
// §5.5: control frames have the high bit of the opcode set.
constexpr bool is_control(Opcode opcode) {
  return (static_cast<uint8_t>(opcode) & 0x8) != 0;
}

// Which end of the connection we are: it decides who masks (§5.1).
enum class Role : uint8_t { kServer, kClient };
const char* to_string(Role role);  // "server", "client"
std::ostream& operator<<(std::ostream& out, Role role);

using MaskKey = std::array<uint8_t, 4>;

inline constexpr size_t kMaxFrameHeaderSize = 14;  // 2 + 8 (length) + 4 (mask key)
inline constexpr size_t kMaxControlPayload = 125;  // §5.5

struct FrameHeader {
  bool fin = true;                                // last frame of its message
  bool rsv1 = false, rsv2 = false, rsv3 = false;  // reserved for extensions (§5.2)
  Opcode opcode = Opcode::kText;                  // what the payload is
  bool masked = false;                            // client-to-server frames are masked
  MaskKey mask_key{};                             // valid if masked
  uint64_t payload_length = 0;                    // bytes of payload that follow
};

// Bytes the header of `header` takes on the wire (2 to 14).
size_t frame_header_size(const FrameHeader& header);

// Writes the header into `out` (at least kMaxFrameHeaderSize bytes) using the
// minimal length encoding (§5.2: "the minimal number of bytes MUST be used");
// returns the number of bytes written.
size_t encode_frame_header(const FrameHeader& header, std::span<uint8_t> out);

//> frame.server-header-api
// A server's header in one step (no mask key, §5.1: a server never masks):
// FIN, RSV1, the opcode and the minimal length, nothing else to decide.
constexpr size_t server_header_size(uint64_t length) {
  return length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
}
// `out` must hold server_header_size(length) bytes; returns that size.
size_t encode_server_header(std::span<uint8_t> out, Opcode opcode, uint64_t length, bool fin = true,
                            bool rsv1 = false);
//< frame.server-header-api

// Appends a whole frame to `out`: the header, then the payload, masked with
// `mask_key` when it is non-null (a client) and as is when null (a server).
// False if `out` would pass its maximum (nothing is appended then). `rsv1`
// marks a compressed message's first frame (RFC 7692 §6).
bool append_frame(Buffer& out, Opcode opcode, bool fin, std::span<const uint8_t> payload,
                  const MaskKey* mask_key = nullptr, bool rsv1 = false);

// Makes one whole unmasked frame (a server's) in `out`, replacing what it
// held: the bytes a publish encodes once and queues to many connections.
void encode_frame(std::vector<uint8_t>& out, Opcode opcode, std::span<const uint8_t> payload);

// XORs `data` with the key, starting at payload offset `offset` (so a payload
// can be masked in pieces). Masking twice restores the data (§5.3).
void apply_mask_reference(std::span<uint8_t> data, const MaskKey& key, uint64_t offset = 0);
// The same, eight bytes at a time; tested against the reference.
void apply_mask(std::span<uint8_t> data, const MaskKey& key, uint64_t offset = 0);

// What FrameDecoder::decode() found.
enum class DecodeStatus : uint8_t {
  kNeedMore,  // all input taken (a partial header is kept inside); feed more
  kPayload,   // `payload` is the next piece of the current frame's payload
  kError,     // the frame is invalid: `error` (RFC 6455 §7.1.7: fail the connection)
};
const char* to_string(DecodeStatus status);  // "need-more", "payload", "error"
std::ostream& operator<<(std::ostream& out, DecodeStatus status);

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  size_t consumed = 0;  // bytes of the input used by this call
  Error error = Error::kNone;
  std::span<uint8_t> payload;  // kPayload: unmasked in place, inside the input
  bool frame_start = false;    // kPayload: header() was just decoded
  bool frame_end = false;      // kPayload: this is the frame's last piece
};

// Incremental frame decoder. Each decode() call returns at most one piece of
// payload (possibly empty, as for a frame with no payload), so a caller sees
// every frame start and end in order:
//
//   while (!input.empty()) {
//     DecodeResult r = decoder.decode(input);
//     input = input.subspan(r.consumed);
//     if (r.status != DecodeStatus::kPayload) break;  // need more, or error
//     ... r.payload, decoder.header(), r.frame_start, r.frame_end ...
//   }
//
// Header checks happen as soon as the bytes that carry them arrive, before
// any payload is read: reserved bits, unknown opcodes, control frame rules,
// masking by role, the 64-bit length's top bit, and `max_payload` (a declared
// 1 TiB frame is refused from its header and costs nothing). A header that
// arrived whole is read where it lies, in one step; one split across reads
// is collected byte by byte. Both go through the same checks.
class FrameDecoder {
 public:
  // `receiver` is our role: a server requires masked frames, a client
  // requires unmasked ones.
  FrameDecoder(Role receiver, uint64_t max_payload);

  DecodeResult decode(std::span<uint8_t> input);
  // The current frame's header (from the kPayload result with frame_start
  // on), unpacked from the few bytes kept below: byte 0 of the §5.2 figure
  // holds FIN (0x80), RSV1-3 (0x40, 0x20, 0x10) and the opcode (0x0F).
  FrameHeader header() const {
    return {.fin = (first_byte_ & 0x80) != 0,
            .rsv1 = (first_byte_ & 0x40) != 0,
            .rsv2 = (first_byte_ & 0x20) != 0,
            .rsv3 = (first_byte_ & 0x10) != 0,
            .opcode = static_cast<Opcode>(first_byte_ & 0x0F),
            .masked = masked_,
            .mask_key = mask_key_,
            .payload_length = payload_length_};
  }
  // True between frames: no partial header or payload pending, and no error
  // (an invalid header ends the stream inside a frame).
  bool at_frame_boundary() const {
    return payload_left_ == 0 && header_bytes_ == 0 && error_ == Error::kNone;
  }
  void set_max_payload(uint64_t max_payload) { max_payload_ = max_payload; }
  // An extension that gives RSV1 a meaning was negotiated (permessage-deflate,
  // RFC 7692 §6): RSV1 is then allowed on the first frame of a message.
  void allow_rsv1(bool allowed) { rsv1_allowed_ = allowed; }

 private:
  // A broken header rule, and the index of the header byte that proves it.
  struct HeaderCheck {
    Error error = Error::kNone;
    size_t at = 0;
  };

  //> frame.decoder-state
  // Largest members first, so that no padding falls between them: 48 bytes.
  uint64_t max_payload_;         // larger frames: kFrameTooLarge
  uint64_t payload_length_ = 0;  // the current frame's payload length
  uint64_t payload_left_ = 0;    // of it, not handed out yet (0: a header is next)
  MaskKey mask_key_{};           // the current frame's key, if masked
  std::array<uint8_t, kMaxFrameHeaderSize> partial_{};  // header bytes split across reads
  uint8_t header_bytes_ = 0;                            // valid bytes in partial_
  uint8_t first_byte_ = 0;                              // the current frame's byte 0 (see header())
  bool masked_ = false;                                 // the current frame's MASK bit
  Role receiver_;                                       // decides the masking rule
  Error error_ = Error::kNone;                          // set once: the decoder stays failed
  bool rsv1_allowed_ = false;                           // see allow_rsv1()
  //< frame.decoder-state

  size_t needed_header_size() const;  // header bytes known to be needed so far in partial_
  HeaderCheck check_header(std::span<const uint8_t> header, size_t from) const;
  Error check_reserved_bits(uint8_t first_byte) const;  // only when one is set
  void start_frame(const uint8_t* header);              // a checked header -> the members above
  DecodeResult fail(Error error, size_t consumed);      // sets error_: every later call fails too
};

}  // namespace ws
