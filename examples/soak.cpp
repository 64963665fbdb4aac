// soak: holds thousands of WebSocket connections open against one server for
// a while, every connection sending a numbered message about once a second
// (and a ping every fifth), and checks every echo: none lost, none out of
// order, none changed. Then it reports the server's memory: its peak RSS and
// what one idle connection costs. Chapter 15 (tutorial/15-hostile-clients.md).
//
// One thread, one epoll loop (ws::EventLoop), and for each connection the
// library's client-side state machine (ws::Connection): the soak program only
// moves bytes. Loopback only: a soak is a load test, and load tests here
// never leave the machine.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/io/event_loop.h"
#include "openpipe/io/fd.h"
#include "openpipe/io/random.h"
#include "openpipe/io/socket.h"
#include "openpipe/protocol/connection.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: soak (--spawn SERVER | --url ws://127.0.0.1:PORT/PATH) [options]\n"
    "  --spawn PATH         start this server (build/echo_server) on a free loopback port\n"
    "                       with --max-connections 20000 --quiet, and stop it at the end\n"
    "  --url URL            use a running server instead (loopback addresses only)\n"
    "  --server-pid PID     with --url: the server's pid, to report its memory\n"
    "  --connections N      connections held open at once (default 10000)\n"
    "  --seconds S          how long they keep talking (default 60)\n"
    "  --interval-ms MS     each connection sends a message this often (default 1000)\n"
    "  --message-size B     bytes per message (default 64)\n"
    "  --help               this text\n"
    "\n"
    "Descriptors: every connection is a file descriptor on both sides. soak raises\n"
    "its soft RLIMIT_NOFILE to the hard limit (`ulimit -Hn`; 20,000 per process on\n"
    "the project's machines) and refuses to start if N connections cannot fit. A\n"
    "server started with --spawn inherits the raised limit; a server you start\n"
    "yourself needs `ulimit -n 20000` in its shell first.\n"
    "\n"
    "Exit status: 0 if every connection opened and every message came back, in\n"
    "order and unchanged; 1 otherwise; 2 for a usage error.\n";

struct Options {
  std::string spawn;  // server program to start, or ""
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/echo";
  pid_t server_pid = 0;  // whose /proc/PID/status to read (0: unknown)
  size_t connections = 10000;
  int seconds = 60;
  int interval_ms = 1000;
  size_t message_size = 64;
  size_t max_connecting = 256;  // connects + handshakes in flight at once
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "soak: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

unsigned long long parse_number(const std::string& flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') usage_error(flag + ": not a number");
  return value;
}

// ws://127.0.0.1:8000/echo -> host, port, path. Loopback only.
void parse_url(const std::string& url, Options& options) {
  constexpr std::string_view kScheme = "ws://";
  if (!url.starts_with(kScheme)) usage_error("--url must start with ws://");
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  options.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  if (colon == std::string::npos) usage_error("--url needs a port: ws://127.0.0.1:PORT/PATH");
  options.host = authority.substr(0, colon);
  if (options.host == "localhost") options.host = "127.0.0.1";
  in_addr address{};
  if (inet_pton(AF_INET, options.host.c_str(), &address) != 1 ||
      (ntohl(address.s_addr) >> 24) != 127) {
    usage_error("soak only connects to loopback addresses (127.0.0.0/8)");
  }
  unsigned long long port = parse_number("--url port", authority.c_str() + colon + 1);
  if (port == 0 || port > 65535) usage_error("--url: bad port");
  options.port = static_cast<uint16_t>(port);
}

Options parse_arguments(int argc, char** argv) {
  Options options;
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (flag == "--spawn") {
      options.spawn = value();
    } else if (flag == "--url") {
      parse_url(value(), options);
      have_url = true;
    } else if (flag == "--server-pid") {
      options.server_pid = static_cast<pid_t>(parse_number(flag, value()));
    } else if (flag == "--connections") {
      options.connections = parse_number(flag, value());
    } else if (flag == "--seconds") {
      options.seconds = static_cast<int>(parse_number(flag, value()));
    } else if (flag == "--interval-ms") {
      options.interval_ms = static_cast<int>(parse_number(flag, value()));
    } else if (flag == "--message-size") {
      options.message_size = parse_number(flag, value());
    } else {
      usage_error("unknown option " + flag);
    }
  }
  if (options.spawn.empty() == !have_url) usage_error("give exactly one of --spawn and --url");
  if (options.connections == 0) usage_error("--connections: at least 1");
  if (options.interval_ms <= 0) usage_error("--interval-ms: at least 1");
  if (options.message_size < 32 || options.message_size > 1 << 20) {
    usage_error("--message-size: 32 to 1048576");
  }
  return options;
}

