// The dashboard's figures, read from Linux's /proc as text: CPU time
// (/proc/stat), memory (/proc/meminfo), the load average (/proc/loadavg),
// and the JSON "sample" of docs/protocols.md. Parsers take the file's text,
// not a path, so tests feed them fixed strings; read_file() does the I/O.
// Owns no server state (examples/dashboard/app.h does). proc(5).
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace dashboard {

// The whole of a small file such as /proc/stat ("" if it cannot be read).
inline std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

//> dashboard.cpu
// The first line of /proc/stat adds up every CPU's time, in clock ticks:
//   cpu  user nice system idle iowait irq softirq steal guest guest_nice
// Busy is everything but idle and iowait. (guest time is already inside
// user, so it is not added twice.)
struct CpuTimes {
  uint64_t busy = 0;   // ticks spent working
  uint64_t total = 0;  // busy + idle
};

inline std::optional<CpuTimes> parse_proc_stat(std::string_view text) {
  if (!text.starts_with("cpu ")) return std::nullopt;
  std::istringstream in{std::string(text.substr(0, text.find('\n')))};
  std::string label;
  uint64_t field[8] = {};
  in >> label;
  for (uint64_t& value : field) {
    if (!(in >> value)) return std::nullopt;  // kernels since 2.6.11 give at least 8
  }
  const uint64_t idle = field[3] + field[4];  // idle + iowait
  const uint64_t busy = field[0] + field[1] + field[2] + field[5] + field[6] + field[7];
  return CpuTimes{busy, busy + idle};
}

// The share of time busy between two readings, 0..1 (0 if no tick passed).
inline double cpu_busy(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return 0.0;
  const double share = double(after.busy - before.busy) / double(after.total - before.total);
  return share > 1.0 ? 1.0 : share;
}
//< dashboard.cpu

//> dashboard.memory
// /proc/meminfo: "MemTotal:  16314396 kB" lines. Used memory is what
// programs cannot get back: MemTotal - MemAvailable (free(1)'s "used" view
// since Linux 3.14), in bytes.
struct Memory {
  uint64_t used = 0;   // bytes
  uint64_t total = 0;  // bytes
};

inline std::optional<Memory> parse_meminfo(std::string_view text) {
  std::optional<uint64_t> total, available;
  std::istringstream in{std::string(text)};
  for (std::string key, unit; in >> key;) {
    uint64_t kib = 0;
    if (!(in >> kib)) return std::nullopt;
    std::getline(in, unit);  // " kB" (or nothing for counts)
    if (key == "MemTotal:") total = kib * 1024;
    if (key == "MemAvailable:") available = kib * 1024;
  }
  if (!total || !available || *available > *total) return std::nullopt;
  return Memory{*total - *available, *total};
}
//< dashboard.memory

// /proc/loadavg: "0.52 0.58 0.59 1/467 12345"; the first number is the
// load over the last minute.
inline std::optional<double> parse_loadavg(std::string_view text) {
  std::istringstream in{std::string(text)};
  double load1 = 0;
  if (!(in >> load1) || load1 < 0) return std::nullopt;
  return load1;
}

//> dashboard.sample
// One sample, as the dashboard publishes it every 500 ms.
struct Sample {
  int64_t ts = 0;              // when it was taken, ms since the Unix epoch
  double cpu = 0;              // busy share of all CPUs since the last sample, 0..1
  uint64_t mem_used = 0;       // bytes
  uint64_t mem_total = 0;      // bytes
  double load1 = 0;            // load average, last minute
  uint64_t connections = 0;    // WebSockets open on this server
  double messages_per_s = 0;   // WebSocket messages this server sent, per second
  double bytes_out_per_s = 0;  // payload bytes of those messages, per second
  std::string host;            // the machine's name (gethostname)
  int64_t pid = 0;             // the process that took it: connections and rates are its own
};

// Three decimals are plenty for a chart, and keep each sample short.
inline double rounded(double value) {
  return std::round(value * 1000.0) / 1000.0;
}

inline std::string to_json(const Sample& s) {
  return nlohmann::ordered_json{{"type", "sample"},
                                {"ts", s.ts},
                                {"cpu", rounded(s.cpu)},
                                {"mem_used", s.mem_used},
                                {"mem_total", s.mem_total},
                                {"load1", rounded(s.load1)},
                                {"connections", s.connections},
                                {"messages_per_s", rounded(s.messages_per_s)},
                                {"bytes_out_per_s", rounded(s.bytes_out_per_s)},
                                {"host", s.host},
                                {"pid", s.pid}}
      .dump();
}
//< dashboard.sample

}  // namespace dashboard
