// The load generator of chapter 16: how fast is the echo server, and how
// close to a plain TCP echo server (build/tcp_echo_server) does it get?
//
//   build/bench --spawn openpipe                 one run against a server it starts
//   build/bench --url ws://127.0.0.1:8000/echo --connections 100 --in-flight 16
//   build/bench --spawn raw --raw                the same traffic over plain TCP
//   build/bench --spawn openpipe --idle 10000    handshake time and memory per connection
//   build/bench --spawn openpipe --json --deflate JSON chat messages, permessage-deflate (ch. 22)
//   build/bench --spawn openpipe --fanout 1000 --in-flight 16
//                                                one publisher, 1,000 subscribers on /broadcast
//   build/bench --http                           HTTP requests/s, keep-alive vs Connection: close
//   build/bench --suite                          every scenario, 3 times, medians (make bench)
//
// One thread, one epoll loop (ws::EventLoop). Each connection keeps D
// messages in flight; every echo is checked byte for byte against what was
// sent; round-trip times go into a list for percentiles. The server's CPU
// time comes from /proc/PID/stat, so "messages per server-CPU-second" says
// how much work each message costs the server, whoever the bottleneck is.
// WebSocket connections use the library's client-role Connection: it checks
// the 101 and Sec-WebSocket-Accept (RFC 6455 §4.1) and masks every frame (§5.3).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "openpipe/core/buffer.h"
#include "openpipe/io/client.h"
#include "openpipe/io/event_loop.h"
#include "openpipe/io/random.h"
#include "openpipe/io/socket.h"
#include "openpipe/protocol/connection.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: bench [options]\n"
    "  --url ws://HOST:PORT/PATH  the echo server to load (HOST: an IPv4 address or localhost)\n"
    "  --spawn openpipe|raw       start build/echo_server or build/tcp_echo_server on a free\n"
    "                             port instead (server pinned to core 0, bench to core 1)\n"
    "  --raw                      plain TCP echo: the same traffic with no WebSocket framing\n"
    "  --connections N            connections (default 100)\n"
    "  --in-flight D              messages in flight per connection (default 1)\n"
    "  --size S                   message size in bytes (default 20)\n"
    "  --binary                   binary messages (default: text)\n"
    "  --warmup SEC               warm-up before measuring (default 1)\n"
    "  --seconds SEC              measurement window (default 3)\n"
    "  --server-pid PID           read the server's CPU time and memory from /proc/PID\n"
    "  --idle [N]                 open N connections (default 10000), report the time to\n"
    "                             complete every handshake and the server's memory per connection\n"
    "  --idle-echo                with --idle: each connection echoes one message before it\n"
    "                             counts as open (what a window kept after a message costs)\n"
    "  --json                     JSON-like chat messages instead of random bytes\n"
    "  --deflate                  offer permessage-deflate (RFC 7692); no window kept\n"
    "  --server-quiet             the spawned echo_server gets --quiet (by default it runs\n"
    "                             as users run it: logging, its log in build/bench-server.log)\n"
    "  --deflate-context          offer it keeping both windows (a spawned server gets\n"
    "                             --deflate-context too)\n"
    "  --fanout N                 fan-out: N subscribers and one publisher on /broadcast; the\n"
    "                             publisher keeps --in-flight publishes going, each one\n"
    "                             complete when every socket (the publisher's too) has it\n"
    "  --http                     HTTP requests/s for a small static file, keep-alive beside\n"
    "                             Connection: close (also part of --suite)\n"
    "  --suite                    every scenario for openpipe and raw TCP, --reps times each\n"
    "  --fanout-suite             the fan-out scenarios beside the echo at 16 in flight, --reps\n"
    "                             times each (--results default: build/bench-fanout.md)\n"
    "  --reps N                   repetitions per suite scenario (default 3; medians reported)\n"
    "  --results FILE             suite: the markdown table (default build/bench-results.md)\n"
    "  --chart FILE               suite: the SVG bar chart (default build/bench-chart.svg)\n"
    "  --help                     this text\n";

// TCP connects (and handshakes) in progress at once: more would overflow the
// server's accept queue (backlog 511) and cost one-second SYN retransmits.
constexpr size_t kMaxConnecting = 256;
constexpr size_t kReadBufferSize = 256 * 1024;  // the same as the servers'
constexpr auto kSetupTimeout = std::chrono::seconds(60);

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bench: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// ---- what to run --------------------------------------------------------------------

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string resource = "/echo";
  std::string spawn;  // "", "openpipe" or "raw"
  bool raw = false;
  size_t connections = 100;
  size_t in_flight = 1;
  size_t size = 20;
  bool binary = false;
  double warmup = 1;
  double seconds = 3;
  pid_t server_pid = 0;
  size_t idle = 0;               // 0: a load run
  bool idle_echo = false;        // --idle-echo
  bool json = false;             // --json
  bool deflate = false;          // --deflate or --deflate-context
  bool deflate_context = false;  // --deflate-context
  size_t fanout = 0;             // > 0: subscribers of a fan-out run (link 0 publishes)
  bool suite = false;
  bool fanout_suite = false;
  bool server_quiet = false;  // --server-quiet: the spawned echo_server gets --quiet
  bool http = false;          // --http: requests/s for a static file, kept alive and not
  int reps = 3;
  std::string results;  // suite output files
  std::string chart;
};

// What one run measured. Times in seconds, sizes in bytes.
struct Result {
  std::string error;            // empty if the run worked
  uint64_t messages = 0;        // echoes completed inside the window
  uint64_t total_messages = 0;  // including the warm-up (for per-message profiles)
  uint64_t mismatches = 0;      // echoes that differed from what was sent: must be 0
  double window = 0;            // measured seconds
  double msgs_per_s = 0;
  double bytes_per_s = 0;                      // payload echoed (counted once)
  double p50_us = 0, p99_us = 0, p999_us = 0;  // round trip
  double server_cpu = -1;  // server CPU seconds per second of window (-1: unknown)
  double msgs_per_server_cpu_s = 0;
  double bench_cpu = 0;                                  // this process, the same way
  double handshake_s = 0;                                // idle: time to open every connection
  double server_us_per_open = 0, bench_us_per_open = 0;  // idle: CPU per connection opened
  double rss_before = 0, rss_after = 0, bytes_per_connection = 0;  // idle: server VmRSS
  double wire_bytes_per_msg = 0;  // bytes on the wire per echoed message, both ways
  bool deflate_agreed = false;    // the server accepted permessage-deflate
};

// ---- the machine and /proc ---------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

std::string machine_line() {
  utsname names{};
  ::uname(&names);
  return cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) +
         " cores, Linux " + names.release;
}

//> bench.server-cpu
// CPU time (user + system) a process has used, in seconds, from fields 14
// and 15 of /proc/PID/stat (in clock ticks). The command name (field 2) is in
// parentheses and may contain spaces, so counting starts after the last ')'.
double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));  // field 3 onwards
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}
//< bench.server-cpu

double self_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The 1, 5 and 15 minute load averages: other work on the machine skews
// every number, so the results say how busy it was.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// VmRSS from /proc/PID/status, in bytes (-1 if unknown).
double resident_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) * 1024;
  }
  return -1;
}

// 10,000 connections need 10,000 descriptors: take the hard limit. A server
// started by --spawn inherits it.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

// The first two CPUs this process may run on (-1 where there is none).
std::array<int, 2> two_cpus() {
  std::array<int, 2> cpus = {-1, -1};
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  size_t found = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus[found++] = cpu;
  }
  return cpus;
}

void pin_to(pid_t pid, int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(pid, sizeof set, &set);
}

// ---- what is sent ------------------------------------------------------------------------

//> bench.random-pool
// Masking keys must be unpredictable (RFC 6455 §10.3), but one getrandom()
// per 20-byte frame would make the generator measure its own system calls.
// Keys are dealt from a 4 KiB block of getrandom() output, refilled when used
// up: one system call per 1,024 frames, and every key still from the CSPRNG.
class RandomPool {
 public:
  void fill(std::span<uint8_t> out) {
    for (uint8_t& byte : out) {
      if (used_ == block_.size()) {
        ws::random_bytes(block_);
        used_ = 0;
      }
      byte = block_[used_++];
    }
  }

 private:
  std::array<uint8_t, 4096> block_{};
  size_t used_ = block_.size();  // empty: the first call fills it
};
//< bench.random-pool