// ---- descriptors and the server process ------------------------------------------------

//> soak.raise-limit
// Every connection is a descriptor, and the default soft limit is often 1024.
// An unprivileged process may raise its soft limit up to the hard limit, no
// further; children inherit both.
bool raise_descriptor_limit(size_t needed, rlimit& limit) {
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur >= needed;
}
//< soak.raise-limit

// A value in kB from /proc/PID/status ("VmRSS:", "VmHWM:"), 0 if unknown.
size_t status_kb(pid_t pid, std::string_view field) {
  if (pid <= 0) return 0;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return std::strtoull(line.c_str() + field.size(), nullptr, 10);
  }
  return 0;
}

// Starts `program --port 0` and reads the port from the line it prints when
// it is ready: "openpipe echo server listening on http://127.0.0.1:PORT/".
pid_t spawn_server(const std::string& program, uint16_t& port) {
  int out[2];
  if (pipe(out) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(program.c_str(), program.c_str(), "--host", "127.0.0.1", "--port", "0",
          "--max-connections", "20000", "--quiet", static_cast<char*>(nullptr));
    std::fprintf(stderr, "soak: cannot run %s: %s\n", program.c_str(), std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buffer[512];
  while (text.find('\n') == std::string::npos) {
    ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(out[0]);  // the server's later output goes nowhere (a closed pipe: it prints none)
  size_t colon = text.rfind(':', text.find('\n'));
  if (pid < 0 || colon == std::string::npos) return -1;
  port = static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1));
  return port == 0 ? -1 : pid;
}

// ---- the connections ------------------------------------------------------------------

// The server's memory, from /proc/PID/status (kB; 0 if the pid is unknown).
struct ServerMemory {
  size_t before_kb = 0;  // VmRSS before any connection
  size_t idle_kb = 0;    // VmRSS with every connection open and idle
  size_t peak_kb = 0;    // VmHWM at the end, before the server exits
};

struct Stats {
  size_t opened = 0, open_failed = 0, closed_early = 0, closed_cleanly = 0;
  uint64_t sent = 0, echoed = 0, out_of_order = 0, corrupt = 0;
  uint64_t pings = 0, pongs = 0, bad_pongs = 0;
  std::vector<uint32_t> rtt_us;  // echo round trips, microseconds
};

// The exact bytes of message `seq` of connection `index`: checkable on return.
std::string message_text(size_t index, uint64_t seq, size_t size) {
  std::string text = "c" + std::to_string(index) + " s" + std::to_string(seq) + " ";
  text.resize(std::max(size, text.size()), static_cast<char>('a' + seq % 26));
  return text;
}

class Soak;

//> soak.client
// One connection: a socket, and the library's client state machine. The
// state machine makes the bytes (masked frames, the handshake); this class
// moves them and checks what comes back.
class Client final : public ws::IoHandler, public ws::ConnectionHandler {
 public:
  Client(Soak& soak, size_t index, ws::Fd fd, ws::ClientOptions options)
      : soak_(soak), index_(index), fd_(std::move(fd)), protocol_(std::move(options)) {}

  void on_io(uint32_t events) override;
  void send_next();  // the next numbered message (and every fifth time a ping)
  void flush();      // writes what the state machine queued
  bool open() const { return protocol_.state() == ws::State::kOpen; }
  bool done() const { return done_; }
  bool idle() const { return sent_times_.empty(); }
  void close();  // the closing handshake, code 1000

 private:
  void on_open(ws::Connection&) override;
  void on_text(ws::Connection&, std::string_view text) override;
  void on_pong(ws::Connection&, std::span<const uint8_t> payload) override;
  void on_close(ws::Connection&, uint16_t code, std::string_view reason) override;
  void on_error(ws::Connection&, ws::Error) override {}
  void finish_connect();
  void read_once();
  void end();

  Soak& soak_;
  size_t index_;               // position in Soak::clients_
  ws::Fd fd_;                  // the TCP connection
  ws::Connection protocol_;    // bytes in, events and bytes out
  bool connected_ = false;     // TCP handshake done
  bool opened_ = false;        // the 101 arrived
  bool done_ = false;          // closed, one way or another
  uint64_t next_seq_ = 0;      // next message number to send
  uint64_t expected_seq_ = 0;  // next echo expected
  uint64_t pings_sent_ = 0, pongs_seen_ = 0;
  std::deque<Clock::time_point> sent_times_;  // messages not yet echoed
};
//< soak.client

class Soak {
 public:
  explicit Soak(const Options& options) : options_(options) {}

  bool start_connection(size_t index);
  void run_connect_phase();
  void run_traffic_phase();
  void run_close_phase();
  void report(const ServerMemory& memory, bool spawned, int server_status);

  ws::EventLoop loop;
  Stats stats;
  const Options& options() const { return options_; }
  std::vector<uint8_t> read_buffer = std::vector<uint8_t>(64 * 1024);  // shared by all
  size_t connecting = 0;  // connects and handshakes in flight
  double connect_seconds = 0;

 private:
  Options options_;
  std::vector<std::unique_ptr<Client>> clients_;
};

bool Soak::start_connection(size_t index) {
  ws::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options_.port);
  inet_pton(AF_INET, options_.host.c_str(), &address.sin_addr);
  ws::set_nodelay(fd.get());
  // Non-blocking connect: EINPROGRESS now, EPOLLOUT when the TCP handshake is done.
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS) {
    return false;
  }
  ws::ClientOptions client;
  client.host = options_.host + ":" + std::to_string(options_.port);
  client.resource = options_.path;
  client.random_bytes = [](std::span<uint8_t> out) { ws::random_bytes(out); };
  int raw = fd.get();
  clients_.push_back(std::make_unique<Client>(*this, index, std::move(fd), std::move(client)));
  loop.add(raw, EPOLLOUT, clients_.back().get());
  ++connecting;
  return true;
}

