// Random bytes from the kernel's CSPRNG (getrandom(2)), for the client's
// Sec-WebSocket-Key (RFC 6455 §4.1) and its masking keys (§5.3, §10.3).
// Owns no state: no seed, no generator object. Never falls back to rand().
#pragma once

#include <cstdint>
#include <span>

namespace ws {

// Fills `out` with unpredictable bytes. Retries on EINTR and short reads;
// at early boot it may block until the kernel's pool is seeded. If the
// kernel has no entropy source at all (no getrandom), prints why and aborts:
// a client with predictable masks is worse than no client (§10.3).
void random_bytes(std::span<uint8_t> out);

// A number in [0, upper], uniform, from random_bytes(): for jitter.
uint64_t random_below_or_equal(uint64_t upper);

}  // namespace ws