//> bench.pattern
// Message k of connection c is `size` bytes of a fixed pseudo-random pattern,
// starting at a shift that changes from message to message: an echo of the
// wrong message, a lost or duplicated byte, all show up as a mismatch.
// Text uses printable ASCII (valid UTF-8); binary uses all 256 byte values.
class Pattern {
 public:
  Pattern(size_t size, bool binary, bool json = false)
      : size_(size), shifts_(json ? kJsonShifts : kShifts), bytes_(size + shifts_) {
    uint32_t x = 2463534242u;  // xorshift32: the same bytes on every run
    if (json) {
      fill_json(x);
      return;
    }
    for (uint8_t& byte : bytes_) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      byte = binary ? static_cast<uint8_t>(x) : static_cast<uint8_t>(' ' + x % 95);
    }
  }
  std::span<const uint8_t> message(size_t connection, uint64_t k) const {
    return {bytes_.data() + (connection * 37 + k * step()) % shifts_, size_};
  }

 private:
  // --json: chat messages as a chat room sends them, the same keys every
  // time, a few rooms and users, words of a small vocabulary (chapter 22).
  // A megabyte of them, and messages that start far apart, so that a
  // compression window sees a conversation, not the same message again.
  void fill_json(uint32_t x) {
    static const char* kWords[] = {"hello",   "see",      "you",    "at",     "the",
                                   "meeting", "tomorrow", "ok",     "thanks", "great",
                                   "idea",    "lunch",    "deploy", "done"};
    auto next = [&x] { return x ^= x << 13, x ^= x >> 17, x ^= x << 5; };
    std::string text;
    while (text.size() < bytes_.size()) {
      text += "{\"type\":\"message\",\"room\":\"room" + std::to_string(next() % 8) +
              "\",\"user\":\"user" + std::to_string(next() % 100) + "\",\"text\":\"";
      for (uint32_t w = 0, n = 4 + next() % 9; w < n; ++w) {
        text += std::string(w ? " " : "") + kWords[next() % std::size(kWords)];
      }
      text += "\",\"ts\":" + std::to_string(1733230000000ull + next() % 100000000) + "}";
    }
    std::copy_n(text.begin(), bytes_.size(), bytes_.begin());
  }
  uint64_t step() const { return shifts_ == kShifts ? 11 : 4099; }

  static constexpr size_t kShifts = 256;
  static constexpr size_t kJsonShifts = 1 << 20;
  size_t size_;
  size_t shifts_;  // message starts lie in [0, shifts_)
  std::vector<uint8_t> bytes_;
};
//< bench.pattern

// ---- latency percentiles -------------------------------------------------------------------

double percentile_us(std::vector<uint32_t>& samples_ns, double fraction) {
  if (samples_ns.empty()) return 0;
  size_t rank = std::min(samples_ns.size() - 1,
                         static_cast<size_t>(fraction * static_cast<double>(samples_ns.size())));
  std::nth_element(samples_ns.begin(), samples_ns.begin() + rank, samples_ns.end());
  return samples_ns[rank] / 1000.0;
}

// ---- the generator ---------------------------------------------------------------------------

class Generator;

// One connection: a non-blocking TCP socket, the client-role Connection (or,
// raw, just an output buffer), and the messages it has in flight.
class Link final : public ws::IoHandler, public ws::ConnectionHandler {
 public:
  Link(Generator& generator, size_t index, ws::Fd fd);
  ~Link() override;

  void on_io(uint32_t events) override;
  void send_next(Clock::time_point now);  // one more message in flight
  void flush();
  void reset_close();  // RST: no TIME_WAIT left behind by thousands of runs

 private:
  enum class Phase : uint8_t { kConnecting, kHandshaking, kOpen, kDone };

  void on_connected();
  void on_readable();
  void on_raw_bytes(std::span<const uint8_t> data, Clock::time_point now);
  void message_done(bool matches, Clock::time_point now);
  void fail(const std::string& why);

  // ws::ConnectionHandler (client role)
  void on_open(ws::Connection&) override;
  void on_text(ws::Connection&, std::string_view text) override;
  void on_binary(ws::Connection&, std::span<const uint8_t> data) override;
  void on_close(ws::Connection&, uint16_t code, std::string_view reason) override;
  void on_error(ws::Connection&, ws::Error error) override;

  Generator& generator_;
  size_t index_;  // which connection: picks its messages
  ws::Fd fd_;     // owned
  Phase phase_ = Phase::kConnecting;
  std::unique_ptr<ws::Connection> ws_;      // WebSocket mode
  ws::Buffer raw_out_;                      // raw mode: bytes not yet sent
  uint64_t sent_ = 0, received_ = 0;        // messages
  size_t received_bytes_ = 0;               // raw: of the message being received
  bool raw_mismatch_ = false;               // raw: in the message being received
  std::vector<Clock::time_point> sent_at_;  // ring of in_flight send times
  Clock::time_point now_;                   // when the current event arrived
};

class Generator {
 public:
  Generator(const Options& options)
      : options_(options), pattern_(options.size, options.binary, options.json) {
    if (options.deflate) {
      ws::DeflateConfig config;
      config.server_context_takeover = config.client_context_takeover = options.deflate_context;
      deflate_ = std::make_unique<ws::DeflateShared>(config);
    }
    read_buffer_.resize(kReadBufferSize);
    latencies_.reserve(1 << 20);
  }

  Result run();  // a load run or an idle run, as the options say

  // ---- for Link ----
  const Options& options() const { return options_; }
  ws::EventLoop& loop() { return loop_; }
  const Pattern& pattern() const { return pattern_; }
  std::span<uint8_t> read_buffer() { return read_buffer_; }
  ws::ClientOptions client_options();
  bool sending() const { return sending_; }
  void delivered(bool matches, uint64_t k, Clock::time_point now);  // fan-out
  void on_link_open();
  void on_link_failed(const std::string& why);
  void count_wire(size_t bytes) { wire_bytes_ += measuring_ ? bytes : 0; }
  void note_deflate(bool agreed) { result_.deflate_agreed = agreed; }
  //> bench.record
  void record(bool matches, Clock::duration round_trip) {
    ++total_messages_;
    if (!matches) ++mismatches_;  // counted in the warm-up too: any is a failure
    if (!measuring_) return;
    ++messages_;
    latencies_.push_back(static_cast<uint32_t>(std::min<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(round_trip).count(), UINT32_MAX)));
  }
  //< bench.record

 private:
  void connect_more();
  void start_traffic();
  void begin_window();
  void end_window();
  void finish(const std::string& error);
  void publish(Clock::time_point now);  // fan-out: one more publish in flight

  Options options_;
  Pattern pattern_;
  RandomPool random_;
  ws::EventLoop loop_;
  std::vector<uint8_t> read_buffer_;
  std::vector<std::unique_ptr<Link>> links_;
  size_t started_ = 0, open_ = 0;  // connections begun / open
  bool sending_ = false, measuring_ = false;
  Clock::time_point connect_start_, window_start_;
  double server_cpu_start_ = 0, self_cpu_start_ = 0;
  uint64_t messages_ = 0, total_messages_ = 0, mismatches_ = 0;
  std::vector<uint32_t> latencies_;             // round trips in the window, ns
  uint64_t wire_bytes_ = 0;                     // read and written in the window
  std::unique_ptr<ws::DeflateShared> deflate_;  // --deflate: the client side's zlib state
  Result result_;
  // Fan-out: publish k went out at publish_at_[k % D] and still has
  // remaining_[k % D] deliveries to go (D = in flight: a slot is reused only
  // once its publish has reached every socket).
  uint64_t published_ = 0;
  std::vector<Clock::time_point> publish_at_;
  std::vector<size_t> remaining_;
};

// ---- Link --------------------------------------------------------------------------------------

Link::Link(Generator& generator, size_t index, ws::Fd fd)
    : generator_(generator),
      index_(index),
      fd_(std::move(fd)),
      sent_at_(std::max<size_t>(generator.options().in_flight, 1)) {
  if (!generator.options().raw) {
    ws::ConnectionLimits limits;
    limits.max_message_size = std::max<uint64_t>(limits.max_message_size, generator.options().size);
    ws_ = std::make_unique<ws::Connection>(generator.client_options(), limits);
  }
  generator_.loop().add(fd_.get(), EPOLLOUT, this);  // writable = connected (or failed)
}

Link::~Link() {
  if (fd_.valid()) generator_.loop().remove(fd_.get());
}

