// Chapter 00's measurement (primer §1-§2, "Why not just use REST?"): one
// stream of events, delivered to a client three ways on loopback:
//   HTTP short polling  the client asks every second: "Any new message?"
//   HTTP long polling   the client asks, and the server answers when there is one
//   WebSocket push      one connection stays open; the server sends each event
// For each way: the delay from event to client (median, p99), the bytes on the
// wire per event (every HTTP header and frame header included, counted by the
// kernel on the client's socket) and the requests per event. Then the cost of
// an idle WebSocket: one ping and its pong.
//
//   build/polling_demo                          30 s at 10 events/s, prints the table
//   build/polling_demo --results FILE           also writes it as markdown (docs/polling-results.md)
//   build/polling_demo --show-exchange          prints one "Any new message? No" exchange
//
// One process: the WebSocket server and the polling endpoints share one event
// loop (the main thread); each client runs in its own thread. Only 127.0.0.1.
#include <linux/tcp.h>  // struct tcp_info with the byte counters (glibc's lacks them)
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "openpipe/io/client.h"
#include "openpipe/io/event_loop.h"
#include "openpipe/io/server.h"
#include "openpipe/io/socket.h"
#include "openpipe/protocol/http_parser.h"

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: polling_demo [options]\n"
    "  --seconds N          how long the events come (default 30)\n"
    "  --rate N             events per second, on average (default 10)\n"
    "  --seed N             the random stream of event times (default 1)\n"
    "  --interval-ms N      the short-polling interval (default 1000)\n"
    "  --idle-seconds N     how long to watch an idle WebSocket (default 3; 0: skip)\n"
    "  --results FILE       write the results as markdown (date, machine, table)\n"
    "  --show-exchange      print the bytes of one empty poll and of one pushed event\n"
    "  --help               this text\n";

// Bounds for what the network sends us: nothing sizes a buffer before this check.
constexpr size_t kMaxBody = 1 << 20;           // a poll response's body
constexpr size_t kMaxPendingInput = 64 << 10;  // unparsed request bytes per connection
constexpr uint64_t kMaxWaitSeconds = 60;       // the longest long poll a client may ask for
constexpr uint64_t kLongPollWait = 20;         // what our long-polling client asks for
constexpr Millis kIdlePingInterval = 500ms;    // the idle phase pings this often

// Every timestamp in the demo is in microseconds after this instant: the
// server writes one into each event, the client subtracts it from its own
// clock. One process, one steady clock, so the subtraction is exact.
const Clock::time_point kEpoch = Clock::now();

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - kEpoch).count();
}

//> demo.event-stream
// When each event happens, in microseconds after the stream starts. The gaps
// are drawn from an exponential distribution (events that arrive
// independently, like messages in a chat), from a seeded generator: every run
// with the same seed sends the same stream.
std::vector<int64_t> event_times(double per_second, double seconds, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::exponential_distribution<double> gap(per_second);
  std::vector<int64_t> times;
  for (double t = gap(random); t < seconds; t += gap(random)) {
    times.push_back(std::llround(t * 1e6));
  }
  return times;
}

// What each event says, the same on all three ways: "id=17 sent_us=5012345 New message!"
std::string event_text(uint64_t id, int64_t sent_us) {
  return "id=" + std::to_string(id) + " sent_us=" + std::to_string(sent_us) + " New message!";
}
//< demo.event-stream

// The numbers back out of an event's text; false if it is not one.
bool parse_event(std::string_view text, uint64_t& id, int64_t& sent_us) {
  unsigned long long parsed_id = 0;
  long long parsed_sent = 0;
  std::string copy(text.substr(0, 64));
  if (std::sscanf(copy.c_str(), "id=%llu sent_us=%lld", &parsed_id, &parsed_sent) != 2)
    return false;
  id = parsed_id;
  sent_us = parsed_sent;
  return true;
}

//> demo.wire-bytes
// What crossed this socket, both directions, as the kernel counts it
// (TCP_INFO): the TCP payload, so every HTTP header, WebSocket handshake and
// frame header is in; the IP and TCP headers around each segment are not, so
// the segments are counted too (bare ACKs included).
struct Wire {
  uint64_t bytes = 0;     // payload bytes sent + received
  uint64_t segments = 0;  // TCP segments sent + received
  Wire operator-(const Wire& other) const {
    return {bytes - other.bytes, segments - other.segments};
  }
};

Wire wire(int fd) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return {};
  if (size < offsetof(tcp_info, tcpi_bytes_sent) + sizeof info.tcpi_bytes_sent) return {};
  return {info.tcpi_bytes_sent + info.tcpi_bytes_received, info.tcpi_segs_out + info.tcpi_segs_in};
}
//< demo.wire-bytes

