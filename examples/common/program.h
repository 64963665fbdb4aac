// What the example programs (chat, dashboard, notify) share: the flags every
// server has (--host, --port, --quiet, --trace, --help, and --workers and
// --redis, which serve() acts on: chapter 20), number parsing that refuses
// "-1", the "listening on" line and the wall clock for timestamps.
// Owns no server state; each program keeps its own flags and routes.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "openpipe/io/serve.h"
#include "openpipe/io/server.h"

namespace app {

// A program's name and usage text, for its error messages.
struct Program {
  const char* name;        // "chat_server"
  const char* usage;       // the --help text: its own options
  const char* notes = "";  // printed after the options (an example, say)
};

// The whole --help text: the program's options, then those every server
// program shares past one process (ws::kScaleUsage, as echo_server's).
inline std::string usage_text(const Program& program) {
  return std::string(program.usage) + ws::kScaleUsage + "  --help               this text\n" +
         program.notes;
}

[[noreturn]] inline void usage_error(const Program& program, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n%s", program.name, message.c_str(), usage_text(program).c_str());
  std::exit(2);
}

// A decimal number in [min, max]; anything else is a usage error (exit 2).
inline unsigned long long parse_number(const Program& program, std::string_view flag,
                                       const char* text, unsigned long long min,
                                       unsigned long long max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] < '0' || text[0] > '9') {
    usage_error(program, std::string(flag) + ": not a number");
  }
  if (value < min || value > max) {
    usage_error(program, std::string(flag) + ": between " + std::to_string(min) + " and " +
                             std::to_string(max));
  }
  return value;
}

//> app.flags
// Walks argv: the flags every program has are handled here (--workers and
// --redis into `scale`, for ws::serve()), the others are offered to
// `own(flag, value)`, which returns false for a flag it does not know.
// `value()` takes the flag's argument (a usage error if there is none).
using ValueFn = std::function<const char*()>;
inline void parse_flags(const Program& program, int argc, char** argv, ws::ServerConfig& config,
                        ws::ScaleOptions& scale,
                        const std::function<bool(std::string_view flag, const ValueFn&)>& own) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    const ValueFn value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(program, std::string(flag) + " needs a value");
      return argv[++i];
    };
    if (std::string error; scale.parse_flag(argc, argv, i, error)) {  // --workers, --redis
      if (!error.empty()) usage_error(program, error);
    } else if (flag == "--help" || flag == "-h") {
      std::fputs(usage_text(program).c_str(), stdout);
      std::exit(0);
    } else if (flag == "--host") {
      config.host = value();
    } else if (flag == "--port") {
      config.port = static_cast<uint16_t>(parse_number(program, flag, value(), 0, 65535));
    } else if (flag == "--quiet") {
      config.log = nullptr;
    } else if (flag == "--trace") {
      config.trace = true;
    } else if (!own(flag, value)) {
      usage_error(program, "unknown option " + std::string(flag));
    }
  }
}
//< app.flags

// Prints "openpipe <what> listening on http://ADDR/" once the loop runs (so a
// script that reads the line can already stop the server with SIGTERM).
inline void announce(ws::Server& server, std::string what, std::string hint) {
  server.after(ws::Millis{0}, [&server, what = std::move(what), hint = std::move(hint)] {
    std::printf("openpipe %s listening on http://%s/\n", what.c_str(), server.address().c_str());
    if (!hint.empty()) std::printf("  %s\n", hint.c_str());
    std::fflush(stdout);
  });
}

// Milliseconds since the Unix epoch: the "ts" of every JSON message.
inline int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace app
