// The broker link (see include/openpipe/io/broker.h): two RedisLinks, each a
// non-blocking TCP connection driven by the event loop, with a RESP parser
// for what comes in and a string of pipelined commands for what goes out.
#include "openpipe/io/broker.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "openpipe/io/random.h"
#include "openpipe/io/server.h"
#include "openpipe/io/socket.h"

namespace ws {

std::string_view to_string(BrokerState state) {
  switch (state) {
    case BrokerState::kConnecting: return "connecting";
    case BrokerState::kUp: return "up";
    case BrokerState::kDown: return "down";
  }
  return "unknown";
}

// ---- addresses and envelopes: plain functions on strings ------------------------------

namespace {

bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

bool parse_redis_address(std::string_view text, BrokerConfig& config, std::string& error) {
  std::string_view rest = text;
  if (rest.starts_with("redis://")) {
    rest.remove_prefix(8);
    if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
      std::string_view userinfo = rest.substr(0, at);
      // "[user]:password": Redis 6 ACL users are not supported, only the password.
      size_t colon = userinfo.find(':');
      if (colon == std::string_view::npos || colon != 0) {
        error = "only redis://:password@host:port is supported (no user name)";
        return false;
      }
      config.password = std::string(userinfo.substr(colon + 1));
      rest.remove_prefix(at + 1);
    }
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    error = "'" + std::string(text) + "': expected HOST:PORT or redis://[:password@]host:port";
    return false;
  }
  std::string_view host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // "[::1]:6379"
  }
  if (host.empty() || !parse_port(rest.substr(colon + 1), config.port)) {
    error = "'" + std::string(text) + "': expected HOST:PORT with a port in 1..65535";
    return false;
  }
  config.host = std::string(host);
  return true;
}

//> broker.encode-envelope
std::string encode_envelope(const Envelope& envelope) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "op1 ";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(envelope.origin >> shift) & 0xF];
  out += envelope.binary ? " b " : " t ";
  out += envelope.data;
  return out;
}
//< broker.encode-envelope

bool decode_envelope(std::string_view payload, Envelope& out) {
  constexpr size_t kHeader = 4 + 16 + 3;  // "op1 " + origin + " t "
  if (payload.size() < kHeader || !payload.starts_with("op1 ")) return false;
  uint64_t origin = 0;
  for (char c : payload.substr(4, 16)) {
    int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (digit < 0) return false;
    origin = (origin << 4) | static_cast<uint64_t>(digit);
  }
  const char kind = payload[21];
  if (payload[20] != ' ' || payload[22] != ' ' || (kind != 't' && kind != 'b')) return false;
  out.origin = origin;
  out.binary = kind == 'b';
  out.data = payload.substr(kHeader);
  return true;
}

// ---- one connection to Redis ----------------------------------------------------------

//> broker.link
// One TCP connection to Redis, on the loop. Its life: kIdle (waiting for the
// backoff timer) -> kConnecting (TCP handshake; EPOLLOUT says how it went)
// -> kHandshake (AUTH and PING sent; the first good reply makes it ready)
// -> kReady. Any failure goes back to kIdle with a timer that doubles.
class RedisLink final : public IoHandler {
 public:
  enum class Role : uint8_t { kSubscriber, kPublisher };
  enum class Phase : uint8_t { kIdle, kConnecting, kHandshake, kReady };

  RedisLink(Broker& broker, Role role)
      : broker_(broker), role_(role), parser_(broker.config_.resp) {}
  ~RedisLink() override {
    if (timer_ != kNoTimer) broker_.loop_.cancel_timer(timer_);
    close_fd();
  }

  void connect();
  void on_io(uint32_t events) override;
  void flush();  // before the loop sleeps: write what this turn queued
  void send(std::initializer_list<std::string_view> command, bool is_publish = false);
  bool connected() const { return phase_ == Phase::kHandshake || phase_ == Phase::kReady; }
  bool ready() const { return phase_ == Phase::kReady; }
  bool has_output() const { return out_offset_ < output_.size(); }
  const std::string& last_error() const { return last_error_; }
  size_t queued_bytes() const { return output_.size() - out_offset_; }