// A decimal number in [0, max] from the query "after=17&wait=20", or nothing.
std::optional<uint64_t> query_number(std::string_view query, std::string_view name, uint64_t max) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.size() <= name.size() || pair.substr(0, name.size()) != name ||
        pair[name.size()] != '=') {
      continue;
    }
    std::string_view digits = pair.substr(name.size() + 1);
    if (digits.empty() || digits.size() > 19) return std::nullopt;
    uint64_t value = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > max) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

// ---- the server side: one event loop -------------------------------------------------

// The events published so far, in order: event n (from 1) is texts[n - 1].
struct EventLog {
  std::vector<std::string> texts;

  // The body of a poll response: every event after `after`, one per line.
  std::string after(uint64_t after_id) const {
    std::string body;
    for (size_t i = after_id; i < texts.size(); ++i) body += texts[i] + "\n";
    return body;
  }
  bool has_after(uint64_t after_id) const { return texts.size() > after_id; }
};

//> demo.http-response
// The polling answers: 200 with the new events, or "No": 204 No Content.
// Only the headers a correct answer needs; a real server adds more (Date,
// Server...), and a browser's request carries more (User-Agent, Accept,
// cookies): the figures here are the least polling can cost.
std::string poll_response(std::string_view body) {
  if (body.empty()) return "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n\r\n";
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: no-store\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}
//< demo.http-response

// The polling endpoints, on the same loop as the WebSocket server:
//   GET /poll?after=N          short poll: the events after N now (200), or 204
//   GET /poll?after=N&wait=S   long poll: held until an event after N exists,
//                              at most S seconds (then 204)
// HTTP/1.1 keep-alive: one TCP connection carries every request of a client.
// The library's plain HTTP routes (Server::handle, chapter 11) return their
// answer from on_request; a long poll is answered later, by an event. So these
// few lines of HTTP serving are the demo's own, on the library's parser, and
// both kinds of poll use them (the same headers, so the bytes compare fairly).
class PollServer {
 public:
  PollServer(ws::EventLoop& loop, const EventLog& log)
      : loop_(loop),
        log_(log),
        listener_(ws::listen_tcp("127.0.0.1", 0)),
        acceptor_(listener_.fd.get()) {
    loop_.add(listener_.fd.get(), EPOLLIN, &accept_handler_);
    // Connections that ended are freed here, never inside their own handler.
    loop_.add_before_sleep(
        [this] { std::erase_if(connections_, [](auto& c) { return c->done; }); });
  }
  ~PollServer() {
    for (auto& connection : connections_) connection->finish();
    loop_.remove(listener_.fd.get());
  }
  uint16_t port() const { return listener_.port; }
  uint64_t requests() const { return requests_; }  // answered or held, so far

  //> demo.long-poll-answer
  // A new event: every long poll held open gets its answer now.
  void on_event() {
    for (auto& connection : connections_) {
      if (connection->held && log_.has_after(connection->held_after)) connection->answer();
    }
  }
  //< demo.long-poll-answer

 private:
  struct Connection final : ws::IoHandler {
    PollServer& server;
    ws::Fd fd;
    ws::HttpRequestParser parser;
    std::string input;   // bytes read but not yet parsed (after a whole request)
    std::string output;  // bytes not yet taken by the kernel
    bool held = false;   // a long poll waits for an event
    uint64_t held_after = 0;
    ws::TimerId held_timer = ws::kNoTimer;
    bool close_after_output = false;
    bool done = false;

    Connection(PollServer& s, ws::Fd f) : server(s), fd(std::move(f)) {}

    void on_io(uint32_t events) override {
      if (events & EPOLLIN) read_input();
      if (!done && (events & EPOLLOUT)) flush();
      if (!done && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) finish();
    }

    void read_input() {
      uint8_t chunk[4096];
      ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return finish();
      if (n < 0) return;
      if (input.size() + static_cast<size_t>(n) > kMaxPendingInput) return finish();
      input.append(reinterpret_cast<const char*>(chunk), static_cast<size_t>(n));
      process();
    }

