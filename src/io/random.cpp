// Random bytes from getrandom(2). See include/openpipe/io/random.h.
#include "openpipe/io/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace ws {

//> random.getrandom
void random_bytes(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    // Flags 0: the urandom pool, blocking only until it is first seeded.
    ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n > 0) {
      done += static_cast<size_t>(n);  // a short read: ask for the rest
      continue;
    }
    if (n < 0 && errno == EINTR) continue;  // a signal arrived: ask again
    // ENOSYS (a kernel older than 3.17) or anything else: no safe source.
    // RFC 6455 §10.3: masking keys must not be predictable, so we stop
    // here rather than quietly use rand() or the clock.
    std::fprintf(stderr, "openpipe: getrandom(2) failed (%s): no kernel entropy source, aborting\n",
                 n < 0 ? std::strerror(errno) : "returned 0");
    std::abort();
  }
}
//< random.getrandom

uint64_t random_below_or_equal(uint64_t upper) {
  if (upper == std::numeric_limits<uint64_t>::max()) {
    uint64_t any = 0;
    random_bytes({reinterpret_cast<uint8_t*>(&any), sizeof any});
    return any;
  }
  // Rejection sampling: values in the incomplete last block of size upper+1
  // are drawn again, so every result in [0, upper] is equally likely.
  uint64_t range = upper + 1;
  uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t value = 0;
  do {
    random_bytes({reinterpret_cast<uint8_t*>(&value), sizeof value});
  } while (value >= limit);
  return value % range;
}

}  // namespace ws
