// Fuzz harness (libFuzzer) for the TLS layer of chapter 23
// (src/protocol/tls.cpp): a server TlsSession fed arbitrary "ciphertext",
// as a hostile client on the TLS port would send it.
//
// Invariants, for every input:
//   - no crash, no sanitizer report, no unbounded output: whatever OpenSSL
//     answers (an alert, a ServerHello) stays small;
//   - fed in two pieces at a split chosen by the input, the session ends in
//     the same state (failed or not, handshake done or not) as fed whole:
//     partial records are kept inside the memory BIO;
//   - once failed, it stays failed and hands out no plaintext.
// The server's certificate is made once per process with libcrypto.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>

#include "../support/test_tls.h"
#include "openpipe/protocol/tls.h"

namespace {

using namespace ws;

#define FUZZ_CHECK(condition, what)                                          \
  do {                                                                       \
    if (!(condition)) {                                                      \
      std::fprintf(stderr, "invariant broken: %s (%s)\n", what, #condition); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

const TlsContext& server_context() {
  static test::TestCa ca;
  static test::PemPair pair = ca.issue("server");
  static std::shared_ptr<TlsContext> context = TlsContext::server(pair.cert, pair.key).context;
  return *context;
}

struct Outcome {
  bool failed = false;
  bool done = false;
  size_t plaintext = 0;
};

Outcome feed(std::span<const uint8_t> bytes, size_t split) {
  TlsSession session(server_context());
  uint8_t buffer[kTlsMaxRecordPlaintext];
  Outcome outcome;
  for (std::span<const uint8_t> piece : {bytes.first(split), bytes.subspan(split)}) {
    session.receive_ciphertext(piece);
    for (;;) {
      TlsRead read = session.read_plaintext(buffer);
      if (read.status != TlsStatus::kOk) break;
      outcome.plaintext += read.size;
    }
  }
  FUZZ_CHECK(session.buffered_amount() < 64 * 1024, "OpenSSL's answer stays small");
  outcome.failed = session.failed();
  outcome.done = session.handshake_done();
  if (outcome.failed) {
    TlsRead after = session.read_plaintext(buffer);
    FUZZ_CHECK(after.status == TlsStatus::kError, "a failed session stays failed");
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  Outcome whole = feed(bytes, size);
  size_t split = size == 0 ? 0 : data[0] % (size + 1);
  Outcome parts = feed(bytes, split);
  FUZZ_CHECK(whole.failed == parts.failed, "the split does not change failure");
  FUZZ_CHECK(whole.done == parts.done, "the split does not change the handshake");
  FUZZ_CHECK(whole.plaintext == parts.plaintext, "the split does not change the plaintext");
  return 0;
}