    // Parses and answers requests in order, until one is held or bytes run out.
    void process() {
      while (!held && !done && !input.empty()) {
        auto bytes = std::span(reinterpret_cast<const uint8_t*>(input.data()), input.size());
        ws::ParseResult result = parser.feed(bytes);
        input.erase(0, result.consumed);
        if (result.status == ws::ParseStatus::kNeedMore) return;
        if (result.status == ws::ParseStatus::kError) {
          close_after_output = true;
          return send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        handle(parser.request());
        parser.reset();
      }
    }

    //> demo.poll-handler
    void handle(const ws::HttpRequest& request) {
      ++server.requests_;
      if (request.header_has_token("Connection", "close")) close_after_output = true;
      std::optional<uint64_t> after = query_number(request.query(), "after", UINT64_MAX);
      if (request.method != "GET" || request.path() != "/poll" || !after) {
        return send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      }
      uint64_t wait = query_number(request.query(), "wait", kMaxWaitSeconds).value_or(0);
      if (wait == 0 || server.log_.has_after(*after)) {
        return send(poll_response(server.log_.after(*after)));  // short poll, or news
      }
      // Long poll with nothing new: hold the request; on_event() or the timer answers.
      held = true;
      held_after = *after;
      held_timer = server.loop_.add_timer(std::chrono::seconds(wait), [this] {
        held_timer = ws::kNoTimer;
        answer();
      });
    }
    //< demo.poll-handler

    void answer() {
      if (held_timer != ws::kNoTimer) server.loop_.cancel_timer(held_timer);
      held_timer = ws::kNoTimer;
      held = false;
      send(poll_response(server.log_.after(held_after)));
      process();  // a request that came while this one was held
    }

    // Writes at once; what the kernel does not take waits for EPOLLOUT.
    void send(std::string_view bytes) {
      output += bytes;
      flush();
    }
    void flush() {
      while (!output.empty()) {
        ssize_t n = ws::send_nosignal(fd.get(), std::string_view(output));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n < 0) return finish();
        output.erase(0, static_cast<size_t>(n));
      }
      if (output.empty() && close_after_output) return finish();
      server.loop_.modify(fd.get(), output.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT);
    }

    void finish() {
      if (done) return;
      done = true;
      if (held_timer != ws::kNoTimer) server.loop_.cancel_timer(held_timer);
      server.loop_.remove(fd.get());
      fd.reset();
    }
  };

  struct AcceptHandler final : ws::IoHandler {
    PollServer& server;
    explicit AcceptHandler(PollServer& s) : server(s) {}
    void on_io(uint32_t) override {
      while (true) {
        ws::Fd fd = server.acceptor_.accept();
        if (!fd.valid()) {
          if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
            continue;
          }
          return;  // EAGAIN: nobody else waits
        }
        auto connection = std::make_unique<Connection>(server, std::move(fd));
        server.loop_.add(connection->fd.get(), EPOLLIN, connection.get());
        server.connections_.push_back(std::move(connection));
      }
    }
  };

  ws::EventLoop& loop_;
  const EventLog& log_;
  ws::Listener listener_;
  ws::Acceptor acceptor_;
  AcceptHandler accept_handler_{*this};
  std::vector<std::unique_ptr<Connection>> connections_;
  uint64_t requests_ = 0;
};

// ---- the client side: one thread per way ---------------------------------------------

// What one client saw.
struct Outcome {
  std::string key;              // "short", "long", "push": in figure names
  std::string name;             // "HTTP short polling (every 1 s)"
  std::vector<int64_t> delays;  // event to client, microseconds, one per event
  uint64_t received = 0;        // events received, in order, none twice
  Wire wire;                    // on the client's socket, both directions
  uint64_t requests = 0;        // HTTP requests sent (the upgrade counts as one)
  uint64_t empty_answers = 0;   // polls answered "No" (204)
  std::string error;            // why the client stopped early, if it did
};

// Records event `text` arriving now; false if it is not the next one.
bool record(Outcome& outcome, std::string_view text) {
  uint64_t id = 0;
  int64_t sent_us = 0;
  if (!parse_event(text, id, sent_us) || id != outcome.received + 1) {
    outcome.error = "unexpected event: " + std::string(text.substr(0, 40));
    return false;
  }
  outcome.delays.push_back(now_us() - sent_us);
  outcome.received = id;
  return true;
}

// A minimal HTTP/1.1 client on one keep-alive connection: one GET, one
// response, with the library's response parser. The socket is non-blocking
// (connect_tcp), so every wait is a poll() with a deadline.
class HttpClient {
 public:
  bool connect(uint16_t port) {
    fd_ = ws::connect_tcp("127.0.0.1", port);
    if (!fd_.valid()) return false;
    ws::set_nodelay(fd_.get());
    return true;
  }
  int fd() const { return fd_.get(); }

  struct Response {
    int status = 0;
    std::string body;
    std::string raw_request, raw_response;  // the exact bytes, for --show-exchange
  };

