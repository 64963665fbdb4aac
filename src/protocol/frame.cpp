// RFC 6455 §5.2 frames: the incremental decoder, the encoder and masking (§5.3).
// See frame.h for the contract; the tutorial is chapter 04 (tutorial/04-frames.md).
#include "openpipe/protocol/frame.h"

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

bool is_known_opcode(uint8_t opcode) {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kContinuation:
    case Opcode::kText:
    case Opcode::kBinary:
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong: return true;
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

//> frame.header-size
// The whole header's size, known once its second byte is in: 2 bytes, then
// 0, 2 or 8 length bytes, then 0 or 4 mask key bytes.
size_t header_size(uint8_t second_byte) {
  const bool masked = (second_byte & kMaskBit) != 0;
  return 2 + extended_length_size(second_byte) + (masked ? 4 : 0);
}
//< frame.header-size

// The declared payload length, once bytes 1 .. 1 + extended_length_size() are in.
uint64_t declared_length(const uint8_t* header) {
  const size_t extra = extended_length_size(header[1]);
  if (extra == 0) return header[1] & kLengthBits;
  uint64_t length = 0;  // "Multibyte length quantities are expressed in network byte order"
  for (size_t i = 0; i < extra; ++i) length = length << 8 | header[2 + i];
  return length;
}

//> frame.mask-key-word
// Eight key bytes for the payload bytes from `offset` on, as they lie in
// memory: the key twice (k0 k1 k2 k3 k0 k1 k2 k3), rotated so that it starts
// with key[offset % 4]; for offset 1, k1 k2 k3 k0 k1 k2 k3 k0.
uint64_t phased_key_word(const MaskKey& key, uint64_t offset) {
  uint32_t key4;
  std::memcpy(&key4, key.data(), 4);
  const uint64_t twice = uint64_t{key4} << 32 | key4;
  const int shift = 8 * static_cast<int>(offset % 4);
  // A little-endian CPU (x86-64, arm64) keeps a word's lowest byte first in
  // memory, so rotating right moves every byte towards the start.
  return std::endian::native == std::endian::little ? std::rotr(twice, shift)
                                                    : std::rotl(twice, shift);
}
//< frame.mask-key-word

//> frame.mask-words
// XORs n bytes of src with the key into dst (src == dst is allowed), the key
// phase starting at payload offset `offset`: 16 bytes per step, then 8, then
// 4, then the last 0-3 bytes one at a time.
void mask_copy(const uint8_t* src, uint8_t* dst, size_t n, const MaskKey& key, uint64_t offset) {
  // 8 is a multiple of 4, so every 8-byte word starts in the phase of src[0]:
  // one key word serves them all.
  const uint64_t key_word = phased_key_word(key, offset);
  // memcpy, not a uint64_t* cast: no alignment or aliasing rules to break;
  // each becomes one load or store, which x86-64 and arm64 do at any address.
  size_t i = 0;
  for (; n - i >= 16; i += 16) {  // g++ -O2: one SSE load, XOR (pxor) and store
    uint64_t words[2];
    std::memcpy(words, src + i, 16);
    words[0] ^= key_word;
    words[1] ^= key_word;
    std::memcpy(dst + i, words, 16);
  }
  if (n - i >= 8) {
    uint64_t word;
    std::memcpy(&word, src + i, 8);
    word ^= key_word;
    std::memcpy(dst + i, &word, 8);
    i += 8;
  }
  if (n - i >= 4) {  // the first four bytes of key_word are in phase too
    uint32_t word, key_half;
    std::memcpy(&word, src + i, 4);
    std::memcpy(&key_half, &key_word, 4);
    word ^= key_half;
    std::memcpy(dst + i, &word, 4);
    i += 4;
  }
  for (; i < n; ++i) dst[i] = src[i] ^ key[(offset + i) % 4];
}
//< frame.mask-words

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
void encode_frame(std::vector<uint8_t>& out, Opcode opcode, std::span<const uint8_t> payload) {
  FrameHeader header;
  header.opcode = opcode;
  header.payload_length = payload.size();
  const size_t header_size = frame_header_size(header);
  out.resize(header_size + payload.size());
  encode_frame_header(header, out);
  if (!payload.empty()) std::memcpy(out.data() + header_size, payload.data(), payload.size());
}

//> frame.server-header
// The general encoder (encode_frame_header) takes a FrameHeader with every
// field and works its size out again; a server's reply knows it has no mask
// and no RSV2/RSV3, so its header is written straight from the length.
size_t encode_server_header(std::span<uint8_t> out, Opcode opcode, uint64_t length, bool fin,
                            bool rsv1) {
  const size_t size = server_header_size(length);
  out[0] =
      static_cast<uint8_t>((fin ? kFinBit : 0) | (rsv1 ? 0x40 : 0) | static_cast<uint8_t>(opcode));
  if (size == 2) {
    out[1] = static_cast<uint8_t>(length);
  } else if (size == 4) {
    out[1] = kLength16;
    out[2] = static_cast<uint8_t>(length >> 8);
    out[3] = static_cast<uint8_t>(length);
  } else {
    out[1] = kLength64;
    for (size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
  }
  return size;
}
//< frame.server-header

bool append_frame(Buffer& out, Opcode opcode, bool fin, std::span<const uint8_t> payload,
                  const MaskKey* mask_key, bool rsv1) {
  if (mask_key == nullptr) {  // a server's frame: one size, one prepare, no FrameHeader
    const size_t header_size = server_header_size(payload.size());
    if (payload.size() > out.max_size()) return false;  // keeps the sum below from wrapping
    std::span<uint8_t> space = out.prepare(header_size + payload.size());
    if (space.empty()) return false;
    encode_server_header(space, opcode, payload.size(), fin, rsv1);
    if (!payload.empty()) std::memcpy(space.data() + header_size, payload.data(), payload.size());
    out.commit(header_size + payload.size());
    return true;
  }
  // A client's frame (§5.3): the general header, with its mask key.
  FrameHeader header;
  header.fin = fin;
  header.rsv1 = rsv1;
  header.opcode = opcode;
  header.masked = true;
  header.mask_key = *mask_key;
  header.payload_length = payload.size();

  const size_t header_size = frame_header_size(header);
  if (payload.size() > out.max_size()) return false;  // also keeps the sum below from wrapping
  std::span<uint8_t> space = out.prepare(header_size + payload.size());
  if (space.empty()) return false;  // past the buffer's maximum: append nothing

  encode_frame_header(header, space);
  // copy and mask: one pass (and no pointer for an empty payload)
  if (!payload.empty())
    mask_copy(payload.data(), space.data() + header_size, payload.size(), *mask_key, 0);
  out.commit(header_size + payload.size());
  return true;
}
//< frame.append

// ---- decoder ----------------------------------------------------------------------

FrameDecoder::FrameDecoder(Role receiver, uint64_t max_payload)
    : max_payload_(max_payload), receiver_(receiver) {}

// While a header arrives in pieces, how many bytes it needs is known only
// progressively: "at least 2" until byte 1 has arrived, then all of it.
size_t FrameDecoder::needed_header_size() const {
  return header_bytes_ < 2 ? 2 : header_size(partial_[1]);
}

//> frame.header-checks
// The rules a header's bytes carry, in the order the bytes arrive. `header`
// holds the bytes that have arrived (all of the header, or its first few);
// the rules carried by bytes `from` onwards are checked, those before were
// checked when their bytes came. Returns the first broken rule and the byte
// that proves it. Byte 0 carries FIN, RSV1-3 and the opcode; byte 1 the MASK
// bit and the 7-bit length; then comes the extended length.
FrameDecoder::HeaderCheck FrameDecoder::check_header(std::span<const uint8_t> header,
                                                     size_t from) const {
  const auto is_new = [&](size_t index) { return from <= index && index < header.size(); };
  const uint8_t first = header[0];
  const bool control = (first & 0x08) != 0;  // §5.5: "most significant bit of the opcode is 1"
  if (is_new(0)) {
    // §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated"
    if ((first & kRsvBits) != 0) {
      if (const Error error = check_reserved_bits(first); error != Error::kNone) return {error, 0};
    }
    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_"
    if (!is_known_opcode(first & kOpcodeBits)) return {Error::kFrameUnknownOpcode, 0};
    // §5.5: "All control frames ... MUST NOT be fragmented"
    if (control && (first & kFinBit) == 0) return {Error::kFrameControlFragmented, 0};
  }
  if (header.size() < 2) return {};
  const uint8_t second = header[1];
  if (is_new(1)) {
    const bool masked = (second & kMaskBit) != 0;
    // §5.1: "The server MUST close the connection upon receiving a frame that is not masked"
    if (receiver_ == Role::kServer && !masked) return {Error::kFrameNotMasked, 1};
    // §5.1: "A client MUST close a connection if it detects a masked frame"
    if (receiver_ == Role::kClient && masked) return {Error::kFrameMasked, 1};
    // §5.5: "All control frames MUST have a payload length of 125 bytes or less"
    // (126 and 127 announce an extended length, so they are too long as well)
    if (control && (second & kLengthBits) > kMaxControlPayload) {
      return {Error::kFrameControlTooLong, 1};
    }
  }
  const size_t extra = extended_length_size(second);
  // §5.2: a 64-bit length's "most significant bit MUST be 0": it is in byte 2
  if (extra == 8 && is_new(2) && (header[2] & 0x80) != 0) return {Error::kFrameLengthTopBit, 2};
  // The length is complete: refuse an oversized frame before any payload is read.
  const size_t last_length_byte = 1 + extra;
  if (is_new(last_length_byte) && declared_length(header.data()) > max_payload_) {
    return {Error::kFrameTooLarge, last_length_byte};
  }
  return {};
}
//< frame.header-checks

//> frame.reserved-bits
// A reserved bit is set. Without an extension that is an error; with
// permessage-deflate, RSV1 marks a compressed message, on its first frame only.
Error FrameDecoder::check_reserved_bits(uint8_t first_byte) const {
  if (!rsv1_allowed_ || (first_byte & kRsvBits) != kRsv1Bit) return Error::kFrameReservedBits;
  // RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message Compressed"
  // bit of control frames and non-first fragments of a data message. An
  // endpoint receiving such a frame MUST _Fail the WebSocket Connection_."
  const auto opcode = static_cast<Opcode>(first_byte & kOpcodeBits);
  if (is_control(opcode) || opcode == Opcode::kContinuation) return Error::kDeflateMisplacedRsv1;
  return Error::kNone;
}
//< frame.reserved-bits

// Takes in a header that passed its checks: the frame begins.
void FrameDecoder::start_frame(const uint8_t* header) {
  first_byte_ = header[0];
  masked_ = (header[1] & kMaskBit) != 0;
  payload_length_ = declared_length(header);
  payload_left_ = payload_length_;
  mask_key_ = {};
  if (masked_) std::memcpy(mask_key_.data(), header + 2 + extended_length_size(header[1]), 4);
}

// RFC 6455 §7.1.7: once a frame is invalid, "An endpoint MUST NOT continue to
// attempt to process data": error_ stays set and every later call returns it.
DecodeResult FrameDecoder::fail(Error error, size_t consumed) {
  error_ = error;
  DecodeResult result;
  result.status = DecodeStatus::kError;
  result.consumed = consumed;
  result.error = error;
  return result;
}

DecodeResult FrameDecoder::decode(std::span<uint8_t> input) {
  if (error_ != Error::kNone) return fail(error_, 0);
  DecodeResult result;
  size_t used = 0;
  //> frame.decode-header
  if (payload_left_ == 0) {  // no payload pending: a header comes next
    const size_t size = header_bytes_ == 0 && input.size() >= 2 ? header_size(input[1]) : 0;
    if (size > 0 && size <= input.size()) {
      // The common case: the whole header is in this input. It is checked
      // and read where it lies, in one step.
      const HeaderCheck check = check_header(input.first(size), 0);
      if (check.error != Error::kNone) return fail(check.error, check.at + 1);
      start_frame(input.data());
      used = size;
    } else {
      // A header split across reads: its bytes collect in partial_ one at a
      // time, each checked as it arrives, until the next call completes it.
      while (header_bytes_ < needed_header_size()) {
        if (used == input.size()) {
          result.consumed = used;  // status stays kNeedMore
          return result;
        }
        partial_[header_bytes_++] = input[used++];
        const HeaderCheck check = check_header({partial_.data(), header_bytes_}, header_bytes_ - 1);
        if (check.error != Error::kNone) return fail(check.error, used);
      }
      start_frame(partial_.data());
      header_bytes_ = 0;
    }
    result.frame_start = true;
  }
  //< frame.decode-header
  //> frame.decode-payload
  // The payload is not copied: the piece is the part of `input` that belongs
  // to this frame, unmasked in place. Its offset in the payload (the length
  // minus what is left) keeps the key in phase when a payload is split.
  const size_t take = static_cast<size_t>(std::min<uint64_t>(payload_left_, input.size() - used));
  std::span<uint8_t> piece = input.subspan(used, take);
  if (masked_) apply_mask(piece, mask_key_, payload_length_ - payload_left_);
  payload_left_ -= take;
  used += take;
  result.consumed = used;
  result.frame_end = payload_left_ == 0;
  if (take == 0 && !result.frame_start) return result;  // no input mid-payload: kNeedMore
  result.status = DecodeStatus::kPayload;
  result.payload = piece;
  return result;
  //< frame.decode-payload
}

}  // namespace ws
