// UTF-8 validation (RFC 3629 §4, Unicode Table 3-7): a fast incremental
// validator (ASCII eight bytes at a time, then a small DFA) and the simple
// reference it is tested against. The tutorial is chapter 05 (tutorial/05-utf8.md).
#include "openpipe/protocol/utf8.h"

#include <array>
#include <cstring>

namespace ws {
namespace {

// ---- the reference: Table 3-7 read straight off the page ------------------------

struct ReferenceScan {
  size_t first_invalid;  // index of the first bad byte, or size() if none
  bool complete;         // no sequence is cut short at the end
};

//> utf8.reference
// Unicode Table 3-7, "Well-Formed UTF-8 Byte Sequences" (RFC 3629 §4 says the
// same), one row per line of the table. Only the second byte ever has a range
// other than 80..BF; a lead byte in no row (80..BF, C0, C1, F5..FF) is invalid.
struct WellFormedRow {
  uint8_t lead_first, lead_last;      // the first byte
  size_t length;                      // bytes in the sequence
  uint8_t second_first, second_last;  // the second byte (if length > 1)
};
constexpr WellFormedRow kTable3_7[] = {
    {0x00, 0x7F, 1, 0, 0},        // U+0000..U+007F
    {0xC2, 0xDF, 2, 0x80, 0xBF},  // U+0080..U+07FF
    {0xE0, 0xE0, 3, 0xA0, 0xBF},  // U+0800..U+0FFF
    {0xE1, 0xEC, 3, 0x80, 0xBF},  // U+1000..U+CFFF
    {0xED, 0xED, 3, 0x80, 0x9F},  // U+D000..U+D7FF
    {0xEE, 0xEF, 3, 0x80, 0xBF},  // U+E000..U+FFFF
    {0xF0, 0xF0, 4, 0x90, 0xBF},  // U+10000..U+3FFFF
    {0xF1, 0xF3, 4, 0x80, 0xBF},  // U+40000..U+FFFFF
    {0xF4, 0xF4, 4, 0x80, 0x8F},  // U+100000..U+10FFFF
};

ReferenceScan scan_reference(std::span<const uint8_t> bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const WellFormedRow* row = nullptr;
    for (const WellFormedRow& r : kTable3_7) {
      if (bytes[i] >= r.lead_first && bytes[i] <= r.lead_last) row = &r;
    }
    if (row == nullptr) return {i, false};
    for (size_t k = 1; k < row->length; ++k) {
      if (i + k == bytes.size()) return {bytes.size(), false};  // cut short: a valid prefix
      const uint8_t low = k == 1 ? row->second_first : 0x80;
      const uint8_t high = k == 1 ? row->second_last : 0xBF;
      if (bytes[i + k] < low || bytes[i + k] > high) return {i + k, false};
    }
    i += row->length;
  }
  return {bytes.size(), true};
}
//< utf8.reference

// ---- the fast validator: byte classes and a DFA ---------------------------------

//> utf8.byte-classes
// Bytes that behave the same everywhere in Table 3-7 share a class, so the DFA
// needs 12 columns instead of 256.
enum ByteClass : uint8_t {
  kAscii,   // 00..7F
  kCont8,   // 80..8F  continuation, low part
  kCont9,   // 90..9F  continuation, middle part
  kContA,   // A0..BF  continuation, high part
  kBad,     // C0, C1, F5..FF: can never appear
  kLead2,   // C2..DF
  kLeadE0,  // E0: second byte A0..BF (else overlong)
  kLead3,   // E1..EC, EE, EF
  kLeadED,  // ED: second byte 80..9F (else a surrogate)
  kLeadF0,  // F0: second byte 90..BF (else overlong)
  kLead4,   // F1..F3
  kLeadF4,  // F4: second byte 80..8F (else above U+10FFFF)
  kClassCount
};

struct ClassRange {
  uint8_t first, last;
  ByteClass byte_class;
};
constexpr ClassRange kClassRanges[] = {
    {0x00, 0x7F, kAscii}, {0x80, 0x8F, kCont8},  {0x90, 0x9F, kCont9}, {0xA0, 0xBF, kContA},
    {0xC2, 0xDF, kLead2}, {0xE0, 0xE0, kLeadE0}, {0xE1, 0xEC, kLead3}, {0xED, 0xED, kLeadED},
    {0xEE, 0xEF, kLead3}, {0xF0, 0xF0, kLeadF0}, {0xF1, 0xF3, kLead4}, {0xF4, 0xF4, kLeadF4},
};

constexpr std::array<uint8_t, 256> make_byte_classes() {
  std::array<uint8_t, 256> classes{};
  classes.fill(kBad);  // C0, C1, F5..FF: in no range
  for (const ClassRange& range : kClassRanges) {
    for (int b = range.first; b <= range.last; ++b) classes[b] = range.byte_class;
  }
  return classes;
}
constexpr std::array<uint8_t, 256> kByteClass = make_byte_classes();
//< utf8.byte-classes

//> utf8.transitions
// DFA states: what the bytes so far still require. kAccept (0) and kReject (1)
// are Utf8Validator's public constants; kReject is a trap: every byte keeps it.
enum DfaState : uint8_t {
  kAccept = Utf8Validator::kAccept,  // between characters
  kReject = Utf8Validator::kReject,  // invalid: stays here
  kNeed1,                            // one more 80..BF
  kNeed2,                            // two more 80..BF
  kNeed3,                            // three more 80..BF
  kAfterE0,                          // A0..BF, then one more
  kAfterED,                          // 80..9F, then one more
  kAfterF0,                          // 90..BF, then two more
  kAfterF4,                          // 80..8F, then two more
  kStateCount
};

// One row per state, one column per byte class: kNext[state][class] is the
// state after reading a byte of that class. Short names keep it on one screen.
constexpr uint8_t A = kAccept, R = kReject, N1 = kNeed1, N2 = kNeed2, N3 = kNeed3;
constexpr uint8_t E0 = kAfterE0, ED = kAfterED, F0 = kAfterF0, F4 = kAfterF4;
// clang-format off
constexpr uint8_t kNext[kStateCount][kClassCount] = {
  //            ASCII 80-8F 90-9F A0-BF bad  Lead2 E0  Lead3 ED  F0  Lead4 F4
  /* Accept  */ {A,   R,    R,    R,    R,   N1,   E0, N2,   ED, F0, N3,   F4},
  /* Reject  */ {R,   R,    R,    R,    R,   R,    R,  R,    R,  R,  R,    R },
  /* Need1   */ {R,   A,    A,    A,    R,   R,    R,  R,    R,  R,  R,    R },
  /* Need2   */ {R,   N1,   N1,   N1,   R,   R,    R,  R,    R,  R,  R,    R },
  /* Need3   */ {R,   N2,   N2,   N2,   R,   R,    R,  R,    R,  R,  R,    R },
  /* AfterE0 */ {R,   R,    R,    N1,   R,   R,    R,  R,    R,  R,  R,    R },
  /* AfterED */ {R,   N1,   N1,   R,    R,   R,    R,  R,    R,  R,  R,    R },
  /* AfterF0 */ {R,   R,    N2,   N2,   R,   R,    R,  R,    R,  R,  R,    R },
  /* AfterF4 */ {R,   N2,   R,    R,    R,   R,    R,  R,    R,  R,  R,    R },
};
// clang-format on
//< utf8.transitions

//> utf8.ascii-fast-path
// Skips ASCII from `i`: eight bytes per step while none has its high bit set,
// then byte by byte. Returns the index of the first non-ASCII byte (or n).
size_t skip_ascii(const uint8_t* p, size_t n, size_t i) {
  constexpr uint64_t kHighBits = 0x8080808080808080;
  for (; n - i >= 8; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);  // memcpy: any alignment, no aliasing rules broken
    if ((word & kHighBits) != 0) break;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}
//< utf8.ascii-fast-path

}  // namespace

//> utf8.feed
bool Utf8Validator::feed(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n && state_ != kReject) {
    if (state_ == kAccept) {  // between characters: ASCII can be skipped in bulk
      i = skip_ascii(p, n, i);
      if (i == n) break;
    }
    // The state carries over between calls, so a character split across
    // frames or reads is checked exactly as if it had arrived whole.
    state_ = kNext[state_][kByteClass[p[i]]];
    ++i;  // on kReject the loop ends here: the first invalid byte stops it
  }
  return state_ != kReject;
}
//< utf8.feed

bool is_valid_utf8(std::span<const uint8_t> bytes) {
  Utf8Validator validator;
  return validator.feed(bytes) && validator.complete();
}

bool is_valid_utf8(std::string_view text) {
  return is_valid_utf8({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

bool is_valid_utf8_reference(std::span<const uint8_t> bytes) {
  return scan_reference(bytes).complete;
}

size_t first_invalid_utf8_byte_reference(std::span<const uint8_t> bytes) {
  return scan_reference(bytes).first_invalid;
}

}  // namespace ws
