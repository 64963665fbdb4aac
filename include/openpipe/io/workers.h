// The worker supervisor behind `--workers N` (chapter 20): the parent forks N
// processes; each runs its own event loop and its own listening socket on
// the same port (SO_REUSEPORT), so the kernel spreads connections and the
// workers share nothing. Owns the children: their restarts (with backoff),
// the forwarding of SIGINT/SIGTERM, and their output, merged into one log
// stream with every line tagged "[worker N]". Does not own what a worker
// runs (a function of the program) nor the broker between workers (broker.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace ws {

//> workers.options
struct WorkerOptions {
  unsigned workers = 2;                               // processes to run
  std::chrono::milliseconds restart_initial{100};     // first restart of a crashed worker
  std::chrono::milliseconds restart_max{5000};        // restarts never wait longer
  std::chrono::milliseconds stable_after{10000};      // alive this long: backoff starts over
  std::chrono::milliseconds shutdown_timeout{15000};  // then stragglers get SIGKILL
  std::string name = "openpipe";                      // for the supervisor's own lines
};
//< workers.options

// A process-wide limit: --workers accepts at most this many.
inline constexpr unsigned kMaxWorkers = 256;

// Runs `worker(index)` (index 1..N) in N child processes and supervises them
// until SIGINT or SIGTERM, which is forwarded to every worker; then waits for
// all of them and returns 0 (1 if any ended badly). `worker` returns its exit
// status. Each child's stdout and stderr go through pipes to the parent,
// which writes them line by line, prefixed "[worker N] ", to its own.
int run_workers(const WorkerOptions& options, const std::function<int(unsigned index)>& worker);

}  // namespace ws