void Link::reset_close() {
  if (!fd_.valid()) return;
  linger hard{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  generator_.loop().remove(fd_.get());
  fd_.reset();
}

void Link::fail(const std::string& why) {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  generator_.on_link_failed(why);
}

void Link::on_io(uint32_t events) {
  now_ = Clock::now();  // one clock read per event: the receive time of what it brings
  if (phase_ == Phase::kConnecting) return on_connected();
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable();
  if (phase_ != Phase::kDone && (events & EPOLLOUT)) flush();
}

void Link::on_connected() {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return fail(std::string("connect: ") + std::strerror(error));
  phase_ = Phase::kHandshaking;
  if (!ws_ && generator_.options().idle == 0) {  // raw load: connected is open
    phase_ = Phase::kOpen;
    generator_.loop().modify(fd_.get(), EPOLLIN);
    return generator_.on_link_open();
  }
  // WebSocket: the Connection queued the upgrade request when it was made.
  // Raw idle: one byte echoed proves the server accepted the connection.
  if (!ws_) raw_out_.append(std::string_view("h"));
  flush();
}

void Link::on_readable() {
  std::span<uint8_t> buffer = generator_.read_buffer();
  ssize_t n = ws::read_some(fd_.get(), buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return fail(n == 0 ? "the server closed the connection" : std::strerror(errno));
  generator_.count_wire(static_cast<size_t>(n));
  std::span<uint8_t> data = buffer.first(static_cast<size_t>(n));
  if (ws_) {
    ws_->receive_data(data, *this);  // calls on_open / on_text / on_binary
  } else if (phase_ == Phase::kHandshaking) {
    phase_ = Phase::kOpen;  // raw idle: our byte came back
    generator_.on_link_open();
  } else {
    on_raw_bytes(data, now_);
  }
  if (phase_ != Phase::kDone) flush();
}

//> bench.raw-verify
// Raw TCP has no message boundaries: the stream is cut into messages of
// `size` bytes, and each piece that arrives is compared with the part of the
// expected message it should be.
void Link::on_raw_bytes(std::span<const uint8_t> data, Clock::time_point now) {
  const size_t size = generator_.options().size;
  while (!data.empty()) {
    std::span<const uint8_t> expected = generator_.pattern().message(index_, received_);
    const size_t take = std::min(data.size(), size - received_bytes_);
    if (std::memcmp(data.data(), expected.data() + received_bytes_, take) != 0) {
      raw_mismatch_ = true;
    }
    received_bytes_ += take;
    data = data.subspan(take);
    if (received_bytes_ == size) {
      message_done(!raw_mismatch_, now);
      received_bytes_ = 0;
      raw_mismatch_ = false;
    }
  }
}
//< bench.raw-verify

//> bench.verify
// A whole message came back (WebSocket mode: the Connection reassembled and
// validated it). It must be, byte for byte, the oldest message in flight.
void Link::on_text(ws::Connection&, std::string_view text) {
  on_binary(*ws_, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

void Link::on_binary(ws::Connection&, std::span<const uint8_t> data) {
  // Fan-out: every socket receives the publisher's (link 0's) messages.
  const size_t sender = generator_.options().fanout > 0 ? 0 : index_;
  std::span<const uint8_t> expected = generator_.pattern().message(sender, received_);
  bool matches =
      data.size() == expected.size() && std::memcmp(data.data(), expected.data(), data.size()) == 0;
  message_done(matches, now_);
}

void Link::message_done(bool matches, Clock::time_point now) {
  if (generator_.options().fanout > 0) return generator_.delivered(matches, received_++, now);
  generator_.record(matches, now - sent_at_[received_ % sent_at_.size()]);
  ++received_;
  if (generator_.sending()) send_next(now);  // keep D in flight
  // --idle-echo: the connection counts as open once its one echo is back.
  if (generator_.options().idle_echo && received_ == 1) generator_.on_link_open();
}
//< bench.verify

void Link::send_next(Clock::time_point now) {
  std::span<const uint8_t> message = generator_.pattern().message(index_, sent_);
  sent_at_[sent_ % sent_at_.size()] = now;
  ++sent_;
  if (!ws_) {
    raw_out_.append(message);
  } else if (generator_.options().binary) {
    ws_->send_binary(message);  // framed and masked with a fresh key (§5.3)
  } else {
    ws_->send_text({reinterpret_cast<const char*>(message.data()), message.size()});
  }
}

void Link::flush() {
  for (;;) {
    std::span<const uint8_t> pending = ws_ ? ws_->pending_output() : raw_out_.readable();
    if (pending.empty()) break;
    ssize_t n = ws::send_nosignal(fd_.get(), pending);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;  // the kernel is full: EPOLLOUT says when
    if (n < 0) return fail(std::string("send: ") + std::strerror(errno));
    generator_.count_wire(static_cast<size_t>(n));
    if (ws_) {
      ws_->mark_sent(static_cast<size_t>(n));
    } else {
      raw_out_.consume(static_cast<size_t>(n));
    }
  }
  const bool waiting = ws_ ? ws_->buffered_amount() > 0 : !raw_out_.empty();
  generator_.loop().modify(fd_.get(), waiting ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

void Link::on_open(ws::Connection&) {
  phase_ = Phase::kOpen;
  generator_.note_deflate(ws_->deflate() != nullptr);
  if (generator_.options().idle_echo) return send_next(now_);  // flushed by on_readable
  generator_.on_link_open();
}

void Link::on_close(ws::Connection&, uint16_t code, std::string_view reason) {
  fail("the server closed the WebSocket: " + std::to_string(code) + " " + std::string(reason));
}

void Link::on_error(ws::Connection&, ws::Error error) {
  fail("handshake or protocol error: " + std::string(ws::to_string(error)));
}

// ---- Generator -----------------------------------------------------------------------------------

ws::ClientOptions Generator::client_options() {
  ws::ClientOptions client;
  client.host = options_.host + ":" + std::to_string(options_.port);
  client.resource = options_.resource;
  client.random_bytes = [this](std::span<uint8_t> out) { random_.fill(out); };
  client.deflate = deflate_.get();
  return client;
}

// Opens connections until kMaxConnecting are in progress (or all are begun).
void Generator::connect_more() {
  const size_t total = options_.idle > 0 ? options_.idle : options_.connections;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options_.port);
  ::inet_pton(AF_INET, options_.host == "localhost" ? "127.0.0.1" : options_.host.c_str(),
              &address.sin_addr);
  while (started_ < total && started_ - open_ < kMaxConnecting) {
    ws::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return finish(std::string("socket: ") + std::strerror(errno));
    ws::set_nodelay(fd.get());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
      return finish(std::string("connect: ") + std::strerror(errno));
    }
    links_.push_back(std::make_unique<Link>(*this, started_++, std::move(fd)));
  }
}

void Generator::on_link_open() {
  ++open_;
  const size_t total = options_.idle > 0 ? options_.idle : options_.connections;
  if (open_ < total) return connect_more();
  result_.handshake_s = std::chrono::duration<double>(Clock::now() - connect_start_).count();
  if (options_.idle > 0) {  // idle run: every connection is open
    const double n = static_cast<double>(options_.idle);
    result_.bench_us_per_open = (self_cpu_seconds() - self_cpu_start_) / n * 1e6;
    if (options_.server_pid > 0) {
      result_.server_us_per_open =
          (process_cpu_seconds(options_.server_pid) - server_cpu_start_) / n * 1e6;
    }
    return loop_.stop();
  }
  start_traffic();
}

void Generator::on_link_failed(const std::string& why) {
  finish(why);
}

void Generator::finish(const std::string& error) {
  if (result_.error.empty()) result_.error = error;
  sending_ = false;
  loop_.stop();
}

void Generator::start_traffic() {
  sending_ = true;
  const Clock::time_point now = Clock::now();
  if (options_.fanout > 0) {
    publish_at_.resize(options_.in_flight);
    remaining_.resize(options_.in_flight);
    for (size_t d = 0; d < options_.in_flight; ++d) publish(now);
    loop_.add_timer(seconds(options_.warmup), [this] { begin_window(); });
    return;
  }
  for (auto& link : links_) {
    for (size_t d = 0; d < options_.in_flight; ++d) link->send_next(now);
    link->flush();
  }
  loop_.add_timer(seconds(options_.warmup), [this] { begin_window(); });
}

//> bench.fanout
// Fan-out: link 0 publishes; the server sends each message to every socket
// on /broadcast, link 0 included. Each delivery is checked against what was
// published and timed from the publish; a publish that has reached every
// socket makes room for the next, so D publishes stay in flight.
void Generator::publish(Clock::time_point now) {
  const size_t slot = published_++ % publish_at_.size();
  publish_at_[slot] = now;
  remaining_[slot] = links_.size();
  links_[0]->send_next(now);
  links_[0]->flush();
}

void Generator::delivered(bool matches, uint64_t k, Clock::time_point now) {
  const size_t slot = k % publish_at_.size();
  record(matches, now - publish_at_[slot]);
  if (--remaining_[slot] == 0 && sending_) publish(now);
}
//< bench.fanout

//> bench.window
// The warm-up fills caches, grows buffers and lets TCP settle; then the
// counters restart and the window begins. CPU times are read at both ends.
void Generator::begin_window() {
  measuring_ = true;
  messages_ = 0;
  latencies_.clear();
  window_start_ = Clock::now();
  wire_bytes_ = 0;
  self_cpu_start_ = self_cpu_seconds();
  if (options_.server_pid > 0) server_cpu_start_ = process_cpu_seconds(options_.server_pid);
  loop_.add_timer(seconds(options_.seconds), [this] { end_window(); });
}

void Generator::end_window() {
  result_.window = std::chrono::duration<double>(Clock::now() - window_start_).count();
  result_.bench_cpu = (self_cpu_seconds() - self_cpu_start_) / result_.window;
  if (options_.server_pid > 0) {
    double used = process_cpu_seconds(options_.server_pid) - server_cpu_start_;
    result_.server_cpu = used / result_.window;
    result_.msgs_per_server_cpu_s = used > 0 ? static_cast<double>(messages_) / used : 0;
  }
  measuring_ = sending_ = false;
  loop_.stop();
}
//< bench.window

//> bench.idle
// Idle run: the server's resident memory before the first connection and
// with every connection open (after a pause, so the server has finished
// with the last handshakes), divided by the number of connections.
Result Generator::run() {
  const pid_t server = options_.server_pid;
  if (options_.idle > 0 && server > 0) result_.rss_before = resident_bytes(server);
  connect_start_ = Clock::now();
  self_cpu_start_ = self_cpu_seconds();
  if (server > 0) server_cpu_start_ = process_cpu_seconds(server);
  loop_.add_timer(kSetupTimeout, [this] {
    if (!sending_ && !measuring_) finish("timed out opening the connections");
  });
  connect_more();
  if (result_.error.empty()) loop_.run();
  if (options_.idle > 0 && server > 0 && result_.error.empty()) {
    // --idle-echo: the server keeps a connection's message buffers until it
    // has been quiet for a second (chapter 11); measure after that.
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.idle_echo ? 1500 : 300));
    result_.rss_after = resident_bytes(server);
    result_.bytes_per_connection =
        (result_.rss_after - result_.rss_before) / static_cast<double>(options_.idle);
  }
  for (auto& link : links_) link->reset_close();
  //< bench.idle
  if (result_.error.empty() && options_.idle == 0) {
    result_.messages = messages_;
    result_.msgs_per_s = static_cast<double>(messages_) / result_.window;
    result_.bytes_per_s = result_.msgs_per_s * static_cast<double>(options_.size);
    if (messages_ > 0) {
      result_.wire_bytes_per_msg =
          static_cast<double>(wire_bytes_) / static_cast<double>(messages_);
    }
    result_.p50_us = percentile_us(latencies_, 0.50);
    result_.p99_us = percentile_us(latencies_, 0.99);
    result_.p999_us = percentile_us(latencies_, 0.999);
  }
  result_.total_messages = total_messages_;
  result_.mismatches = mismatches_;
  return result_;
}

// ---- a server of our own (--spawn, --suite) --------------------------------------------------------

struct ServerProcess {
  pid_t pid = -1;
  uint16_t port = 0;
  ws::Fd output;  // its stdout and stderr; kept open until it exits
};

std::string program_dir() {
  char path[4096];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return "build";
  std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

//> bench.spawn
// Starts build/echo_server or build/tcp_echo_server on a free port, pinned to
// one core (the generator takes another), and reads the port from its
// "listening on ...:PORT" line. The server runs as a user runs it: no flags
// but the port (issue 13: the default configuration is the measured one), so
// it logs a line per connection; its stderr goes to build/bench-server.log,
// where the lines cost what they cost on a terminal or in a file. `quiet`
// adds --quiet (the second row); `connections` above the default limit
// (10,000) adds --max-connections. Its stdout comes back in a pipe, so a
// server that cannot start explains why.
ServerProcess spawn_server(const std::string& kind, int cpu, bool deflate_context = false,
                           bool quiet = false, size_t connections = 0) {
  const std::string dir = program_dir();
  std::vector<std::string> argv =
      kind == "raw" ? std::vector<std::string>{dir + "/tcp_echo_server", "--port", "0"}
                    : std::vector<std::string>{dir + "/echo_server", "--port", "0"};
  if (kind != "raw") {
    if (deflate_context) argv.push_back("--deflate-context");
    if (quiet) argv.push_back("--quiet");
    if (connections > 10000) {
      argv.push_back("--max-connections");
      argv.push_back(std::to_string(connections));
    }
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  const std::string log = dir + "/bench-server.log";
  ServerProcess server;
  server.pid = ::fork();
  if (server.pid == 0) {
    pin_to(0, cpu);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(log_fd >= 0 ? log_fd : pipe_fds[1], STDERR_FILENO);
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  server.output.reset(pipe_fds[0]);
  std::string text;
  char chunk[512];
  while (text.find("listening on") == std::string::npos || text.find('\n') == std::string::npos) {
    ssize_t n = ::read(server.output.get(), chunk, sizeof chunk);
    if (n <= 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  size_t at = text.find("listening on");
  size_t colon = at == std::string::npos ? at : text.find_first_of('\n', at);
  if (colon != std::string::npos) colon = text.rfind(':', colon);
  if (colon == std::string::npos) {
    std::fprintf(stderr, "bench: %s did not start:\n%s\n", argv[0].c_str(), text.c_str());
    server.port = 0;
    return server;
  }
  server.port = static_cast<uint16_t>(std::strtoul(text.c_str() + colon + 1, nullptr, 10));
  return server;
}
//< bench.spawn

void stop_server(ServerProcess& server) {
  if (server.pid <= 0) return;
  ::kill(server.pid, SIGTERM);  // graceful: our connections are already closed
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(server.pid, nullptr, WNOHANG) == server.pid) {
      server.pid = -1;
      return;
    }
    ::usleep(10000);
  }
  ::kill(server.pid, SIGKILL);
  ::waitpid(server.pid, nullptr, 0);
  server.pid = -1;
}

// ---- one run ----------------------------------------------------------------------------------------

// Runs what `options` say once: with a server of its own for --spawn.
Result run_once(Options options) {
  ServerProcess server;
  // Asked once, before the first run pinned this process to a single core.
  static const std::array<int, 2> cpus = two_cpus();
  const bool pin = !options.spawn.empty() && cpus[1] >= 0;
  if (!options.spawn.empty()) {
    server = spawn_server(options.spawn, pin ? cpus[0] : -1, options.deflate_context,
                          options.server_quiet, std::max(options.connections, options.idle));
    if (server.port == 0) {
      stop_server(server);
      Result failed;
      failed.error = "the server did not start";
      return failed;
    }
    options.host = "127.0.0.1";
    options.port = server.port;
    options.server_pid = server.pid;
    if (pin) pin_to(0, cpus[1]);
  }
  //> bench.idle-warmup
  // Before an idle run, one connection is opened and closed: the first
  // handshake pages in code that no later connection pays for (libcrypto's
  // SHA-1 and its set-up alone add about 2 MB to the server's RSS).
  if (options.idle > 0) {
    Options first = options;
    first.idle = 1;
    Result warmup = Generator(first).run();
    if (!warmup.error.empty()) {
      stop_server(server);
      return warmup;
    }
  }
  //< bench.idle-warmup
  Result result = Generator(options).run();
  stop_server(server);
  return result;
}

// 1234567.8 -> "1,234,568"
std::string with_commas(double value) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(value)));
  for (int at = static_cast<int>(digits.size()) - 3; at > (digits[0] == '-' ? 1 : 0); at -= 3) {
    digits.insert(static_cast<size_t>(at), ",");
  }
  return digits;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string describe(const Options& o) {
  if (o.idle > 0) return with_commas(static_cast<double>(o.idle)) + " idle connections";
  if (o.fanout > 0) {
    return "1 publisher + " + with_commas(static_cast<double>(o.fanout)) + " subscribers on " +
           o.resource + ", " + std::to_string(o.in_flight) + " publishes in flight × " +
           with_commas(static_cast<double>(o.size)) + " B " + (o.binary ? "binary" : "text");
  }
  return with_commas(static_cast<double>(o.connections)) + " connections × " +
         std::to_string(o.in_flight) + " in flight × " + with_commas(static_cast<double>(o.size)) +
         " B " +
         (o.raw      ? "raw TCP"
          : o.json   ? "JSON chat text"
          : o.binary ? "binary"
                     : "text") +
         (o.deflate_context ? ", permessage-deflate with context takeover"
          : o.deflate       ? ", permessage-deflate"
                            : "");
}

void print_result(const Options& o, const Result& r) {
  if (!r.error.empty()) {
    std::printf("  FAILED: %s\n", r.error.c_str());
    return;
  }
  if (o.idle > 0) {
    std::printf("  opened        %s connections in %.3f s (%s)\n",
                with_commas(static_cast<double>(o.idle)).c_str(), r.handshake_s,
                o.raw ? "TCP connect + 1-byte echo" : "TCP connect + WebSocket handshake");
    std::printf("  CPU           %s µs of server CPU and %s µs of bench CPU per connection\n",
                fixed(r.server_us_per_open, 1).c_str(), fixed(r.bench_us_per_open, 1).c_str());
    if (r.rss_after > 0) {
      std::printf("  server RSS    %.1f MiB before, %.1f MiB after: %s bytes per idle connection\n",
                  r.rss_before / 1048576, r.rss_after / 1048576,
                  with_commas(r.bytes_per_connection).c_str());
    }
  } else if (o.fanout > 0) {
    std::printf(
        "  deliveries    %s in %.2f s = %s deliveries/s (%s publishes/s; a delivery is one frame "
        "out, the publisher's own copy included)\n",
        with_commas(static_cast<double>(r.messages)).c_str(), r.window,
        with_commas(r.msgs_per_s).c_str(),
        with_commas(r.msgs_per_s / static_cast<double>(o.fanout + 1)).c_str());
    std::printf("  publish to delivery  p50 %s µs   p99 %s µs   p99.9 %s µs\n",
                fixed(r.p50_us, 0).c_str(), fixed(r.p99_us, 0).c_str(),
                fixed(r.p999_us, 0).c_str());
    if (r.server_cpu >= 0) {
      std::printf("  server CPU    %.1f%% of a core = %s deliveries per server-CPU-second\n",
                  100 * r.server_cpu, with_commas(r.msgs_per_server_cpu_s).c_str());
    }
    std::printf("  bench CPU     %.1f%% of a core\n", 100 * r.bench_cpu);
  } else {
    std::printf("  messages      %s in %.2f s = %s msg/s (%s MB/s of payload echoed)\n",
                with_commas(static_cast<double>(r.messages)).c_str(), r.window,
                with_commas(r.msgs_per_s).c_str(), fixed(r.bytes_per_s / 1e6, 2).c_str());
    std::printf("  round trip    p50 %s µs   p99 %s µs   p99.9 %s µs\n", fixed(r.p50_us, 0).c_str(),
                fixed(r.p99_us, 0).c_str(), fixed(r.p999_us, 0).c_str());
    if (r.server_cpu >= 0) {
      std::printf("  server CPU    %.1f%% of a core = %s messages per server-CPU-second\n",
                  100 * r.server_cpu, with_commas(r.msgs_per_server_cpu_s).c_str());
    }
    std::printf("  bench CPU     %.1f%% of a core\n", 100 * r.bench_cpu);
    std::printf("  on the wire   %s bytes per echoed message, both ways, headers included%s\n",
                fixed(r.wire_bytes_per_msg, 1).c_str(),
                !o.deflate         ? ""
                : r.deflate_agreed ? " (deflate agreed)"
                                   : " (deflate DECLINED)");
  }
  std::printf(o.fanout > 0
                  ? "  verified      %s deliveries byte for byte, in order (warm-up included): %s "
                    "mismatches\n"
                  : "  verified      %s echoes byte for byte (warm-up included): %s mismatches\n",
              with_commas(static_cast<double>(r.total_messages)).c_str(),
              with_commas(static_cast<double>(r.mismatches)).c_str());
  std::printf(
      "summary: mode=%s messages=%llu total_messages=%llu mismatches=%llu msgs_per_s=%.0f "
      "mb_per_s=%.3f p50_us=%.0f p99_us=%.0f p999_us=%.0f server_cpu=%.3f "
      "msgs_per_server_cpu_s=%.0f bench_cpu=%.3f handshake_s=%.4f bytes_per_connection=%.0f "
      "wire_bytes_per_msg=%.1f\n",
      o.raw ? "raw" : (o.fanout > 0 ? "fanout" : "openpipe"),
      static_cast<unsigned long long>(r.messages),
      static_cast<unsigned long long>(r.total_messages),
      static_cast<unsigned long long>(r.mismatches), r.msgs_per_s, r.bytes_per_s / 1e6, r.p50_us,
      r.p99_us, r.p999_us, r.server_cpu, r.msgs_per_server_cpu_s, r.bench_cpu, r.handshake_s,
      r.bytes_per_connection, r.wire_bytes_per_msg);
}

// ---- the suite -------------------------------------------------------------------------------------------

//> bench.scenarios
// The scenarios of the issue, each run for openpipe and for raw TCP echo.
struct Scenario {
  const char* name;
  const char* label;  // shorter, for the chart
  const char* key;    // in the figures the chapters quote: bench.KEY.ratio, ...
  size_t connections, in_flight, size;
  bool binary;
  size_t idle;       // > 0: an idle scenario (the other fields unused)
  double min_ratio;  // target: openpipe ÷ raw msg/s at least this (0: none)
  double min_gbps;   // target: payload GB/s at least this (0: none)
};
constexpr Scenario kScenarios[] = {
    {"100 conns × 20 B", "100 × 20 B", "small", 100, 1, 20, false, 0, 0.99, 0},
    {"1,000 conns × 20 B", "1,000 × 20 B", "many", 1000, 1, 20, false, 0, 0.95, 0},
    {"100 conns × 20 B × 16 in flight", "100 × 20 B × 16", "pipelined", 100, 16, 20, false, 0, 1.0,
     0},
    {"64 KiB binary, 8 conns × 2", "64 KiB", "large", 8, 2, 64 << 10, true, 0, 0, 3},
    {"1 MiB binary, 4 conns × 1", "1 MiB", "huge", 4, 1, 1 << 20, true, 0, 0, 0},
    {"idle 10,000", "idle", "idle", 0, 0, 0, false, 10000, 0, 0},
};
constexpr double kMaxIdleBytes = 300;         // target: bytes per idle connection
constexpr double kMaxHandshakeSeconds = 0.3;  // target: 10,000 handshakes
//< bench.scenarios

// The median of each measured value over the repetitions.
Result median(const std::vector<Result>& runs) {
  Result m = runs.front();
  auto mid = [&](auto field) {
    std::vector<double> values;
    for (const Result& r : runs) values.push_back(static_cast<double>(r.*field));
    std::sort(values.begin(), values.end());
    size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  };
  m.msgs_per_s = mid(&Result::msgs_per_s);
  m.bytes_per_s = mid(&Result::bytes_per_s);
  m.p50_us = mid(&Result::p50_us);
  m.p99_us = mid(&Result::p99_us);
  m.p999_us = mid(&Result::p999_us);
  m.server_cpu = mid(&Result::server_cpu);
  m.msgs_per_server_cpu_s = mid(&Result::msgs_per_server_cpu_s);
  m.bench_cpu = mid(&Result::bench_cpu);
  m.handshake_s = mid(&Result::handshake_s);
  m.server_us_per_open = mid(&Result::server_us_per_open);
  m.bench_us_per_open = mid(&Result::bench_us_per_open);
  m.rss_before = mid(&Result::rss_before);
  m.rss_after = mid(&Result::rss_after);
  m.bytes_per_connection = mid(&Result::bytes_per_connection);
  m.mismatches = 0;
  m.total_messages = 0;
  for (const Result& r : runs) {
    m.mismatches += r.mismatches;  // not a median: every mismatch counts
    m.total_messages += r.total_messages;
  }
  return m;
}

struct Row {
  const Scenario* scenario;
  Result openpipe, raw;
};

std::string check(bool met) {
  return met ? "yes" : "**no**";
}

// The figures the chapters quote (`<!-- fig: bench.small.ratio -->`, tutorial/README.md):
// `NAME = VALUE` lines, checked by `make test` against the text once this file is
// saved as docs/bench-results.md (`make bench-save`).
std::string figures_markdown(const std::vector<Row>& rows, const char* date) {
  std::ostringstream md;
  md << "\n## Figures\n\nThe numbers the chapters quote from this run (`make snippets` copies "
        "them into the text, `make test` checks them):\n\n```text\n"
     << "bench.date = " << date << "\nbench.machine = " << machine_line() << "\n";
  for (const Row& row : rows) {
    const std::string key = std::string("bench.") + row.scenario->key;
    if (row.scenario->idle > 0) {
      md << key << ".bytes = " << fixed(row.openpipe.bytes_per_connection, 0) << "\n"
         << key << ".raw-bytes = " << fixed(row.raw.bytes_per_connection, 0) << "\n"
         << key << ".open-seconds = " << fixed(row.openpipe.handshake_s, 2) << "\n";
      continue;
    }
    md << key << ".ratio = " << fixed(row.openpipe.msgs_per_s / row.raw.msgs_per_s, 3) << "\n"
       << key << ".cpu-ratio = "
       << fixed(row.openpipe.msgs_per_server_cpu_s / row.raw.msgs_per_server_cpu_s, 3) << "\n"
       << key << ".gbps = " << fixed(row.openpipe.bytes_per_s / 1e9, 1) << "\n";
  }
  md << "```\n";
  return md.str();
}

std::string results_markdown(const std::vector<Row>& rows, const Options& o, double elapsed,
                             const std::string& load_before) {
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  std::ostringstream md;
  md << "# openpipe benchmark results\n\n"
     << "- date: " << date << "\n- machine: " << machine_line()
     << "\n- method: `build/bench --suite`: each scenario " << o.reps
     << " times for each server, alternating, medians shown; " << fixed(o.warmup, 1)
     << " s warm-up, then a " << fixed(o.seconds, 1)
     << " s window; server pinned to one core, bench to another; every echo verified\n"
     << "- suite time: " << fixed(elapsed, 0)
     << " s; load average (1/5/15 min) before: " << load_before << ", after: " << load_average()
     << (std::atof(load_before.c_str()) > 0.5
             ? " (above ~0.5 before the start: other work shared the cores, so compare "
               "ratios, not absolute rates)"
             : "")
     << "\n\n";
  md << "## Throughput\n\n"
     << "| scenario | openpipe msg/s | raw TCP msg/s | openpipe ÷ raw | openpipe MB/s | raw MB/s "
        "| target | met |\n|---|---:|---:|---:|---:|---:|---|---|\n";
  uint64_t mismatches = 0, echoes = 0;
  for (const Row& row : rows) {
    mismatches += row.openpipe.mismatches + row.raw.mismatches;
    echoes += row.openpipe.total_messages + row.raw.total_messages;
    if (row.scenario->idle > 0) continue;
    const double ratio = row.openpipe.msgs_per_s / row.raw.msgs_per_s;
    std::string target = "—", met = "—";
    if (row.scenario->min_ratio > 0) {
      target = "≥ " + fixed(row.scenario->min_ratio, 2) + "× raw";
      met = check(ratio >= row.scenario->min_ratio);
    } else if (row.scenario->min_gbps > 0) {
      target = "≥ " + fixed(row.scenario->min_gbps, 0) + " GB/s";
      met = check(row.openpipe.bytes_per_s / 1e9 >= row.scenario->min_gbps);
    }
    md << "| " << row.scenario->name << " | " << with_commas(row.openpipe.msgs_per_s) << " | "
       << with_commas(row.raw.msgs_per_s) << " | " << fixed(ratio, 3) << " | "
       << with_commas(row.openpipe.bytes_per_s / 1e6) << " | "
       << with_commas(row.raw.bytes_per_s / 1e6) << " | " << target << " | " << met << " |\n";
  }
  md << "\n## Server cost per message\n\n"
     << "Messages per second of server CPU time (user + system, from /proc/PID/stat): the "
        "server's efficiency, whichever side was the bottleneck.\n\n"
     << "| scenario | openpipe msg/CPU-s | raw msg/CPU-s | openpipe ÷ raw | server CPU openpipe "
        "/ raw | bench CPU openpipe / raw |\n|---|---:|---:|---:|---:|---:|\n";
  for (const Row& row : rows) {
    if (row.scenario->idle > 0) continue;
    md << "| " << row.scenario->name << " | " << with_commas(row.openpipe.msgs_per_server_cpu_s)
       << " | " << with_commas(row.raw.msgs_per_server_cpu_s) << " | "
       << fixed(row.openpipe.msgs_per_server_cpu_s / row.raw.msgs_per_server_cpu_s, 3) << " | "
       << fixed(100 * row.openpipe.server_cpu, 0) << "% / " << fixed(100 * row.raw.server_cpu, 0)
       << "% | " << fixed(100 * row.openpipe.bench_cpu, 0) << "% / "
       << fixed(100 * row.raw.bench_cpu, 0) << "% |\n";
  }
  md << "\n## Round trip (µs: p50 / p99 / p99.9)\n\n"
     << "| scenario | openpipe | raw TCP |\n|---|---:|---:|\n";
  for (const Row& row : rows) {
    if (row.scenario->idle > 0) continue;
    auto trio = [](const Result& r) {
      return fixed(r.p50_us, 0) + " / " + fixed(r.p99_us, 0) + " / " + fixed(r.p999_us, 0);
    };
    md << "| " << row.scenario->name << " | " << trio(row.openpipe) << " | " << trio(row.raw)
       << " |\n";
  }
  for (const Row& row : rows) {
    if (row.scenario->idle == 0) continue;
    const std::string n = with_commas(static_cast<double>(row.scenario->idle));
    md << "\n## Idle connections (" << n << ")\n\n"
       << "| | openpipe | raw TCP | target | met |\n|---|---:|---:|---|---|\n"
       << "| time to open all (openpipe: TCP + WebSocket handshake; raw: TCP + 1-byte echo) | "
       << fixed(row.openpipe.handshake_s, 3) << " s | " << fixed(row.raw.handshake_s, 3)
       << " s | ≤ " << fixed(kMaxHandshakeSeconds, 1) << " s | "
       << check(row.openpipe.handshake_s <= kMaxHandshakeSeconds) << " |\n"
       << "| server CPU per connection opened | " << fixed(row.openpipe.server_us_per_open, 1)
       << " µs | " << fixed(row.raw.server_us_per_open, 1) << " µs | | |\n"
       << "| bench CPU per connection opened | " << fixed(row.openpipe.bench_us_per_open, 1)
       << " µs | " << fixed(row.raw.bench_us_per_open, 1) << " µs | | |\n"
       << "| server RSS before → after | " << fixed(row.openpipe.rss_before / 1048576, 1) << " → "
       << fixed(row.openpipe.rss_after / 1048576, 1) << " MiB | "
       << fixed(row.raw.rss_before / 1048576, 1) << " → " << fixed(row.raw.rss_after / 1048576, 1)
       << " MiB | | |\n"
       << "| bytes per idle connection (user-space RSS) | "
       << with_commas(row.openpipe.bytes_per_connection) << " | "
       << with_commas(row.raw.bytes_per_connection) << " | ≤ " << fixed(kMaxIdleBytes, 0) << " | "
       << check(row.openpipe.bytes_per_connection <= kMaxIdleBytes) << " |\n";
  }
  md << "\nEchoes verified byte for byte: " << with_commas(static_cast<double>(echoes))
     << "; mismatches: " << mismatches << ".\n";
  md << figures_markdown(rows, date);
  return md.str();
}

// A bar chart with no library: two bars per scenario, openpipe ÷ raw for
// messages per second and for messages per server-CPU-second, and a dashed
// line at 1.0 (as fast / as cheap as plain TCP echo).
std::string chart_svg(const std::vector<Row>& rows) {
  const int width = 760, height = 340, left = 60, top = 40, plot_h = 220;
  const double max_ratio = 1.5;
  std::vector<const Row*> load;
  for (const Row& row : rows) {
    if (row.scenario->idle == 0) load.push_back(&row);
  }
  const double slot = static_cast<double>(width - left - 20) / std::max<size_t>(load.size(), 1);
  auto y = [&](double ratio) {
    return top + plot_h * (1 - std::min(ratio, max_ratio) / max_ratio);
  };
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n"
      << "<text x='" << left << "' y='20' font-size='14'>openpipe ÷ raw TCP echo (1.0 = as good "
      << "as plain TCP)</text>\n";
  for (double tick = 0; tick <= max_ratio + 1e-9; tick += 0.25) {
    svg << "<text x='" << left - 8 << "' y='" << y(tick) + 4 << "' text-anchor='end'>"
        << fixed(tick, 2) << "</text>\n";
  }
  svg << "<line x1='" << left << "' x2='" << width - 20 << "' y1='" << y(1) << "' y2='" << y(1)
      << "' stroke='grey' stroke-dasharray='4 3'/>\n";  // 1.0, under the bars and labels
  //> bench.chart
  // An SVG bar is a <rect>: x, y of its top-left corner, width, height. y
  // grows downwards, so a bar for ratio r starts at y(r) and ends at y(0).
  for (size_t i = 0; i < load.size(); ++i) {
    const Row& row = *load[i];
    const double x = left + slot * static_cast<double>(i) + slot * 0.15;
    const double bar = slot * 0.33;
    const double ratios[2] = {row.openpipe.msgs_per_s / row.raw.msgs_per_s,
                              row.openpipe.msgs_per_server_cpu_s / row.raw.msgs_per_server_cpu_s};
    const char* colours[2] = {"#3b7dd8", "#f0a030"};
    for (int k = 0; k < 2; ++k) {
      svg << "<rect x='" << x + k * bar << "' y='" << y(ratios[k]) << "' width='" << bar - 2
          << "' height='" << y(0) - y(ratios[k]) << "' fill='" << colours[k] << "'/>\n"
          << "<text x='" << x + k * bar + bar / 2 - 1 << "' y='" << y(ratios[k]) - 4
          << "' text-anchor='middle' font-size='10'>" << fixed(ratios[k], 2) << "</text>\n";
    }
    svg << "<text x='" << x + bar << "' y='" << y(0) + 16 << "' text-anchor='middle' "
        << "font-size='10'>" << row.scenario->label << "</text>\n";
  }
  //< bench.chart
  svg << "<line x1='" << left << "' x2='" << width - 20 << "' y1='" << y(0) << "' y2='" << y(0)
      << "' stroke='black'/>\n"
      << "<rect x='" << left << "' y='" << height - 40 << "' width='12' height='12' fill='"
      << "#3b7dd8'/><text x='" << left + 18 << "' y='" << height - 30
      << "'>messages per second</text>\n"
      << "<rect x='" << left + 200 << "' y='" << height - 40 << "' width='12' height='12' fill='"
      << "#f0a030'/><text x='" << left + 218 << "' y='" << height - 30
      << "'>messages per server-CPU-second</text>\n</svg>\n";
  return svg.str();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

// ---- HTTP: a small static file, kept alive or not ---------------------------------------------------

//> bench.http
// HTTP requests per second for a small static file (examples/web/index.html)
// on `connections` connections, one request in flight on each: the same GET
// on kept-alive connections, then with `Connection: close` and a new TCP
// connection for every request. The difference is what a TCP connection
// costs: a handshake, an accept(), a ClientSocket, a lingering close.
struct HttpRun {
  double requests_per_s = 0;
  uint64_t requests = 0;
  std::string error;
};

// One client connection: the bytes of the answer so far.
struct HttpLink {
  int fd = -1;
  std::string got;
};

int http_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  // Closed with a RST: thousands of connections per second would otherwise
  // leave as many ports in TIME_WAIT on the client side.
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  return fd;
}

// Bytes of a complete response at the front of `got`, or 0 if incomplete.
size_t complete_response(const std::string& got) {
  size_t head = got.find("\r\n\r\n");
  if (head == std::string::npos) return 0;
  size_t at = got.find("\r\nContent-Length: ");
  if (at == std::string::npos || at > head) return head + 4;
  size_t total = head + 4 + std::strtoul(got.c_str() + at + 18, nullptr, 10);
  return got.size() >= total ? total : 0;
}

HttpRun http_requests(uint16_t port, bool keep_alive, size_t connections, double duration_s) {
  const std::string request = std::string("GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n") +
                              (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
  HttpRun run;
  std::vector<HttpLink> links(connections);
  std::vector<pollfd> polls(connections);
  auto start_request = [&](HttpLink& link) {
    if (link.fd < 0) link.fd = http_connect(port);
    link.got.clear();
    return link.fd >= 0 && ::send(link.fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                               static_cast<ssize_t>(request.size());
  };
  for (HttpLink& link : links) {
    if (!start_request(link)) run.error = "cannot connect or send";
  }
  const auto start = Clock::now();
  const auto end = start + seconds(duration_s);
  char buffer[64 * 1024];
  while (run.error.empty() && Clock::now() < end) {
    for (size_t i = 0; i < links.size(); ++i) polls[i] = {links[i].fd, POLLIN, 0};
    if (::poll(polls.data(), polls.size(), 1000) < 0 && errno != EINTR) run.error = "poll";
    for (size_t i = 0; i < links.size() && run.error.empty(); ++i) {
      if (!(polls[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      HttpLink& link = links[i];
      ssize_t n = ::recv(link.fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        run.error = "the server closed a connection before its answer";
        break;
      }
      link.got.append(buffer, static_cast<size_t>(n));
      if (complete_response(link.got) == 0) continue;
      if (!link.got.starts_with("HTTP/1.1 200 "))
        run.error = "not a 200: " + link.got.substr(0, 40);
      ++run.requests;
      if (!keep_alive) {
        ::close(link.fd);
        link.fd = -1;
      }
      if (!start_request(link)) run.error = "cannot connect or send";
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (HttpLink& link : links) {
    if (link.fd >= 0) ::close(link.fd);
  }
  run.requests_per_s = static_cast<double>(run.requests) / elapsed;
  return run;
}
//< bench.http

// The HTTP rows of the suite (and of --http): requests per second, kept
// alive and with Connection: close, medians of `reps` alternating runs
// against a server of their own. Short runs: 1 s each.
std::string http_markdown(const Options& o, bool& failed) {
  static const std::array<int, 2> cpus = two_cpus();
  const bool pin = cpus[1] >= 0;
  ServerProcess server = spawn_server("openpipe", pin ? cpus[0] : -1);
  if (server.port == 0) {
    stop_server(server);
    failed = true;
    return "\n## HTTP\n\nthe server did not start\n";
  }
  if (pin) pin_to(0, cpus[1]);
  constexpr size_t kHttpConnections = 32;
  std::vector<double> rates[2];  // [0] keep-alive, [1] Connection: close
  for (int rep = 0; rep < o.reps && !failed; ++rep) {
    for (int mode = 0; mode < 2 && !failed; ++mode) {
      HttpRun run = http_requests(server.port, mode == 0, kHttpConnections, 1.0);
      std::printf("http     %s, run %d/%d: %s requests/s%s%s\n",
                  mode == 0 ? "keep-alive" : "Connection: close", rep + 1, o.reps,
                  with_commas(run.requests_per_s).c_str(), run.error.empty() ? "" : ": ",
                  run.error.c_str());
      std::fflush(stdout);
      failed = !run.error.empty();
      rates[mode].push_back(run.requests_per_s);
    }
  }
  stop_server(server);
  auto median_of = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  const double kept = median_of(rates[0]), closed = median_of(rates[1]);
  std::ostringstream md;
  md << "\n## HTTP: a small static file\n\n`GET /index.html` ("
     << "examples/web/index.html), " << kHttpConnections
     << " connections, one request in flight on each, 1 s per run, medians of " << o.reps
     << ":\n\n| connection | requests/s |\n|---|---:|\n| kept alive (HTTP/1.1 default) | "
     << with_commas(kept) << " |\n| `Connection: close` (a new TCP connection per request) | "
     << with_commas(closed) << " |\n| kept alive ÷ close | " << fixed(kept / closed, 2) << " |\n";
  return md.str();
}

int run_suite(Options o) {
  const auto start = Clock::now();
  const std::string load_before = load_average();
  std::printf("bench suite: %s; %d repetitions per scenario and server; load average %s\n",
              machine_line().c_str(), o.reps, load_before.c_str());
  std::vector<Row> rows;
  for (const Scenario& scenario : kScenarios) {
    std::vector<Result> runs[2];  // [0] openpipe, [1] raw
    for (int rep = 0; rep < o.reps; ++rep) {
      for (int kind = 0; kind < 2; ++kind) {  // alternate, so drift hits both alike
        Options run = o;
        run.spawn = kind == 0 ? "openpipe" : "raw";
        run.raw = kind == 1;
        run.connections = scenario.connections;
        run.in_flight = scenario.in_flight;
        run.size = scenario.size;
        run.binary = scenario.binary;
        run.idle = scenario.idle;
        std::printf("%-8s %s, run %d/%d\n", run.spawn.c_str(), scenario.name, rep + 1, o.reps);
        Result result = run_once(run);
        print_result(run, result);
        std::fflush(stdout);
        if (!result.error.empty()) return 1;
        runs[kind].push_back(result);
      }
    }
    rows.push_back({&scenario, median(runs[0]), median(runs[1])});
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  bool http_failed = false;
  const std::string markdown =
      results_markdown(rows, o, elapsed, load_before) + http_markdown(o, http_failed);
  std::printf("\n%s", markdown.c_str());
  bool ok = write_file(o.results, markdown) && write_file(o.chart, chart_svg(rows));
  std::printf("\nwrote %s and %s\n", o.results.c_str(), o.chart.c_str());
  if (http_failed) return 1;
  for (const Row& row : rows) {
    if (row.openpipe.mismatches + row.raw.mismatches > 0) return 1;  // a wrong echo is a failure
  }
  return ok ? 0 : 1;
}

// ---- the fan-out suite ----------------------------------------------------------------------------------

//> bench.fanout-scenarios
// Issue 9's fan-out scenarios, and its target: a delivery (one frame out)
// may cost the server no more CPU than an echo (one frame in, one out) at
// 16 in flight, the "pipelined" echo scenario above, measured in the same run.
struct FanoutScenario {
  const char* name;
  size_t subscribers, in_flight, size;
};
constexpr FanoutScenario kFanoutScenarios[] = {
    {"1 publisher → 1,000 subscribers, 20 B, 16 in flight", 1000, 16, 20},
    {"1 publisher → 10,000 subscribers, 20 B, 16 in flight", 10000, 16, 20},
};
//< bench.fanout-scenarios

int run_fanout_suite(Options o) {
  const auto start = Clock::now();
  const std::string load_before = load_average();
  std::printf("fan-out suite: %s; %d repetitions; load average %s\n", machine_line().c_str(),
              o.reps, load_before.c_str());
  auto measure = [&](Options run, const char* name) -> std::optional<Result> {
    std::vector<Result> runs;
    for (int rep = 0; rep < o.reps; ++rep) {
      std::printf("%s, run %d/%d\n", name, rep + 1, o.reps);
      Result result = run_once(run);
      print_result(run, result);
      std::fflush(stdout);
      if (!result.error.empty() || result.mismatches > 0) return std::nullopt;
      runs.push_back(result);
    }
    return median(runs);
  };
  Options echo = o;
  echo.spawn = "openpipe";
  echo.connections = 100;
  echo.in_flight = 16;
  echo.size = 20;
  std::optional<Result> echo_result = measure(echo, "echo 100 conns × 20 B × 16 in flight");
  if (!echo_result) return 1;
  std::ostringstream md;
  md << "# openpipe fan-out results\n\n- machine: " << machine_line()
     << "\n- method: `build/bench --fanout-suite`: each scenario " << o.reps << " times, medians; "
     << fixed(o.warmup, 1) << " s warm-up, " << fixed(o.seconds, 1)
     << " s window; server pinned to one core, bench to another; every delivery checked byte "
        "for byte and in order\n- load average before: "
     << load_before << "\n\n"
     << "| scenario | deliveries/s | deliveries per server-CPU-s | echo msgs per server-CPU-s "
        "(16 in flight) | ratio | target ≥ 1 met | publish→delivery p50 µs | p99 µs | "
        "deliveries verified |\n|---|---:|---:|---:|---:|---|---:|---:|---:|\n";
  for (const FanoutScenario& scenario : kFanoutScenarios) {
    Options run = o;
    run.spawn = "openpipe";
    run.fanout = scenario.subscribers;
    run.connections = scenario.subscribers + 1;
    run.resource = "/broadcast";
    run.in_flight = scenario.in_flight;
    run.size = scenario.size;
    std::optional<Result> r = measure(run, scenario.name);
    if (!r) return 1;
    const double ratio = r->msgs_per_server_cpu_s / echo_result->msgs_per_server_cpu_s;
    md << "| " << scenario.name << " | " << with_commas(r->msgs_per_s) << " | "
       << with_commas(r->msgs_per_server_cpu_s) << " | "
       << with_commas(echo_result->msgs_per_server_cpu_s) << " | " << fixed(ratio, 2) << " | "
       << check(ratio >= 1) << " | " << fixed(r->p50_us, 0) << " | " << fixed(r->p99_us, 0) << " | "
       << with_commas(static_cast<double>(r->total_messages)) << " |\n";
  }
  md << "\nSuite time " << fixed(std::chrono::duration<double>(Clock::now() - start).count(), 0)
     << " s; load average after: " << load_average() << "\n";
  std::printf("\n%s", md.str().c_str());
  bool ok = write_file(o.results, md.str());
  std::printf("\nwrote %s\n", o.results.c_str());
  return ok ? 0 : 1;
}

// ---- command line ----------------------------------------------------------------------------------------

double parse_number(const std::string& flag, const char* text) {
  char* end = nullptr;
  double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || value < 0) usage_error(flag + ": not a number");
  return value;
}

Options parse_arguments(int argc, char** argv) {
  Options o;
  const std::string dir = program_dir();
  o.results = dir + "/bench-results.md";
  o.chart = dir + "/bench-chart.svg";
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    auto count = [&]() { return static_cast<size_t>(parse_number(flag, value())); };
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (flag == "--url") {
      ws::UrlResult url = ws::parse_url(value());
      if (!url.ok()) usage_error("--url: " + url.error);
      o.host = url.url.host;
      o.port = url.url.port;
      o.resource = url.url.resource;
      have_url = true;
    } else if (flag == "--spawn") {
      o.spawn = value();
      if (o.spawn != "openpipe" && o.spawn != "raw") usage_error("--spawn: openpipe or raw");
      if (o.spawn == "raw") o.raw = true;
    } else if (flag == "--raw") {
      o.raw = true;
    } else if (flag == "--connections") {
      o.connections = count();
    } else if (flag == "--in-flight") {
      o.in_flight = count();
    } else if (flag == "--size") {
      o.size = count();
    } else if (flag == "--binary") {
      o.binary = true;
    } else if (flag == "--warmup") {
      o.warmup = parse_number(flag, value());
    } else if (flag == "--seconds") {
      o.seconds = parse_number(flag, value());
    } else if (flag == "--server-pid") {
      o.server_pid = static_cast<pid_t>(parse_number(flag, value()));
    } else if (flag == "--idle-echo") {
      o.idle_echo = true;
    } else if (flag == "--json") {
      o.json = true;
    } else if (flag == "--deflate") {
      o.deflate = true;
    } else if (flag == "--server-quiet") {
      o.server_quiet = true;
    } else if (flag == "--deflate-context") {
      o.deflate = o.deflate_context = true;
    } else if (flag == "--idle") {
      o.idle = 10000;
      if (i + 1 < argc && argv[i + 1][0] != '-') o.idle = count();
    } else if (flag == "--fanout") {
      o.fanout = count();
      if (o.fanout == 0) usage_error("--fanout: at least 1");
    } else if (flag == "--fanout-suite") {
      o.fanout_suite = true;
    } else if (flag == "--suite") {
      o.suite = true;
    } else if (flag == "--http") {
      o.http = true;
    } else if (flag == "--reps") {
      o.reps = static_cast<int>(count());
    } else if (flag == "--results") {
      o.results = value();
    } else if (flag == "--chart") {
      o.chart = value();
    } else {
      usage_error("unknown option " + flag);
    }
  }
  if (o.fanout > 0) {
    if (o.raw) usage_error("--fanout needs WebSocket (no --raw, --spawn openpipe)");
    o.connections = o.fanout + 1;  // the subscribers and the publisher
    if (!have_url) o.resource = "/broadcast";
  }
  if (o.suite || o.fanout_suite || o.http) return o;
  if (!have_url && o.spawn.empty()) usage_error("give --url, --spawn or --suite");
  if (o.idle == 0 && (o.connections == 0 || o.in_flight == 0 || o.size == 0)) {
    usage_error("--connections, --in-flight and --size must be at least 1");
  }
  if (o.seconds <= 0 && o.idle == 0) usage_error("--seconds must be more than 0");
  if (o.reps < 1) usage_error("--reps must be at least 1");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_arguments(argc, argv);
  raise_descriptor_limit();
  ws::ignore_sigpipe();
  if (options.suite) return run_suite(options);
  if (options.fanout_suite) {
    if (options.results == program_dir() + "/bench-results.md") {
      options.results = program_dir() + "/bench-fanout.md";
    }
    return run_fanout_suite(options);
  }
  if (options.http) {  // only the HTTP comparison of the suite
    bool failed = false;
    std::printf("%s", http_markdown(options, failed).c_str());
    return failed ? 1 : 0;
  }
  const std::string target =
      options.spawn.empty()
          ? "ws://" + options.host + ":" + std::to_string(options.port) + options.resource
          : "a spawned " + options.spawn + " server";
  const std::string timing = options.idle > 0
                                 ? ""
                                 : ", warm-up " + fixed(options.warmup, 1) + " s, window " +
                                       fixed(options.seconds, 1) + " s";
  std::printf("bench: %s — %s%s\n", target.c_str(), describe(options).c_str(), timing.c_str());
  std::printf("machine: %s\n", machine_line().c_str());
  Result result = run_once(options);
  print_result(options, result);
  return result.error.empty() && result.mismatches == 0 ? 0 : 1;
}
