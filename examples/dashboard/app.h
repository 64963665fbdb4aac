// The dashboard application on a ws::Server: every 500 ms a sample of this
// machine (metrics.h) and of the server itself is published to the topic
// "metrics", which every client of ws://HOST/metrics subscribes to.
// A client that stops reading gets the latest sample and not a backlog: the
// route drops a sample for a socket that still has output queued.
// Past one process (--workers, --redis) each process sends its own samples
// to its own clients only, tagged with its host and pid (docs/protocols.md).
// Owns the sampler's state (the last CPU reading, the counters).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/program.h"
#include "dashboard/metrics.h"
#include "openpipe/io/server.h"

namespace dashboard {

inline constexpr std::string_view kTopic = "metrics";

struct Options {
  ws::Millis interval{500};  // between two samples
};

class App {
 public:
  App(ws::Server& server, Options options) : server_(server), options_(options) {
    //> dashboard.route
    ws::Route route;
    route.on_open = [](ws::WebSocket& socket) { socket.subscribe(kTopic); };
    route.on_message = [](ws::WebSocket& socket, std::string_view, ws::MessageType) {
      socket.send_text(R"({"type":"error","reason":"the dashboard only sends"})");
    };
    // Latest value wins: a socket with anything still queued (above 1 byte)
    // is skipped by a publish and the sample counted as dropped. The next
    // sample finds it drained and brings it up to date: a slow reader never
    // sees a backlog grow in the server, only gaps between the samples.
    route.high_water_mark = 1;
    route.slow_subscriber = ws::SlowSubscriberPolicy::kDrop;
    server.route("/metrics", std::move(route));
    //< dashboard.route
    cpu_before_ = parse_proc_stat(read_file("/proc/stat")).value_or(CpuTimes{});
    last_tick_ = Clock::now();
    server.every(options_.interval, [this] { tick(); });
  }

  // The sample tick() would publish now (the next one, if called twice).
  Sample take_sample() {
    Sample s;
    s.ts = app::unix_ms();
    if (auto cpu = parse_proc_stat(read_file("/proc/stat"))) {
      s.cpu = cpu_busy(cpu_before_, *cpu);
      cpu_before_ = *cpu;
    }
    if (auto memory = parse_meminfo(read_file("/proc/meminfo"))) {
      s.mem_used = memory->used;
      s.mem_total = memory->total;
    }
    s.load1 = parse_loadavg(read_file("/proc/loadavg")).value_or(0.0);
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) s.host = host;
    s.pid = ::getpid();  // read each time: a worker is a fork of its parent
    s.connections = server_.open_count();
    const auto now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - last_tick_).count();
    if (seconds > 0) {
      s.messages_per_s = static_cast<double>(messages_) / seconds;
      s.bytes_out_per_s = static_cast<double>(bytes_) / seconds;
    }
    messages_ = bytes_ = 0;
    last_tick_ = now;
    return s;
  }

  //> dashboard.tick
  // Every 500 ms: one sample, one publish. The frame is encoded once
  // whatever the number of subscribers (Server::publish); what it returns,
  // the sockets it reached, is the server's own "messages out" figure.
  // deliver_local(), not publish(): with a broker (--redis) a sample stays
  // in the process it describes. N processes forwarding theirs to every
  // client would interleave N machines' and workers' figures on one chart.
  void tick() {
    const std::string json = to_json(take_sample());
    const size_t reached = server_.deliver_local(kTopic, json, ws::MessageType::kText);
    messages_ += reached;
    bytes_ += reached * json.size();
  }
  //< dashboard.tick

 private:
  using Clock = std::chrono::steady_clock;
  ws::Server& server_;
  Options options_;
  CpuTimes cpu_before_;          // the last /proc/stat reading
  Clock::time_point last_tick_;  // when messages_ and bytes_ started counting
  uint64_t messages_ = 0;        // messages sent since last_tick_
  uint64_t bytes_ = 0;           // their payload bytes
};

}  // namespace dashboard