void Client::on_io(uint32_t events) {
  if (done_) return;
  if (!connected_) return finish_connect();
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_once();
  if (!done_ && (events & EPOLLOUT)) flush();
}

void Client::finish_connect() {
  int error = 0;
  socklen_t size = sizeof error;
  getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &size);
  if (error != 0) return end();
  connected_ = true;
  flush();  // the state machine queued the GET request when it was made
}

void Client::read_once() {
  ssize_t n = ws::read_some(fd_.get(), soak_.read_buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    protocol_.receive_eof(*this);
    return end();
  }
  protocol_.receive_data(std::span<uint8_t>(soak_.read_buffer).first(static_cast<size_t>(n)),
                         *this);
  flush();  // pongs, close replies
}

void Client::flush() {
  while (protocol_.buffered_amount() > 0) {
    ssize_t n = ws::send_nosignal(fd_.get(), protocol_.pending_output());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      protocol_.receive_eof(*this);
      return end();
    }
    protocol_.mark_sent(static_cast<size_t>(n));
  }
  if (protocol_.wants_close_transport() && protocol_.buffered_amount() == 0) return end();
  uint32_t events = uint32_t{EPOLLIN} | (protocol_.buffered_amount() > 0 ? uint32_t{EPOLLOUT} : 0u);
  soak_.loop.modify(fd_.get(), events);
}

void Client::end() {
  if (done_) return;
  done_ = true;
  if (!opened_) {  // refused (503...), reset, or the TCP connect failed
    ++soak_.stats.open_failed;
    --soak_.connecting;
  }
  soak_.loop.remove(fd_.get());
  fd_.reset();
}

void Client::on_open(ws::Connection&) {
  opened_ = true;
  ++soak_.stats.opened;
  --soak_.connecting;
}

//> soak.check-echo
void Client::on_text(ws::Connection&, std::string_view text) {
  // TCP keeps order, so the echo of message k must come before that of k+1:
  // anything else is a server that lost or reordered a message.
  if (text != message_text(index_, expected_seq_, soak_.options().message_size)) {
    bool later = false;
    for (uint64_t seq = expected_seq_ + 1; seq < next_seq_ && !later; ++seq) {
      later = text == message_text(index_, seq, soak_.options().message_size);
    }
    if (!later) {
      ++soak_.stats.corrupt;  // not one of ours at all
      return;
    }
    ++soak_.stats.out_of_order;
    while (expected_seq_ < next_seq_ &&
           text != message_text(index_, expected_seq_, soak_.options().message_size)) {
      ++expected_seq_;  // skipped: counted as lost at the end
      sent_times_.pop_front();
    }
  }
  ++soak_.stats.echoed;
  ++expected_seq_;
  auto rtt = Clock::now() - sent_times_.front();
  sent_times_.pop_front();
  soak_.stats.rtt_us.push_back(
      static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(rtt).count()));
}
//< soak.check-echo