  std::optional<Response> get(const std::string& target, uint16_t port,
                              Clock::time_point deadline) {
    Response response;
    response.raw_request =
        "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
    if (!write_all(response.raw_request, deadline)) return std::nullopt;
    ws::HttpResponseParser parser;
    std::string bytes;  // of this response, as read
    size_t head_size = 0;
    size_t body_size = 0;
    while (true) {
      if (head_size == 0) {
        auto view = std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        ws::ParseResult result = parser.feed(view.subspan(parsed_));
        parsed_ += result.consumed;
        if (result.status == ws::ParseStatus::kError) return std::nullopt;
        if (result.status == ws::ParseStatus::kOk) {
          head_size = parsed_;
          const std::string* length = parser.response().header("Content-Length");
          body_size = length ? std::strtoull(length->c_str(), nullptr, 10) : 0;
          if (body_size > kMaxBody) return std::nullopt;
        }
      }
      if (head_size != 0 && bytes.size() >= head_size + body_size) break;
      if (!read_some(bytes, deadline)) return std::nullopt;
    }
    parsed_ = 0;
    response.status = parser.response().status;
    response.body = bytes.substr(head_size, body_size);
    response.raw_response = bytes.substr(0, head_size + body_size);
    return response;
  }

 private:
  bool wait(short events, Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_.get(), events, 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
  }
  bool write_all(std::string_view bytes, Clock::time_point deadline) {
    while (!bytes.empty()) {
      ssize_t n = ws::send_nosignal(fd_.get(), bytes);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!wait(POLLOUT, deadline)) return false;
      } else {
        return false;
      }
    }
    return true;
  }
  bool read_some(std::string& into, Clock::time_point deadline) {
    while (true) {
      char chunk[4096];
      ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
      if (n > 0) {
        if (into.size() + static_cast<size_t>(n) > kMaxBody + 64 * 1024) return false;
        into.append(chunk, static_cast<size_t>(n));
        return true;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) return false;
      if (!wait(POLLIN, deadline)) return false;
    }
  }

  ws::Fd fd_;
  size_t parsed_ = 0;  // bytes of the current response given to the parser
};

// The first "Any new message?" "No": its bytes, and what it cost on the wire
// (measured from its start to the next poll's, so the late ACKs are in).
struct EmptyPoll {
  HttpClient::Response exchange;
  Wire start;  // the socket's counters when it began
  Wire wire;   // its cost; zero until the next poll measures it
};

// Shared by the three client threads.
struct Plan {
  uint16_t poll_port = 0, ws_port = 0;
  uint64_t events = 0;         // how many the stream sends
  Millis interval{1000};       // short polling
  Clock::time_point deadline;  // give up after this
};

