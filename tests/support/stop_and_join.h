// Stops and joins a test's helper thread however the test ends: a failed
// ASSERT returns early, and a joinable std::thread destroyed would abort the
// run. Header-only; namespace ws::test. Used by chapter 21's load tests.
#pragma once

#include <atomic>
#include <thread>

namespace ws::test {

struct StopAndJoin {
  std::atomic<bool>& stop;
  std::thread& thread;
  ~StopAndJoin() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

}  // namespace ws::test
