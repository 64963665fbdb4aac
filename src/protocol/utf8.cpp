// UTF-8 validation (RFC 3629 §4, Unicode Table 3-7): a fast incremental
// validator (ASCII eight bytes at a time, then a small DFA) and the simple
// reference it is tested against. The tutorial is chapter 05 (tutorial/05-utf8.md).
#include "openpipe/protocol/utf8.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>  // SSSE3 intrinsics for the block check (chapter 16)
#endif

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
  uint64_t word;
  for (; n - i >= 8; i += 8) {
    std::memcpy(&word, p + i, 8);  // memcpy: any alignment, no aliasing rules broken
    if ((word & kHighBits) != 0) break;
  }
  // Fewer than 8 bytes left: the last 8 bytes of the input, which overlap
  // bytes already checked, settle them in one step when they are all ASCII.
  if (n - i < 8 && n >= 8 && i < n) {
    std::memcpy(&word, p + n - 8, 8);
    if ((word & kHighBits) == 0) return n;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}
//< utf8.ascii-fast-path

// ---- the block check: 16 bytes at a time (chapter 16) -----------------------------

//> utf8.boundary
// The start of the character that position `end` cuts in two, or `end` if it
// cuts none; never before `start`. A character is at most 4 bytes, so at most
// 3 bytes are looked at: the first lead byte found decides.
size_t character_boundary(const uint8_t* p, size_t start, size_t end) {
  for (size_t back = 1; back <= 3 && back <= end - start; ++back) {
    const uint8_t byte = p[end - back];
    if (byte < 0x80) return end;  // ASCII ends a character
    if (byte >= 0xC0) {           // a lead byte: does its character reach `end`?
      const size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
      return length > back ? end - back : end;
    }
  }
  return end;
}
//< utf8.boundary

#if defined(__x86_64__)
// clang-format off
//> utf8.simd-tables
// Keiser and Lemire, "Validating UTF-8 In Less Than One Instruction Per Byte"
// (2021), as in simdjson. Every rule of Table 3-7 except "a 3rd/4th byte must
// be a continuation" is a rule about two neighbouring bytes, and each such
// rule is decided by three nibbles: the previous byte's high and low nibble
// and this byte's high nibble. Each rule gets one bit; three 16-entry tables
// say which rules each nibble value could be part of; a byte pair breaks a
// rule only if all three lookups agree on its bit (AND).
constexpr uint8_t kTooShort = 1 << 0;      // lead, then not a continuation (11xxxxxx 0xxxxxxx)
constexpr uint8_t kTooLong = 1 << 1;       // ASCII, then a continuation
constexpr uint8_t kOverlong3 = 1 << 2;     // E0 80..9F
constexpr uint8_t kTooLarge = 1 << 3;      // F4 90..BF, F5..FF anything: above U+10FFFF
constexpr uint8_t kSurrogate = 1 << 4;     // ED A0..BF: U+D800..U+DFFF
constexpr uint8_t kOverlong2 = 1 << 5;     // C0, C1
constexpr uint8_t kTooLarge1000 = 1 << 6;  // F5..FF 80..8F
constexpr uint8_t kOverlong4 = 1 << 6;     // F0 80..8F (shares the bit: same byte-2 nibble)
constexpr uint8_t kTwoConts = 1 << 7;      // continuation, continuation: fine only as byte 3 or 4
constexpr uint8_t kCarry = kTooShort | kTooLong | kTwoConts;  // low nibble does not matter