// Records every event in one poll response; false on a wrong event.
bool record_body(Outcome& outcome, const std::string& body) {
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    if (!record(outcome, std::string_view(body).substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

//> demo.short-poll
// Short polling: "Any new message?" every interval, whether anything happened
// or not. An event waits on the server for the next question: half an
// interval on average, a whole one at worst.
void short_poll(const Plan& plan, Outcome& outcome, EmptyPoll& empty) {
  HttpClient client;
  if (!client.connect(plan.poll_port)) return void(outcome.error = "connect failed");
  for (auto next = Clock::now(); outcome.received < plan.events; next += plan.interval) {
    std::this_thread::sleep_until(next);
    if (Clock::now() > plan.deadline) return void(outcome.error = "deadline passed");
    Wire before = wire(client.fd());
    if (outcome.empty_answers == 1 && empty.wire.bytes == 0) empty.wire = before - empty.start;
    auto response = client.get("/poll?after=" + std::to_string(outcome.received), plan.poll_port,
                               plan.deadline);
    if (!response) return void(outcome.error = "poll failed");
    ++outcome.requests;
    if (response->status == 204) {
      if (++outcome.empty_answers == 1) empty = {*response, before, {}};
    } else if (!record_body(outcome, response->body)) {
      return;
    }
  }
  outcome.wire = wire(client.fd());
}
//< demo.short-poll

//> demo.long-poll
// Long polling: the same question, but the server holds it until there is an
// answer; the client asks again at once. One request per answer, and an
// event that comes while no question waits on the server waits for the next.
void long_poll(const Plan& plan, Outcome& outcome) {
  HttpClient client;
  if (!client.connect(plan.poll_port)) return void(outcome.error = "connect failed");
  while (outcome.received < plan.events) {
    std::string target = "/poll?after=" + std::to_string(outcome.received) +
                         "&wait=" + std::to_string(kLongPollWait);
    auto response = client.get(target, plan.poll_port, plan.deadline);
    if (!response) return void(outcome.error = "poll failed");
    ++outcome.requests;
    if (response->status == 204) {
      ++outcome.empty_answers;
    } else if (!record_body(outcome, response->body)) {
      return;
    }
  }
  outcome.wire = wire(client.fd());
}
//< demo.long-poll

// The first frame waiting on the socket, exactly as it came (the client has
// not read it yet: MSG_PEEK leaves it there). Events are short: a 2-byte header.
std::string peek_frame(int fd, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  pollfd p{fd, POLLIN, 0};
  if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return {};
  uint8_t bytes[256];
  ssize_t n = ::recv(fd, bytes, sizeof bytes, MSG_PEEK);
  if (n < 2 || bytes[0] != 0x81 || (bytes[1] & 0x7f) >= 126) return {};  // a short text frame
  size_t frame = std::min<size_t>(2 + (bytes[1] & 0x7f), static_cast<size_t>(n));
  return std::string(reinterpret_cast<const char*>(bytes), frame);
}

//> demo.push
// The WebSocket: one handshake, then the server sends each event as it
// happens. Nobody asks.
void push(const Plan& plan, Outcome& outcome, std::string& first_frame) {
  ws::Client client;
  std::string url = "ws://127.0.0.1:" + std::to_string(plan.ws_port) + "/events";
  ws::ClientStatus status = client.connect(url, Millis{10000});
  if (!status.ok()) return void(outcome.error = status.error);
  outcome.requests = 1;  // the upgrade request
  while (outcome.received < plan.events && Clock::now() < plan.deadline) {
    if (first_frame.empty() && !client.has_event()) {
      first_frame = peek_frame(client.fd(), plan.deadline);
    }
    ws::ClientEvent event = client.receive(Millis{200});
    if (event.type == ws::ClientEventType::kText && !record(outcome, event.data)) break;
    if (event.type == ws::ClientEventType::kClose || event.type == ws::ClientEventType::kError) {
      return void(outcome.error = "connection ended: " + event.data);
    }
  }
  if (outcome.received < plan.events && outcome.error.empty()) outcome.error = "deadline passed";
  outcome.wire = wire(client.fd());
  client.close();
}
//< demo.push

// ---- the idle WebSocket --------------------------------------------------------------

struct IdleCost {
  uint64_t pings = 0;  // pings received in the idle phase
  Wire wire;           // on the wire meanwhile: the pings, the pongs, their ACKs
  Wire handshake;      // the opening handshake: request and 101
};

// A WebSocket with nothing to say: what does it cost on the wire? A server
// pinging every kIdlePingInterval, one client answering, for `seconds`.
IdleCost measure_idle(double seconds) {
  IdleCost cost;
  ws::ServerConfig config;
  config.port = 0;
  config.log = nullptr;
  config.ping_interval = kIdlePingInterval;
  config.shutdown_timeout = Millis{1000};
  ws::Server server(config);
  server.route("/idle", ws::Route{});
  uint64_t target = static_cast<uint64_t>(seconds * 1000) / kIdlePingInterval.count();
  std::thread client_thread([&] {
    ws::Client client;
    std::string url = "ws://127.0.0.1:" + std::to_string(server.port()) + "/idle";
    if (client.connect(url, Millis{10000}).ok()) {
      client.receive(Millis{100});  // the handshake's last ACK settles
      cost.handshake = wire(client.fd());
      auto deadline = Clock::now() + std::chrono::seconds(static_cast<int64_t>(seconds) + 30);
      while (cost.pings < target && Clock::now() < deadline) {
        if (client.receive(Millis{100}).type == ws::ClientEventType::kPing) ++cost.pings;
      }
      // The last pong's ACK (and, on a slow machine, maybe one more ping).
      if (client.receive(Millis{100}).type == ws::ClientEventType::kPing) ++cost.pings;
      cost.wire = wire(client.fd()) - cost.handshake;
      client.close();
    }
    server.request_shutdown();
  });
  server.run();
  client_thread.join();
  return cost;
}

// ---- figures and output ----------------------------------------------------------------

// The q-quantile by nearest rank (q = 0.5: median, 0.99: p99), microseconds.
int64_t quantile(std::vector<int64_t> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::string format_ms(int64_t us) {
  char text[32];
  double ms = static_cast<double>(us) / 1000.0;
  std::snprintf(text, sizeof text, ms < 10 ? "%.2f ms" : ms < 100 ? "%.1f ms" : "%.0f ms", ms);
  return text;
}

std::string format_ratio(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

double per_event(uint64_t total, const Outcome& outcome) {
  return outcome.received == 0 ? 0
                               : static_cast<double>(total) / static_cast<double>(outcome.received);
}

// The figures chapters quote from the results file: `NAME = VALUE` lines
// (tutorial/README.md, "Numbers are quoted too").
using Figures = std::vector<std::pair<std::string, std::string>>;

// The table, in markdown: printed, and written by --results. Every cell is
// also a figure: polling.short.median = 495 ms.
std::string table(const std::vector<Outcome>& outcomes, uint64_t events, Figures& figures) {
  std::string text =
      "| way | events delivered | median delay | p99 delay | bytes on the wire per event | "
      "TCP segments per event | requests per event |\n|---|---|---|---|---|---|---|\n";
  for (const Outcome& o : outcomes) {
    std::vector<std::pair<std::string, std::string>> cells = {
        {"delivered", std::to_string(o.received) + " of " + std::to_string(events)},
        {"median", format_ms(quantile(o.delays, 0.5))},
        {"p99", format_ms(quantile(o.delays, 0.99))},
        {"bytes", format_ratio(per_event(o.wire.bytes, o), 1)},
        {"segments", format_ratio(per_event(o.wire.segments, o), 1)},
        {"requests", format_ratio(per_event(o.requests, o), 3)},
    };
    text += "| " + o.name;
    for (const auto& [name, value] : cells) {
      text += " | " + value;
      figures.emplace_back("polling." + o.key + "." + name, value);
    }
    text += " |\n";
  }
  return text;
}

// "\r\n" shown as the two escapes followed by a real line break, so the bytes read like the wire.
std::string visible(std::string_view bytes) {
  std::string text;
  for (char c : bytes) {
    if (c == '\r') {
      text += "\\r";
    } else if (c == '\n') {
      text += "\\n\n";
    } else {
      text += c;
    }
  }
  return text;
}

std::string hex(std::string_view bytes) {
  std::string text;
  char two[4];
  for (unsigned char c : bytes) {
    std::snprintf(two, sizeof two, "%s%02x", text.empty() ? "" : " ", c);
    text += two;
  }
  return text;
}

std::string exchange_text(const HttpClient::Response& empty, const std::string& frame) {
  std::string text = "Client: Any new message? (" + std::to_string(empty.raw_request.size()) +
                     " bytes)\n" + visible(empty.raw_request) + "Server: No (" +
                     std::to_string(empty.raw_response.size()) + " bytes)\n" +
                     visible(empty.raw_response);
  if (!frame.empty()) {
    text += "\nServer: New message! (one WebSocket frame, " + std::to_string(frame.size()) +
            " bytes)\n" + hex(frame.substr(0, 2)) + "  header: FIN + text, length " +
            std::to_string(frame.size() - 2) + "\n" + frame.substr(2) + "\n";
  }
  return text;
}

std::string machine() {
  utsname name{};
  ::uname(&name);
  std::string cpu = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  return std::string(name.sysname) + " " + name.release + " " + name.machine + ", " + cpu + ", " +
         std::to_string(std::thread::hardware_concurrency()) + " cores";
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
  return text;
}

//> demo.idle-costs
// What nothing costs. A poll that finds nothing is a whole HTTP exchange; an
// idle WebSocket costs a ping and a pong every ping interval (and memory on
// the server the whole time: chapter 16 measures it). Where they cross: the
// poll interval at which polling moves as much as keeping the pipe open.
struct Breakeven {
  double ping_bytes = 0, ping_segments = 0;  // one ping and its pong, on average
  double interval = 0;                       // our server's ping interval, seconds
  double by_bytes = 0, by_segments = 0;      // poll every this many seconds: a tie
};

Breakeven breakeven(const EmptyPoll& empty, const IdleCost& idle) {
  Breakeven b;
  if (idle.pings == 0 || idle.wire.bytes == 0 || idle.wire.segments == 0) return b;
  b.ping_bytes = static_cast<double>(idle.wire.bytes) / static_cast<double>(idle.pings);
  b.ping_segments = static_cast<double>(idle.wire.segments) / static_cast<double>(idle.pings);
  b.interval = std::chrono::duration<double>(ws::ServerConfig{}.ping_interval).count();
  b.by_bytes = static_cast<double>(empty.wire.bytes) / b.ping_bytes * b.interval;
  b.by_segments = static_cast<double>(empty.wire.segments) / b.ping_segments * b.interval;
  return b;
}
//< demo.idle-costs

// The lines under the table, and their figures.
std::string costs_text(const EmptyPoll& empty, const IdleCost& idle, Figures& figures) {
  const HttpClient::Response& e = empty.exchange;
  figures.emplace_back("polling.empty.bytes", std::to_string(empty.wire.bytes));
  figures.emplace_back("polling.empty.request", std::to_string(e.raw_request.size()));
  figures.emplace_back("polling.empty.answer", std::to_string(e.raw_response.size()));
  figures.emplace_back("polling.empty.segments", std::to_string(empty.wire.segments));
  std::string text =
      "One empty poll (\"Any new message?\" \"No\"): " + std::to_string(empty.wire.bytes) +
      " bytes (request " + std::to_string(e.raw_request.size()) + ", answer " +
      std::to_string(e.raw_response.size()) + ") in " + std::to_string(empty.wire.segments) +
      " TCP segments.\n";
  Breakeven b = breakeven(empty, idle);
  if (b.interval == 0) return text;
  figures.emplace_back("polling.idle.bytes", format_ratio(b.ping_bytes, 1));
  figures.emplace_back("polling.idle.segments", format_ratio(b.ping_segments, 1));
  figures.emplace_back("polling.idle.pings", std::to_string(idle.pings));
  figures.emplace_back("polling.ping-interval", format_ratio(b.interval, 0));
  figures.emplace_back("polling.handshake", std::to_string(idle.handshake.bytes));
  figures.emplace_back("polling.breakeven.bytes", format_ratio(b.by_bytes, 0));
  figures.emplace_back("polling.breakeven.segments", format_ratio(b.by_segments, 0));
  text += "An idle WebSocket: " + format_ratio(b.ping_bytes, 1) + " bytes in " +
          format_ratio(b.ping_segments, 1) + " TCP segments per ping and pong (" +
          std::to_string(idle.pings) + " measured); our server pings a quiet connection every " +
          format_ratio(b.interval, 0) +
          " s (ServerConfig::ping_interval). The opening handshake: " +
          std::to_string(idle.handshake.bytes) + " bytes.\n";
  text += "Break-even: polling once every " + format_ratio(b.by_bytes, 0) +
          " s moves as many bytes as an idle WebSocket, once every " +
          format_ratio(b.by_segments, 0) + " s as many TCP segments.\n";
  return text;
}

// The exchange's lines as figures: polling.exchange.01 = GET /poll?after=0 HTTP/1.1\r\n
void add_exchange_figures(const std::string& exchange, Figures& figures) {
  int n = 0;
  size_t start = 0;
  while (start < exchange.size()) {
    size_t end = exchange.find('\n', start);
    if (end == std::string::npos) end = exchange.size();
    if (end > start) {
      char name[32];
      std::snprintf(name, sizeof name, "polling.exchange.%02d", ++n);
      figures.emplace_back(name, exchange.substr(start, end - start));
    }
    start = end + 1;
  }
}

// ---- arguments ---------------------------------------------------------------------------

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "polling_demo: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

uint64_t parse_number(const char* flag, const char* text, uint64_t min, uint64_t max) {
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] < '0' || text[0] > '9') {
    usage_error(std::string(flag) + ": not a number");
  }
  if (value < min || value > max) {
    usage_error(std::string(flag) + ": between " + std::to_string(min) + " and " +
                std::to_string(max));
  }
  return value;
}

struct Options {
  uint64_t seconds = 30, rate = 10, seed = 1, interval_ms = 1000, idle_seconds = 3;
  std::string results;
  bool show_exchange = false;
  std::string command_line;
};

Options parse_arguments(int argc, char** argv) {
  Options options;
  options.command_line = "build/polling_demo";
  for (int i = 1; i < argc; ++i) {
    const int first = i;
    std::string_view flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(std::string(flag) + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (flag == "--seconds") {
      options.seconds = parse_number("--seconds", value(), 1, 3600);
    } else if (flag == "--rate") {
      options.rate = parse_number("--rate", value(), 1, 1000);
    } else if (flag == "--seed") {
      options.seed = parse_number("--seed", value(), 0, UINT32_MAX);
    } else if (flag == "--interval-ms") {
      options.interval_ms = parse_number("--interval-ms", value(), 10, 60000);
    } else if (flag == "--idle-seconds") {
      options.idle_seconds = parse_number("--idle-seconds", value(), 0, 600);
    } else if (flag == "--results") {
      options.results = value();
    } else if (flag == "--show-exchange") {
      options.show_exchange = true;
    } else {
      usage_error("unknown option " + std::string(flag));
    }
    // The command line, as the results file repeats it (without --results FILE).
    for (int j = first; j <= i && flag != "--results"; ++j) {
      options.command_line += " " + std::string(argv[j]);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_arguments(argc, argv);
  ws::ignore_sigpipe();
  std::vector<int64_t> times = event_times(static_cast<double>(options.rate),
                                           static_cast<double>(options.seconds), options.seed);
  std::vector<Outcome> outcomes(3);
  outcomes[0].key = "short";
  outcomes[1].key = "long";
  outcomes[2].key = "push";
  outcomes[0].name =
      "HTTP short polling (every " + format_ratio(options.interval_ms / 1000.0, 1) + " s)";
  outcomes[1].name = "HTTP long polling";
  outcomes[2].name = "WebSocket push";
  EmptyPoll empty;
  std::string first_frame;

  try {
    //> demo.server
    // The WebSocket server and the polling endpoints share one event loop.
    ws::ServerConfig config;
    config.port = 0;
    config.log = nullptr;
    ws::Server server(config);
    server.route("/events", ws::Route{});  // nothing to receive: it only pushes
    EventLog log;
    PollServer polls(server.loop(), log);

    // One event: into the log (for the polls), to every held long poll, and
    // pushed to every WebSocket.
    auto publish = [&](uint64_t id) {
      log.texts.push_back(event_text(id, now_us()));
      polls.on_event();
      server.broadcast(log.texts.back());
    };
    //< demo.server

    Plan plan;
    plan.poll_port = polls.port();
    plan.ws_port = server.port();
    plan.events = times.size();
    plan.interval = Millis{options.interval_ms};
    plan.deadline = Clock::now() + std::chrono::seconds(options.seconds + 30);

    // The stream starts when the WebSocket is open (else its first events
    // would reach nobody) and both polling clients have asked once (so the
    // short poll's first answer is a "No" to show).
    ws::TimerId waiting = ws::kNoTimer;
    waiting = server.loop().add_periodic(5ms, [&] {
      if (server.open_count() == 0 || polls.requests() < 2) return;
      server.loop().cancel_timer(waiting);
      for (size_t i = 0; i < times.size(); ++i) {
        server.loop().add_timer(std::chrono::microseconds(times[i]),
                                [&publish, i] { publish(i + 1); });
      }
    });

    std::atomic<int> running{3};
    auto finished = [&] {
      if (--running == 0) server.request_shutdown();
    };
    std::vector<std::thread> clients;
    clients.emplace_back([&] {
      short_poll(plan, outcomes[0], empty);
      finished();
    });
    clients.emplace_back([&] {
      long_poll(plan, outcomes[1]);
      finished();
    });
    clients.emplace_back([&] {
      push(plan, outcomes[2], first_frame);
      finished();
    });
    server.run();
    for (std::thread& client : clients) client.join();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "polling_demo: %s\n", error.what());
    return 1;
  }

  IdleCost idle;
  if (options.idle_seconds > 0) idle = measure_idle(static_cast<double>(options.idle_seconds));

  // ---- report ----
  std::string date = utc_now();
  std::string exchange = exchange_text(empty.exchange, first_frame);
  Figures figures = {{"polling.date", date},
                     {"polling.machine", machine()},
                     {"polling.events", std::to_string(times.size())},
                     {"polling.rate", std::to_string(options.rate)},
                     {"polling.seconds", std::to_string(options.seconds)},
                     {"polling.seed", std::to_string(options.seed)},
                     {"polling.short.interval", format_ratio(options.interval_ms / 1000.0, 1)}};
  std::string report =
      table(outcomes, times.size(), figures) + "\n" + costs_text(empty, idle, figures);
  add_exchange_figures(exchange, figures);
  std::printf("%zu events at %llu per second for %llu s (seed %llu), on 127.0.0.1:\n\n%s",
              times.size(), static_cast<unsigned long long>(options.rate),
              static_cast<unsigned long long>(options.seconds),
              static_cast<unsigned long long>(options.seed), report.c_str());
  for (const Outcome& o : outcomes) {
    if (!o.error.empty()) std::printf("%s: %s\n", o.name.c_str(), o.error.c_str());
  }
  if (options.show_exchange) {
    std::printf("\n%s", exchange.c_str());
  }

  // One line for scripts and tests.
  std::printf("summary: events=%zu", times.size());
  const char* keys[] = {"short", "long", "push"};
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome& o = outcomes[i];
    std::printf(" %s_delivered=%llu %s_bytes_per_event=%.1f %s_requests=%llu %s_empty=%llu",
                keys[i], static_cast<unsigned long long>(o.received), keys[i],
                per_event(o.wire.bytes, o), keys[i], static_cast<unsigned long long>(o.requests),
                keys[i], static_cast<unsigned long long>(o.empty_answers));
  }
  std::printf(" empty_poll_bytes=%llu idle_pings=%llu idle_bytes=%llu\n",
              static_cast<unsigned long long>(empty.wire.bytes),
              static_cast<unsigned long long>(idle.pings),
              static_cast<unsigned long long>(idle.wire.bytes));

  if (!options.results.empty()) {
    std::ofstream out(options.results);
    out << "# Polling and push, measured\n\n"
        << "Written by `" << options.command_line << " --results " << options.results << "` on "
        << date << ".\nMachine: " << machine() << ".\n"
        << "Chapter 00 (tutorial/00-why-a-pipe.md) quotes this file; run the command again to "
           "measure your own machine.\n\n"
        << times.size() << " events at " << options.rate << " per second on average, for "
        << options.seconds << " s (seed " << options.seed << "), on 127.0.0.1.\n\n"
        << report << "\n## One empty poll, and one pushed event, as bytes\n\n```text\n"
        << exchange
        << "```\n\n## Figures\n\nThe numbers chapters 00 and 24 quote from this run "
           "(`make snippets` copies them into the text, `make test` checks them):\n\n```text\n";
    for (const auto& [name, value] : figures) out << name << " = " << value << "\n";
    out << "```\n";
    if (!out) {
      std::fprintf(stderr, "polling_demo: cannot write %s\n", options.results.c_str());
      return 1;
    }
  }
  bool all = std::all_of(outcomes.begin(), outcomes.end(),
                         [&](const Outcome& o) { return o.received == times.size(); });
  return all ? 0 : 1;
}