void Client::on_pong(ws::Connection&, std::span<const uint8_t> payload) {
  std::string expected = "p" + std::to_string(pongs_seen_++);
  if (std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()) == expected) {
    ++soak_.stats.pongs;
  } else {
    ++soak_.stats.bad_pongs;
  }
}

void Client::on_close(ws::Connection&, uint16_t code, std::string_view) {
  if (code == 1000) {
    ++soak_.stats.closed_cleanly;
  } else {
    ++soak_.stats.closed_early;
  }
}

void Client::close() {
  protocol_.close(1000, "soak over");
  flush();
}

void Client::send_next() {
  if (!open()) return;
  std::string text = message_text(index_, next_seq_++, soak_.options().message_size);
  protocol_.send_text(text);
  sent_times_.push_back(Clock::now());
  ++soak_.stats.sent;
  if (next_seq_ % 5 == 1) {
    std::string payload = "p" + std::to_string(pings_sent_++);
    protocol_.send_ping({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
    ++soak_.stats.pings;
  }
  flush();
}

// ---- the phases --------------------------------------------------------------------------

void Soak::run_connect_phase() {
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(30 + options_.connections / 500);
  size_t started = 0;
  while (stats.opened + stats.open_failed < options_.connections && Clock::now() < deadline) {
    while (started < options_.connections && connecting < options_.max_connecting) {
      if (!start_connection(started++)) ++stats.open_failed;
    }
    loop.run_once(10);
  }
  connect_seconds = std::chrono::duration<double>(Clock::now() - start).count();
}

//> soak.traffic
// Each connection sends once per interval; the sends are spread evenly over
// the interval (connection i at i/N of it), so the server sees a steady
// N messages per interval rather than N at once.
void Soak::run_traffic_phase() {
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(options_.seconds);
  const auto interval = std::chrono::milliseconds(options_.interval_ms);
  const size_t n = clients_.size();
  uint64_t sends_done = 0;
  auto next_report = start + 10s;
  while (Clock::now() < end) {
    auto elapsed = Clock::now() - start;
    auto due = static_cast<uint64_t>(static_cast<double>(n) *
                                     (std::chrono::duration<double>(elapsed) / interval));
    for (; sends_done < due; ++sends_done) clients_[sends_done % n]->send_next();
    loop.run_once(5);
    if (Clock::now() >= next_report) {
      next_report += 10s;
      std::printf(
          "  t=%3llds  sent %llu  echoed %llu  in flight %llu\n",
          static_cast<long long>(
              std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count()),
          static_cast<unsigned long long>(stats.sent),
          static_cast<unsigned long long>(stats.echoed),
          static_cast<unsigned long long>(stats.sent - stats.echoed));
      std::fflush(stdout);
    }
  }
  // Wait (bounded) for the last echoes.
  auto drain_deadline = Clock::now() + 10s;
  auto all_idle = [&] {
    return std::all_of(clients_.begin(), clients_.end(),
                       [](const auto& c) { return c->done() || c->idle(); });
  };
  while (!all_idle() && Clock::now() < drain_deadline) loop.run_once(10);
}
//< soak.traffic

void Soak::run_close_phase() {
  for (auto& client : clients_) {
    if (client->open()) client->close();
  }
  auto deadline = Clock::now() + 10s;
  auto all_done = [&] {
    return std::all_of(clients_.begin(), clients_.end(), [](const auto& c) { return c->done(); });
  };
  while (!all_done() && Clock::now() < deadline) loop.run_once(10);
}

double percentile(std::vector<uint32_t>& values, double p) {
  if (values.empty()) return 0;
  size_t k =
      std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
  return values[k] / 1000.0;
}

void Soak::report(const ServerMemory& memory, bool spawned, int server_status) {
  Stats& s = stats;
  const uint64_t lost = s.sent - s.echoed;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("\nresults\n");
  std::printf("  connections opened      %zu of %zu (%zu failed) in %.1f s\n", s.opened,
              options_.connections, s.open_failed, connect_seconds);
  std::printf("  messages sent           %llu\n", u(s.sent));
  std::printf("  messages echoed         %llu\n", u(s.echoed));
  std::printf("  lost                    %llu\n", u(lost));
  std::printf("  out of order            %llu\n", u(s.out_of_order));
  std::printf("  corrupt                 %llu\n", u(s.corrupt));
  std::printf("  pings / pongs           %llu / %llu (%llu wrong)\n", u(s.pings), u(s.pongs),
              u(s.bad_pongs));
  std::printf("  echo round trip         p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              percentile(s.rtt_us, 0.50), percentile(s.rtt_us, 0.99), percentile(s.rtt_us, 1.0));
  std::printf("  closed early            %zu\n", s.closed_early);
  std::printf("  closed cleanly (1000)   %zu\n", s.closed_cleanly);
  if (memory.before_kb > 0) {
    std::printf("  server RSS before       %.1f MiB\n", memory.before_kb / 1024.0);
    std::printf("  server RSS, all idle    %.1f MiB\n", memory.idle_kb / 1024.0);
    std::printf("  RSS per idle connection %.2f KiB\n",
                (static_cast<double>(memory.idle_kb) - static_cast<double>(memory.before_kb)) /
                    static_cast<double>(std::max<size_t>(s.opened, 1)));
    std::printf("  server peak RSS (VmHWM) %.1f MiB\n", memory.peak_kb / 1024.0);
  } else {
    std::printf("  server memory           unknown (pass --server-pid PID)\n");
  }
  std::printf("  soak's own peak RSS     %.1f MiB\n", status_kb(getpid(), "VmHWM:") / 1024.0);
  if (spawned) std::printf("  server exit status      %d\n", server_status);
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_arguments(argc, argv);
  rlimit limit{};
  if (!raise_descriptor_limit(options.connections + 64, limit)) {
    std::fprintf(stderr,
                 "soak: %zu connections need %zu descriptors, but the hard limit is %llu.\n"
                 "  Use fewer (--connections), or raise the hard limit as root (ulimit -Hn).\n",
                 options.connections, options.connections + 64,
                 static_cast<unsigned long long>(limit.rlim_max));
    return 2;
  }
  ws::ignore_sigpipe();
  pid_t server_pid = options.server_pid;
  bool spawned = !options.spawn.empty();
  if (spawned) {
    server_pid = spawn_server(options.spawn, options.port);
    if (server_pid <= 0) {
      std::fprintf(stderr, "soak: could not start %s\n", options.spawn.c_str());
      return 1;
    }
  }
  std::printf("soak: %zu connections to ws://%s:%u%s for %d s, one message each per %d ms\n",
              options.connections, options.host.c_str(), options.port, options.path.c_str(),
              options.seconds, options.interval_ms);
  std::printf("  descriptors: soft limit %llu (hard %llu)%s\n",
              static_cast<unsigned long long>(limit.rlim_cur),
              static_cast<unsigned long long>(limit.rlim_max),
              spawned ? "; the server inherits it" : "");
  if (server_pid > 0) std::printf("  server pid %d\n", static_cast<int>(server_pid));
  std::fflush(stdout);

  Soak soak(options);
  ServerMemory memory;
  memory.before_kb = status_kb(server_pid, "VmRSS:");
  soak.run_connect_phase();
  std::printf("  opened %zu connections in %.1f s; letting them sit idle for 3 s\n",
              soak.stats.opened, soak.connect_seconds);
  std::fflush(stdout);
  auto idle_until = Clock::now() + 3s;
  while (Clock::now() < idle_until) soak.loop.run_once(100);
  memory.idle_kb = status_kb(server_pid, "VmRSS:");
  soak.run_traffic_phase();
  soak.run_close_phase();
  memory.peak_kb = status_kb(server_pid, "VmHWM:");  // now: a reaped process has no /proc entry

  int server_status = -1;
  std::fflush(stdout);
  if (spawned) {
    kill(server_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; ++i) {  // at most 10 s
      if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
        server_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      usleep(10000);
    }
    if (server_status < 0) {
      kill(server_pid, SIGKILL);
      waitpid(server_pid, nullptr, 0);
    }
  }
  soak.report(memory, spawned, server_status);

  const Stats& s = soak.stats;
  bool ok = s.opened == options.connections && s.sent == s.echoed && s.out_of_order == 0 &&
            s.corrupt == 0 && s.bad_pongs == 0 && s.closed_early == 0 &&
            (!spawned || server_status == 0);
  std::printf("\n%s\n",
              ok ? "PASS: nothing lost, nothing out of order" : "FAIL: see the numbers above");
  return ok ? 0 : 1;
}
