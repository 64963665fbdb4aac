// EXERCISE SKELETON for chapter 05 (tutorial/05-utf8.md): src/protocol/utf8.cpp
// with the function bodies replaced by todo(). Write them here; run
//   make exercise CH=05
// and the chapter's tests say what is still wrong. Comments and signatures are
// the real ones; the stubs name the chapter's region that shows the answer.
// Regenerate (this overwrites your work) after the real module changes:
//   python3 exercises/tools/skeleton.py src/protocol/utf8.cpp 05-utf8.md
// UTF-8 validation (RFC 3629 §4, Unicode Table 3-7): a fast incremental
// validator (ASCII eight bytes at a time, then a small DFA) and the simple
// reference it is tested against. The tutorial is chapter 05 (tutorial/05-utf8.md).
#include "openpipe/protocol/utf8.h"
#include "todo.h"  // todo(): what every stub below calls

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

// ---- the fast validator: byte classes and a DFA ---------------------------------

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

// Skips ASCII from `i`: eight bytes per step while none has its high bit set,
// then byte by byte. Returns the index of the first non-ASCII byte (or n).

// ---- the block check: 16 bytes at a time (chapter 16) -----------------------------

// The start of the character that position `end` cuts in two, or `end` if it
// cuts none; never before `start`. A character is at most 4 bytes, so at most
// 3 bytes are looked at: the first lead byte found decides.

#if defined(__x86_64__)
// clang-format off
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

// clang-format on

// Skips whole valid characters from `i` (where the DFA is between characters),
// 16 bytes per step, and returns where the scalar code must take over: at the
// end of the last block that checked clean, moved back to the start of any
// character that block cut. An error is never reported here: the scalar code
// re-reads the bad block and fails at exactly the right byte.
#endif

// The block check where the CPU has it (x86-64 with SSSE3, decided once at
// run time); elsewhere nothing is skipped and the scalar code does it all.

}  // namespace

bool Utf8Validator::feed(std::span<const uint8_t> bytes) {
  (void)bytes;
  todo("Utf8Validator::feed (tutorial/05-utf8.md, region utf8.feed)");
}

bool is_valid_utf8(std::span<const uint8_t> bytes) {
  (void)bytes;
  todo("is_valid_utf8 (tutorial/05-utf8.md)");
}

bool is_valid_utf8(std::string_view text) {
  (void)text;
  todo("is_valid_utf8 (tutorial/05-utf8.md)");
}

bool is_valid_utf8_reference(std::span<const uint8_t> bytes) {
  (void)bytes;
  todo("is_valid_utf8_reference (tutorial/05-utf8.md)");
}

size_t first_invalid_utf8_byte_reference(std::span<const uint8_t> bytes) {
  (void)bytes;
  todo("first_invalid_utf8_byte_reference (tutorial/05-utf8.md)");
}

}  // namespace ws