 private:
  void fail(const std::string& why);
  void on_connected();
  void read_replies();
  bool on_reply(const RespValue& reply);
  void set_interest();
  void close_fd();
  std::chrono::milliseconds next_backoff();
  const char* name() const { return role_ == Role::kSubscriber ? "subscriber" : "publisher"; }

  Broker& broker_;
  Role role_;
  Phase phase_ = Phase::kIdle;
  Fd fd_;                      // the connection, or empty
  RespParser parser_;          // what Redis sends, one reply at a time
  std::string output_;         // commands not yet written (pipelined)
  size_t out_offset_ = 0;      // bytes of output_ already written
  std::deque<bool> awaiting_;  // one per command sent: true for a PUBLISH
  unsigned attempt_ = 0;       // failures since the last ready: the backoff exponent
  TimerId timer_ = kNoTimer;   // the retry, or the connect deadline
  std::string last_error_;     // why the last attempt failed
};
//< broker.link

//> broker.backoff
// Exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): wait a uniformly random time in [0, min(max, base *
// 2^attempt)]. The randomness spreads the reconnects of many workers that
// lost Redis at the same moment, so they do not all knock at once.
std::chrono::milliseconds RedisLink::next_backoff() {
  const BrokerConfig& c = broker_.config_;
  const unsigned exponent = std::min(attempt_, 20u);
  const auto ceiling = std::min<int64_t>(c.backoff_max.count(),
                                         c.backoff_initial.count() * (int64_t{1} << exponent));
  ++attempt_;
  return std::chrono::milliseconds(random_below_or_equal(static_cast<uint64_t>(ceiling)));
}
//< broker.backoff

void RedisLink::close_fd() {
  if (!fd_) return;
  broker_.loop_.remove(fd_.get());
  fd_.reset();
}

//> broker.connect
void RedisLink::connect() {
  const BrokerConfig& c = broker_.config_;
  timer_ = kNoTimer;
  fd_ = start_connect_tcp(c.host, c.port);
  if (!fd_) return fail(std::strerror(errno));
  phase_ = Phase::kConnecting;
  broker_.loop_.add(fd_.get(), EPOLLOUT, this);
  // One deadline for the TCP handshake and the first reply together.
  timer_ = broker_.loop_.add_timer(c.connect_timeout, [this] {
    timer_ = kNoTimer;
    fail("no answer within " + std::to_string(broker_.config_.connect_timeout.count()) + " ms");
  });
}

void RedisLink::on_connected() {
  phase_ = Phase::kHandshake;
  set_nodelay(fd_.get());
  parser_.reset();
  // Pipelined: AUTH, PING, and (for the subscriber) every topic we need.
  // The PING's answer proves the whole way works; then the link is ready.
  if (!broker_.config_.password.empty()) send({"AUTH", broker_.config_.password});
  send({"PING"});
  if (role_ == Role::kSubscriber) {
    for (const std::string& topic : broker_.topics_) {
      send({"SUBSCRIBE", broker_.config_.channel_prefix + topic});
    }
  }
  set_interest();
}
//< broker.connect

void RedisLink::fail(const std::string& why) {
  if (timer_ != kNoTimer) broker_.loop_.cancel_timer(timer_);
  close_fd();
  // At most once: publishes written but not acknowledged may or may not
  // have reached Redis, and queued ones never will. Count them all as lost.
  broker_.stats_.lost +=
      static_cast<uint64_t>(std::count(awaiting_.begin(), awaiting_.end(), true));
  awaiting_.clear();
  output_.clear();
  out_offset_ = 0;
  last_error_ = why;
  phase_ = Phase::kIdle;
  timer_ = broker_.loop_.add_timer(next_backoff(), [this] { connect(); });
  broker_.on_link_change();
}

void RedisLink::send(std::initializer_list<std::string_view> command, bool is_publish) {
  resp_append_command(output_, command);
  awaiting_.push_back(is_publish);
}

