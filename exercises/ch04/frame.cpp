// EXERCISE SKELETON for chapter 04 (tutorial/04-frames.md): src/protocol/frame.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=04
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/protocol/frame.cpp 04-frames.md
// RFC 6455 §5.2 frames: the incremental decoder, the encoder and masking (§5.3).
// See frame.h for the contract; the tutorial is chapter 04 (tutorial/04-frames.md).
#include "openpipe/protocol/frame.h"
#include "todo.h"  // todo(): what every stub below calls

#include <algorithm>
#include <bit>
#include <cstring>
#include <ostream>

namespace ws {
namespace {

// The bits of the first two header bytes (§5.2 figure).
constexpr uint8_t kFinBit = 0x80;
constexpr uint8_t kRsvBits = 0x70;  // RSV1 0x40, RSV2 0x20, RSV3 0x10
constexpr uint8_t kRsv1Bit = 0x40;  // "Per-Message Compressed" (RFC 7692 §6)
constexpr uint8_t kOpcodeBits = 0x0F;
constexpr uint8_t kMaskBit = 0x80;
constexpr uint8_t kLengthBits = 0x7F;
constexpr uint8_t kLength16 = 126;  // "If 126, the following 2 bytes ... are the payload length"
constexpr uint8_t kLength64 = 127;  // "If 127, the following 8 bytes ..."

// How many extended-length bytes follow the second header byte: 0, 2 or 8.

// The whole header's size, known once its second byte is in: 2 bytes, then
// 0, 2 or 8 length bytes, then 0 or 4 mask key bytes.

// The declared payload length, once bytes 1 .. 1 + extended_length_size() are in.

// Eight key bytes for the payload bytes from `offset` on, as they lie in
// memory: the key twice (k0 k1 k2 k3 k0 k1 k2 k3), rotated so that it starts
// with key[offset % 4]; for offset 1, k1 k2 k3 k0 k1 k2 k3 k0.

// XORs n bytes of src with the key into dst (src == dst is allowed), the key
// phase starting at payload offset `offset`: 16 bytes per step, then 8, then
// 4, then the last 0-3 bytes one at a time.

}  // namespace

const char* to_string(Opcode opcode) {
  switch (opcode) {
    case Opcode::kContinuation: return "continuation";
    case Opcode::kText: return "text";
    case Opcode::kBinary: return "binary";
    case Opcode::kClose: return "close";
    case Opcode::kPing: return "ping";
    case Opcode::kPong: return "pong";
  }
  return "reserved";
}

std::ostream& operator<<(std::ostream& out, Opcode opcode) {
  out << to_string(opcode);
  const auto value = static_cast<unsigned>(opcode);
  if (std::string_view(to_string(opcode)) == "reserved") out << " (" << value << ")";
  return out;
}

const char* to_string(Role role) {
  return role == Role::kServer ? "server" : "client";
}

std::ostream& operator<<(std::ostream& out, Role role) {
  return out << to_string(role);
}

const char* to_string(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::kNeedMore: return "need-more";
    case DecodeStatus::kPayload: return "payload";
    case DecodeStatus::kError: return "error";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, DecodeStatus status) {
  return out << to_string(status);
}

// ---- masking (§5.3) -------------------------------------------------------------

// RFC 6455 §5.3: "Octet i of the transformed data is the XOR of octet i of the
// original data with octet at index i modulo 4 of the masking key".
// `offset` is the index of data[0] within the whole payload.
void apply_mask_reference(std::span<uint8_t> data, const MaskKey& key, uint64_t offset) {
  (void)data;
  (void)key;
  (void)offset;
  todo("apply_mask_reference (tutorial/04-frames.md, region frame.mask-reference)");
}

void apply_mask(std::span<uint8_t> data, const MaskKey& key, uint64_t offset) {
  (void)data;
  (void)key;
  (void)offset;
  todo("apply_mask (tutorial/04-frames.md)");
}

// ---- encoder ----------------------------------------------------------------------

size_t frame_header_size(const FrameHeader& header) {
  (void)header;
  todo("frame_header_size (tutorial/04-frames.md)");
}

size_t encode_frame_header(const FrameHeader& header, std::span<uint8_t> out) {
  (void)header;
  (void)out;
  todo("encode_frame_header (tutorial/04-frames.md)");
}

void encode_frame(std::vector<uint8_t>& out, Opcode opcode, std::span<const uint8_t> payload) {
  (void)out;
  (void)opcode;
  (void)payload;
  todo("encode_frame (tutorial/04-frames.md, region frame.append)");
}

// The general encoder (encode_frame_header) takes a FrameHeader with every
// field and works its size out again; a server's reply knows it has no mask
// and no RSV2/RSV3, so its header is written straight from the length.
size_t encode_server_header(std::span<uint8_t> out, Opcode opcode, uint64_t length, bool fin,
                            bool rsv1) {
  (void)out;
  (void)opcode;
  (void)length;
  (void)fin;
  (void)rsv1;
  todo("encode_server_header (tutorial/04-frames.md, region frame.server-header)");
}

bool append_frame(Buffer& out, Opcode opcode, bool fin, std::span<const uint8_t> payload,
                  const MaskKey* mask_key, bool rsv1) {
  (void)out;
  (void)opcode;
  (void)fin;
  (void)payload;
  (void)mask_key;
  (void)rsv1;
  todo("append_frame (tutorial/04-frames.md, region frame.append)");
}

// ---- decoder ----------------------------------------------------------------------

FrameDecoder::FrameDecoder(Role receiver, uint64_t max_payload)
    : max_payload_(max_payload), receiver_(receiver) {}

// While a header arrives in pieces, how many bytes it needs is known only
// progressively: "at least 2" until byte 1 has arrived, then all of it.
size_t FrameDecoder::needed_header_size() const {
  todo("FrameDecoder::needed_header_size (tutorial/04-frames.md)");
}

// The rules a header's bytes carry, in the order the bytes arrive. `header`
// holds the bytes that have arrived (all of the header, or its first few);
// the rules carried by bytes `from` onwards are checked, those before were
// checked when their bytes came. Returns the first broken rule and the byte
// that proves it. Byte 0 carries FIN, RSV1-3 and the opcode; byte 1 the MASK
// bit and the 7-bit length; then comes the extended length.
FrameDecoder::HeaderCheck FrameDecoder::check_header(std::span<const uint8_t> header,
                                                     size_t from) const {
  (void)header;
  (void)from;
  todo("FrameDecoder::check_header (tutorial/04-frames.md, region frame.header-checks)");
}

// A reserved bit is set. Without an extension that is an error; with
// permessage-deflate, RSV1 marks a compressed message, on its first frame only.
Error FrameDecoder::check_reserved_bits(uint8_t first_byte) const {
  (void)first_byte;
  todo("FrameDecoder::check_reserved_bits (tutorial/04-frames.md, region frame.reserved-bits)");
}

// Takes in a header that passed its checks: the frame begins.
void FrameDecoder::start_frame(const uint8_t* header) {
  (void)header;
  todo("FrameDecoder::start_frame (tutorial/04-frames.md)");
}

// RFC 6455 §7.1.7: once a frame is invalid, "An endpoint MUST NOT continue to
// attempt to process data": error_ stays set and every later call returns it.
DecodeResult FrameDecoder::fail(Error error, size_t consumed) {
  (void)error;
  (void)consumed;
  todo("FrameDecoder::fail (tutorial/04-frames.md)");
}

DecodeResult FrameDecoder::decode(std::span<uint8_t> input) {
  (void)input;
  todo("FrameDecoder::decode (tutorial/04-frames.md)");
}

}  // namespace ws
