// RFC 6455 §5.2 frames: the incremental decoder, the encoder and masking (§5.3).
// See frame.h for the contract; the tutorial is chapter 04 (tutorial/04-frames.md).
#include "openpipe/protocol/frame.h"

#include <algorithm>
#include <cstring>

namespace ws {
namespace {

// The bits of the first two header bytes (§5.2 figure).
constexpr uint8_t kFinBit = 0x80;
constexpr uint8_t kRsvBits = 0x70;  // RSV1 0x40, RSV2 0x20, RSV3 0x10
constexpr uint8_t kOpcodeBits = 0x0F;
constexpr uint8_t kMaskBit = 0x80;
constexpr uint8_t kLengthBits = 0x7F;
constexpr uint8_t kLength16 = 126;  // "If 126, the following 2 bytes ... are the payload length"
constexpr uint8_t kLength64 = 127;  // "If 127, the following 8 bytes ..."

bool is_known_opcode(uint8_t opcode) {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kContinuation:
    case Opcode::kText:
    case Opcode::kBinary:
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong:
      return true;
  }
  return false;  // %x3-7 and %xB-F are reserved (§5.2)
}

// How many extended-length bytes follow the second header byte: 0, 2 or 8.
size_t extended_length_size(uint8_t second_byte) {
  const uint8_t length7 = second_byte & kLengthBits;
  if (length7 == kLength16) return 2;
  if (length7 == kLength64) return 8;
  return 0;
}

// The declared payload length, once bytes 1 .. 1 + extended_length_size() are in.
uint64_t declared_length(const uint8_t* header) {
  const size_t extra = extended_length_size(header[1]);
  if (extra == 0) return header[1] & kLengthBits;
  uint64_t length = 0;  // "Multibyte length quantities are expressed in network byte order"
  for (size_t i = 0; i < extra; ++i) length = length << 8 | header[2 + i];
  return length;
}

//> frame.mask-words
// XORs n bytes of src with the key into dst (src == dst is allowed), the key
// phase starting at payload offset `offset`. Bytes one at a time until dst is
// 8-byte aligned (the head), then 8 bytes per step, then the tail.
void mask_copy(const uint8_t* src, uint8_t* dst, size_t n, const MaskKey& key, uint64_t offset) {
  size_t i = 0;
  for (; i < n && reinterpret_cast<uintptr_t>(dst + i) % 8 != 0; ++i) {
    dst[i] = src[i] ^ key[(offset + i) % 4];
  }
  // Eight key bytes in the phase of byte i. Since 8 is a multiple of 4, every
  // later 8-byte step starts in the same phase, so one word serves them all.
  uint8_t key_bytes[8];
  for (size_t k = 0; k < 8; ++k) key_bytes[k] = key[(offset + i + k) % 4];
  uint64_t key_word;
  std::memcpy(&key_word, key_bytes, 8);
  // memcpy, not a uint64_t* cast: no alignment or aliasing rules to break, and
  // the compiler turns each memcpy into a single load or store.
  for (; n - i >= 8; i += 8) {
    uint64_t word;
    std::memcpy(&word, src + i, 8);
    word ^= key_word;
    std::memcpy(dst + i, &word, 8);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ key[(offset + i) % 4];
}
//< frame.mask-words

}  // namespace

const char* to_string(Opcode opcode) {
  switch (opcode) {
    case Opcode::kContinuation:
      return "continuation";
    case Opcode::kText:
      return "text";
    case Opcode::kBinary:
      return "binary";
    case Opcode::kClose:
      return "close";
    case Opcode::kPing:
      return "ping";
    case Opcode::kPong:
      return "pong";
  }
  return "reserved";
}

// ---- masking (§5.3) -------------------------------------------------------------

//> frame.mask-reference
// RFC 6455 §5.3: "Octet i of the transformed data is the XOR of octet i of the
// original data with octet at index i modulo 4 of the masking key".
// `offset` is the index of data[0] within the whole payload.
void apply_mask_reference(std::span<uint8_t> data, const MaskKey& key, uint64_t offset) {
  for (size_t i = 0; i < data.size(); ++i) data[i] ^= key[(offset + i) % 4];
}
//< frame.mask-reference

void apply_mask(std::span<uint8_t> data, const MaskKey& key, uint64_t offset) {
  mask_copy(data.data(), data.data(), data.size(), key, offset);
}

// ---- encoder ----------------------------------------------------------------------

size_t frame_header_size(const FrameHeader& header) {
  size_t size = 2;
  if (header.payload_length > 0xFFFF) {
    size += 8;
  } else if (header.payload_length >= kLength16) {
    size += 2;
  }
  return size + (header.masked ? 4 : 0);
}

size_t encode_frame_header(const FrameHeader& header, std::span<uint8_t> out) {
  const size_t size = frame_header_size(header);
  if (out.size() < size) return 0;
  out[0] = static_cast<uint8_t>((header.fin ? kFinBit : 0) | (header.rsv1 ? 0x40 : 0) |
                                (header.rsv2 ? 0x20 : 0) | (header.rsv3 ? 0x10 : 0) |
                                static_cast<uint8_t>(header.opcode));
  const uint8_t mask_bit = header.masked ? kMaskBit : 0;
  //> frame.encode-length
  // §5.2: "the minimal number of bytes MUST be used to encode the length".
  const uint64_t length = header.payload_length;
  size_t pos = 2;
  if (length < kLength16) {
    out[1] = mask_bit | static_cast<uint8_t>(length);
  } else if (length <= 0xFFFF) {
    out[1] = mask_bit | kLength16;
    out[pos++] = static_cast<uint8_t>(length >> 8);
    out[pos++] = static_cast<uint8_t>(length);
  } else {
    out[1] = mask_bit | kLength64;
    for (int shift = 56; shift >= 0; shift -= 8) out[pos++] = static_cast<uint8_t>(length >> shift);
  }
  //< frame.encode-length
  if (header.masked) {
    std::memcpy(&out[pos], header.mask_key.data(), 4);
    pos += 4;
  }
  return pos;
}

//> frame.append
bool append_frame(Buffer& out, Opcode opcode, bool fin, std::span<const uint8_t> payload,
                  const MaskKey* mask_key) {
  FrameHeader header;
  header.fin = fin;
  header.opcode = opcode;
  header.masked = mask_key != nullptr;
  if (mask_key != nullptr) header.mask_key = *mask_key;
  header.payload_length = payload.size();

  const size_t header_size = frame_header_size(header);
  if (payload.size() > out.max_size()) return false;  // also keeps the sum below from wrapping
  std::span<uint8_t> space = out.prepare(header_size + payload.size());
  if (space.empty()) return false;  // past the buffer's maximum: append nothing

  encode_frame_header(header, space);
  uint8_t* body = space.data() + header_size;
  if (payload.empty()) {
    // nothing to copy (and memcpy must not see a null pointer)
  } else if (mask_key != nullptr) {
    mask_copy(payload.data(), body, payload.size(), *mask_key, 0);  // copy and mask: one pass
  } else {
    std::memcpy(body, payload.data(), payload.size());
  }
  out.commit(header_size + payload.size());
  return true;
}
//< frame.append

// ---- decoder ----------------------------------------------------------------------

FrameDecoder::FrameDecoder(Role receiver, uint64_t max_payload)
    : receiver_(receiver), max_payload_(max_payload) {}

//> frame.header-size
// The header is 2 bytes, then 0, 2 or 8 length bytes, then 0 or 4 mask key
// bytes. Until byte 1 has arrived we only know "at least 2".
size_t FrameDecoder::needed_header_size() const {
  if (header_bytes_ < 2) return 2;
  const bool masked = (partial_[1] & kMaskBit) != 0;
  return 2 + extended_length_size(partial_[1]) + (masked ? 4 : 0);
}
//< frame.header-size

//> frame.header-checks
// Called once per header byte, as it arrives, so that every error is reported
// by the first byte that proves it. Byte 0 carries FIN, RSV1-3 and the opcode;
// byte 1 the MASK bit and the 7-bit length; then the extended length.
Error FrameDecoder::check_header_byte(size_t index) const {
  const uint8_t first = partial_[0];
  const bool control = (first & 0x08) != 0;  // §5.5: "most significant bit of the opcode is 1"
  if (index == 0) {
    // §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated" (we negotiate none)
    if ((first & kRsvBits) != 0) return Error::kFrameReservedBits;
    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_"
    if (!is_known_opcode(first & kOpcodeBits)) return Error::kFrameUnknownOpcode;
    // §5.5: "All control frames ... MUST NOT be fragmented"
    if (control && (first & kFinBit) == 0) return Error::kFrameControlFragmented;
    return Error::kNone;
  }
  const uint8_t second = partial_[1];
  if (index == 1) {
    const bool masked = (second & kMaskBit) != 0;
    // §5.1: "The server MUST close the connection upon receiving a frame that is not masked"
    if (receiver_ == Role::kServer && !masked) return Error::kFrameNotMasked;
    // §5.1: "A client MUST close a connection if it detects a masked frame"
    if (receiver_ == Role::kClient && masked) return Error::kFrameMasked;
    // §5.5: "All control frames MUST have a payload length of 125 bytes or less"
    // (126 and 127 announce an extended length, so they are too long as well)
    if (control && (second & kLengthBits) > kMaxControlPayload) return Error::kFrameControlTooLong;
  }
  const size_t extra = extended_length_size(second);
  // §5.2: a 64-bit length's "most significant bit MUST be 0": it is in byte 2
  if (extra == 8 && index == 2 && (partial_[2] & 0x80) != 0) return Error::kFrameLengthTopBit;
  // The length is complete: refuse an oversized frame before any payload is read.
  if (index == 1 + extra && declared_length(partial_.data()) > max_payload_) {
    return Error::kFrameTooLarge;
  }
  return Error::kNone;
}
//< frame.header-checks

void FrameDecoder::finish_header() {
  const uint8_t first = partial_[0];
  const uint8_t second = partial_[1];
  header_.fin = (first & kFinBit) != 0;
  header_.rsv1 = (first & 0x40) != 0;
  header_.rsv2 = (first & 0x20) != 0;
  header_.rsv3 = (first & 0x10) != 0;
  header_.opcode = static_cast<Opcode>(first & kOpcodeBits);
  header_.masked = (second & kMaskBit) != 0;
  header_.payload_length = declared_length(partial_.data());
  header_.mask_key = {};
  if (header_.masked) {
    const size_t key_at = 2 + extended_length_size(second);
    std::copy_n(partial_.begin() + key_at, 4, header_.mask_key.begin());
  }
  header_bytes_ = 0;
  in_payload_ = true;
  payload_done_ = 0;
}

DecodeResult FrameDecoder::decode(std::span<uint8_t> input) {
  DecodeResult result;
  if (error_ != Error::kNone) {  // §7.1.7: no more processing once failed
    result.status = DecodeStatus::kError;
    result.error = error_;
    return result;
  }
  size_t used = 0;
  //> frame.decode-header
  if (!in_payload_) {
    // Header bytes go into partial_ one at a time, each checked on arrival;
    // a header cut short keeps its bytes here until the next call.
    while (header_bytes_ < needed_header_size()) {
      if (used == input.size()) {
        result.consumed = used;  // status stays kNeedMore
        return result;
      }
      partial_[header_bytes_] = input[used++];
      error_ = check_header_byte(header_bytes_++);
      if (error_ != Error::kNone) {
        result.status = DecodeStatus::kError;
        result.consumed = used;
        result.error = error_;
        return result;
      }
    }
    finish_header();
    result.frame_start = true;
  }
  //< frame.decode-header
  //> frame.decode-payload
  // The payload is not copied: the piece is the part of `input` that belongs
  // to this frame, unmasked in place. payload_done_ is its offset in the
  // payload, so a payload split across reads unmasks with the right key byte.
  const uint64_t remaining = header_.payload_length - payload_done_;
  const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, input.size() - used));
  std::span<uint8_t> piece = input.subspan(used, take);
  if (header_.masked) apply_mask(piece, header_.mask_key, payload_done_);
  payload_done_ += take;
  used += take;
  result.frame_end = payload_done_ == header_.payload_length;
  if (result.frame_end) in_payload_ = false;
  result.consumed = used;
  if (take == 0 && !result.frame_start && !result.frame_end) return result;  // no input: kNeedMore
  result.status = DecodeStatus::kPayload;
  result.payload = piece;
  return result;
  //< frame.decode-payload
}

}  // namespace ws