void RedisLink::set_interest() {
  if (!fd_) return;
  uint32_t events = phase_ == Phase::kConnecting ? EPOLLOUT : EPOLLIN;
  if (phase_ != Phase::kConnecting && has_output()) events |= EPOLLOUT;
  broker_.loop_.modify(fd_.get(), events);
}

//> broker.flush
// Called before the loop sleeps: every PUBLISH of this turn leaves in one
// send(), the way the server batches frames (chapter 16).
void RedisLink::flush() {
  if (!connected() || !has_output()) return;
  std::string_view rest = std::string_view(output_).substr(out_offset_);
  ssize_t n = send_nosignal(fd_.get(), rest);
  if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(std::strerror(errno));
  if (n > 0) out_offset_ += static_cast<size_t>(n);
  if (!has_output()) {
    output_.clear();
    out_offset_ = 0;
  }
  set_interest();  // EPOLLOUT only while something is left
}
//< broker.flush

void RedisLink::on_io(uint32_t events) {
  if (phase_ == Phase::kConnecting) {
    int error = connect_result(fd_.get());
    if (error != 0) return fail(std::strerror(error));
    return on_connected();
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_replies();
  if (fd_ && (events & EPOLLOUT)) flush();
}

//> broker.read
void RedisLink::read_replies() {
  uint8_t buffer[16 * 1024];
  ssize_t n = read_some(fd_.get(), buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n == 0) return fail("connection closed by redis");
  if (n < 0) return fail(std::strerror(errno));
  std::span<const uint8_t> data(buffer, static_cast<size_t>(n));
  while (!data.empty()) {
    RespResult r = parser_.feed(data);
    if (r.status == ParseStatus::kError) {
      ++broker_.stats_.protocol_errors;
      return fail("protocol error from redis: " + std::string(to_string(r.error)));
    }
    data = data.subspan(r.consumed);
    if (r.status == ParseStatus::kNeedMore) break;
    if (!on_reply(parser_.value())) return;  // the link failed
  }
}
//< broker.read

//> broker.on-reply
// One reply. False if it ended the connection.
bool RedisLink::on_reply(const RespValue& reply) {
  if (reply.type == RespType::kError) {
    fail("redis answered: " + reply.text);  // wrong password, unknown command...
    return false;
  }
  const bool push = (reply.type == RespType::kArray || reply.type == RespType::kPush) &&
                    reply.elements.size() == 3 && reply.elements[0].text == "message";
  if (push) {  // not an answer to a command: a message for a subscribed channel
    broker_.on_message(reply.elements[1].text, reply.elements[2].text);
    return true;
  }
  if (awaiting_.empty()) {
    fail("reply to no command");
    return false;
  }
  if (awaiting_.front()) ++broker_.stats_.published;
  awaiting_.pop_front();
  if (phase_ == Phase::kHandshake) {  // the AUTH/PING answers: the way works
    if (timer_ != kNoTimer) broker_.loop_.cancel_timer(timer_);
    timer_ = kNoTimer;
    phase_ = Phase::kReady;
    attempt_ = 0;
    last_error_.clear();
    broker_.on_link_change();
  }
  return true;
}
//< broker.on-reply

// ---- the broker: two links and the topics ------------------------------------------------

Broker::Broker(EventLoop& loop, BrokerConfig config, Deliver deliver)
    : loop_(loop),
      config_(std::move(config)),
      deliver_(std::move(deliver)),
      origin_(random_below_or_equal(UINT64_MAX)),
      subscriber_(std::make_unique<RedisLink>(*this, RedisLink::Role::kSubscriber)),
      publisher_(std::make_unique<RedisLink>(*this, RedisLink::Role::kPublisher)),
      alive_(std::make_shared<bool>(true)) {
  down_since_ = loop_.now();
  // The loop has no way to remove a hook: the hook checks that we still exist.
  loop_.add_before_sleep([this, alive = alive_] {
    if (!*alive) return;
    subscriber_->flush();
    publisher_->flush();
  });
}

Broker::Broker(Server& server, BrokerConfig config)
    : Broker(server.loop(), std::move(config),
             [&server](std::string_view topic, std::string_view data, MessageType type) {
               server.deliver_local(topic, data, type);
             }) {
  server_ = &server;
  server.set_topic_observer(this);
}

Broker::~Broker() {
  *alive_ = false;
  if (server_) server_->set_topic_observer(nullptr);
}

void Broker::log(const std::string& line) const {
  if (config_.log) config_.log(line);
}

void Broker::start() {
  log("broker: connecting to redis " + config_.host + ":" + std::to_string(config_.port) +
      " (origin " + encode_envelope({origin_, false, {}}).substr(4, 16) + ")");
  subscriber_->connect();
  publisher_->connect();
}

//> broker.subscribe
void Broker::subscribe(std::string_view topic) {
  if (!topics_.emplace(topic).second) return;
  // Not connected: nothing to send now; the reconnect subscribes every topic.
  if (subscriber_->connected())
    subscriber_->send({"SUBSCRIBE", config_.channel_prefix + std::string(topic)});
}

void Broker::unsubscribe(std::string_view topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return;
  topics_.erase(it);
  if (subscriber_->connected())
    subscriber_->send({"UNSUBSCRIBE", config_.channel_prefix + std::string(topic)});
}
//< broker.subscribe

//> broker.publish
void Broker::publish(std::string_view topic, std::string_view data, MessageType type) {
  // At most once: while the link is down the message is not kept for later.
  if (!publisher_->connected() ||
      publisher_->queued_bytes() + data.size() > config_.max_pending_output) {
    ++stats_.lost;
    return;
  }
  const std::string envelope = encode_envelope({origin_, type == MessageType::kBinary, data});
  publisher_->send({"PUBLISH", config_.channel_prefix + std::string(topic), envelope}, true);
}
//< broker.publish

//> broker.on-message
void Broker::on_message(std::string_view channel, std::string_view payload) {
  Envelope envelope;
  if (!channel.starts_with(config_.channel_prefix) || !decode_envelope(payload, envelope)) {
    ++stats_.malformed;  // someone else's message on our channel: not ours to deliver
    return;
  }
  if (envelope.origin == origin_) {
    ++stats_.echoes_skipped;  // delivered locally when it was published
    return;
  }
  ++stats_.delivered;
  channel.remove_prefix(config_.channel_prefix.size());
  deliver_(channel, envelope.data, envelope.binary ? MessageType::kBinary : MessageType::kText);
}
//< broker.on-message

//> broker.state-change
// One log line each time the broker as a whole changes state: up when both
// links answer, down as soon as either fails.
void Broker::on_link_change() {
  const BrokerState now = subscriber_->ready() && publisher_->ready() ? BrokerState::kUp
                          : state_ == BrokerState::kConnecting &&
                                  subscriber_->last_error().empty() &&
                                  publisher_->last_error().empty()
                              ? BrokerState::kConnecting
                              : BrokerState::kDown;
  if (now == state_) return;
  const BrokerState before = state_;
  state_ = now;
  const std::string where = "redis " + config_.host + ":" + std::to_string(config_.port);
  if (now == BrokerState::kUp) {
    ++stats_.connects;
    std::string line =
        "broker: up, " + where + ", " + std::to_string(topics_.size()) + " topic(s) subscribed";
    if (before == BrokerState::kDown) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(loop_.now() - down_since_);
      line += "; was down " + std::to_string(ms.count()) + " ms, " +
              std::to_string(stats_.lost - lost_at_down_) + " publish(es) lost meanwhile";
    }
    log(line);
    return;
  }
  down_since_ = loop_.now();
  lost_at_down_ = stats_.lost;
  const std::string& why =
      !subscriber_->last_error().empty() ? subscriber_->last_error() : publisher_->last_error();
  log("broker: down, " + where + ": " + why + "; retrying (backoff up to " +
      std::to_string(config_.backoff_max.count()) +
      " ms); publishes to other processes are "
      "lost until it is back");
}
//< broker.state-change

}  // namespace ws