__attribute__((target("ssse3"))) __m128i pair_errors(__m128i previous, __m128i current) {
  const __m128i nibble = _mm_set1_epi8(0x0F);
  const __m128i prev_high = _mm_and_si128(_mm_srli_epi16(previous, 4), nibble);
  const __m128i prev_low = _mm_and_si128(previous, nibble);
  const __m128i cur_high = _mm_and_si128(_mm_srli_epi16(current, 4), nibble);
  const __m128i by_prev_high = _mm_shuffle_epi8(_mm_setr_epi8(  // index: previous byte >> 4
      kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong,  // 0-7 ASCII
      kTwoConts, kTwoConts, kTwoConts, kTwoConts,                                  // 8-B continuation
      kTooShort | kOverlong2,                                                      // C
      kTooShort,                                                                   // D
      kTooShort | kOverlong3 | kSurrogate,                                         // E
      kTooShort | kTooLarge | kTooLarge1000 | kOverlong4), prev_high);             // F
  const __m128i by_prev_low = _mm_shuffle_epi8(_mm_setr_epi8(  // index: previous byte & 0x0F
      kCarry | kOverlong3 | kOverlong2 | kOverlong4,  // x0: C0 E0 F0
      kCarry | kOverlong2,                            // x1: C1
      kCarry, kCarry,                                 // x2, x3
      kCarry | kTooLarge,                             // x4: F4
      kCarry | kTooLarge | kTooLarge1000, kCarry | kTooLarge | kTooLarge1000,  // x5, x6
      kCarry | kTooLarge | kTooLarge1000, kCarry | kTooLarge | kTooLarge1000,  // x7, x8
      kCarry | kTooLarge | kTooLarge1000, kCarry | kTooLarge | kTooLarge1000,  // x9, xA
      kCarry | kTooLarge | kTooLarge1000, kCarry | kTooLarge | kTooLarge1000,  // xB, xC
      kCarry | kTooLarge | kTooLarge1000 | kSurrogate,                         // xD: ED
      kCarry | kTooLarge | kTooLarge1000, kCarry | kTooLarge | kTooLarge1000), prev_low);
  const __m128i by_cur_high = _mm_shuffle_epi8(_mm_setr_epi8(  // index: this byte >> 4
      kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort,
      kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge1000 | kOverlong4,  // 80..8F
      kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge,                   // 90..9F
      kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,                   // A0..AF
      kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,                   // B0..BF
      kTooShort, kTooShort, kTooShort, kTooShort), cur_high);                       // C0..FF
  return _mm_and_si128(_mm_and_si128(by_prev_high, by_prev_low), by_cur_high);
}
//< utf8.simd-tables
// clang-format on

//> utf8.simd-blocks
// Skips whole valid characters from `i` (where the DFA is between characters),
// 16 bytes per step, and returns where the scalar code must take over: at the
// end of the last block that checked clean, moved back to the start of any
// character that block cut. An error is never reported here: the scalar code
// re-reads the bad block and fails at exactly the right byte.
__attribute__((target("ssse3"))) size_t skip_valid_blocks_ssse3(const uint8_t* p, size_t n,
                                                                size_t i) {
  const size_t start = i;
  __m128i previous = _mm_setzero_si128();  // "the block before" is ASCII: no character open
  for (; n - i >= 16; i += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // All ASCII, and no character of the block before left open: nothing to check.
    if (_mm_movemask_epi8(block) == 0 && character_boundary(p, start, i) == i) {
      previous = block;
      continue;
    }
    // Each byte next to the 1, 2 and 3 bytes before it (from this block or the last).
    const __m128i prev1 = _mm_alignr_epi8(block, previous, 15);
    const __m128i prev2 = _mm_alignr_epi8(block, previous, 14);
    const __m128i prev3 = _mm_alignr_epi8(block, previous, 13);
    // The one 3-byte rule: after E0..FF two bytes back, or F0..FF three bytes
    // back, this byte must be a continuation. Saturating subtraction leaves
    // the top bit set exactly for those leads; kTwoConts (bit 7) must match it.
    const __m128i must_continue =
        _mm_or_si128(_mm_subs_epu8(prev2, _mm_set1_epi8(static_cast<char>(0xE0 - 0x80))),
                     _mm_subs_epu8(prev3, _mm_set1_epi8(static_cast<char>(0xF0 - 0x80))));
    const __m128i errors =
        _mm_xor_si128(_mm_and_si128(must_continue, _mm_set1_epi8(static_cast<char>(0x80))),
                      pair_errors(prev1, block));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(errors, _mm_setzero_si128())) != 0xFFFF) break;
    previous = block;
  }
  return character_boundary(p, start, i);
}
//< utf8.simd-blocks
#endif

// The block check where the CPU has it (x86-64 with SSSE3, decided once at
// run time); elsewhere nothing is skipped and the scalar code does it all.
size_t skip_valid_blocks(const uint8_t* p, size_t n, size_t i) {
#if defined(__x86_64__)
  static const bool has_ssse3 = __builtin_cpu_supports("ssse3");
  if (has_ssse3) return skip_valid_blocks_ssse3(p, n, i);
#endif
  (void)p;
  (void)n;
  return i;
}

}  // namespace

//> utf8.feed
bool Utf8Validator::feed(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n && state_ != kReject) {
    if (state_ == kAccept) {  // between characters: ASCII and valid blocks are skipped in bulk
      // ASCII words first: a short chat message is often all ASCII and
      // then never pays for setting up the 16-byte block check.
      i = skip_ascii(p, n, i);
      if (i < n) i = skip_ascii(p, n, skip_valid_blocks(p, n, i));
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
