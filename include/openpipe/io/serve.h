// What every server program shares past one process (chapter 20): the
// `--workers N` and `--redis ADDR` flags, and serve(), which runs the
// program's server in one process or in N workers, each with its broker
// link. Owns nothing that outlives serve(); the supervisor is workers.h, the
// broker link broker.h. A program adds two lines: parse the flags, call serve().
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "openpipe/io/broker.h"
#include "openpipe/io/server.h"
#include "openpipe/io/workers.h"

namespace ws {

//> serve.options
struct ScaleOptions {
  unsigned workers = 1;  // 1: today's single process, no fork
  std::string redis;     // "" : no broker; else HOST:PORT or redis://[:password@]host:port

  // If argv[i] is --workers or --redis, takes it and its value (advancing
  // i) and returns true; `error` is set if the value is wrong.
  bool parse_flag(int argc, char** argv, int& i, std::string& error);
  // Checks the combination: "" if fine, else the one line to print.
  std::string check() const;
};

// For each program's --help.
inline constexpr const char* kScaleUsage =
    "  --workers N          N processes on one port (SO_REUSEPORT; default 1: no fork);\n"
    "                       N > 1 needs --redis so that a publish reaches every worker\n"
    "  --redis ADDR         Redis as the message broker: HOST:PORT or\n"
    "                       redis://[:password@]host:port (publishes reach every process)\n";
//< serve.options

// Runs the server: builds it from `config` in each process (with
// SO_REUSEPORT when there are several), attaches a broker when --redis was
// given, calls `setup` (routes, timers, the listening line), and runs until
// SIGINT/SIGTERM. Returns the exit status for main(); prints why on failure.
int serve(const std::string& program, ServerConfig config, const ScaleOptions& scale,
          const std::function<void(Server&)>& setup);

}  // namespace ws
