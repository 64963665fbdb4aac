// The broker link (see include/openpipe/io/broker.h): two RedisLinks, each a
// non-blocking TCP connection driven by the event loop, with a RESP parser
// for what comes in and a string of pipelined commands for what goes out.
#include "openpipe/io/broker.h"

#include <openssl/sha.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

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
  if (envelope.offset != 0) {
    out[2] = '2';  // "op2": numbered by the history (chapter 21)
    out += std::to_string(envelope.offset);
    out += ' ';
  }
  out += envelope.data;
  return out;
}
//< broker.encode-envelope

bool decode_envelope(std::string_view payload, Envelope& out) {
  constexpr size_t kHeader = 4 + 16 + 3;  // "op1 " + origin + " t "
  const bool numbered = payload.starts_with("op2 ");
  if (payload.size() < kHeader || !(numbered || payload.starts_with("op1 "))) return false;
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
  out.offset = 0;
  if (!numbered) return true;
  // "op2 ...": the offset, 1 to 19 decimal digits, then a space.
  size_t digits = 0;
  uint64_t offset = 0;
  while (digits < out.data.size() && digits < 19 && out.data[digits] >= '0' &&
         out.data[digits] <= '9') {
    offset = offset * 10 + static_cast<uint64_t>(out.data[digits++] - '0');
  }
  if (digits == 0 || offset == 0 || digits >= out.data.size() || out.data[digits] != ' ') {
    return false;
  }
  out.offset = offset;
  out.data.remove_prefix(digits + 1);
  return true;
}

// ---- the history's scripts (chapter 21) ------------------------------------------------

namespace {

//> broker.scripts
// One Redis Stream per topic (KEYS[1]) and a hash beside it (KEYS[2]) with
// the topic's epoch and last offset. A script runs atomically in Redis: no
// other command of any process runs in the middle of one. Both scripts first
// make sure the epoch still describes the stream: no epoch yet, or offsets
// given out but the stream gone (FLUSHALL, eviction, DEL), means a new
// history, with the epoch ARGV[1] that this process drew, and offsets from 1.
#define OPENPIPE_HISTORY_ENSURE                                              \
  "local meta = redis.call('HMGET', KEYS[2], 'epoch', 'last')\n"             \
  "local epoch, last = meta[1], tonumber(meta[2] or '0')\n"                  \
  "if not epoch or (last > 0 and redis.call('EXISTS', KEYS[1]) == 0) then\n" \
  "  redis.call('DEL', KEYS[1])\n"                                           \
  "  epoch, last = ARGV[1], 0\n"                                             \
  "  redis.call('HSET', KEYS[2], 'epoch', epoch, 'last', 0)\n"               \
  "end\n"

// Append: the next offset, the entry (ID "<offset>-0", MAXLEN ~ ARGV[2])
// and the PUBLISH, in one step. Two processes publishing at once are two
// scripts one after the other: no gap, no duplicate, and Redis sends the
// messages to subscribers in offset order. The message is ARGV[5] .. offset
// .. ARGV[6] (server.h, publish_numbered); ARGV[4] the envelope's head.
constexpr const char* kAppendScript = OPENPIPE_HISTORY_ENSURE
    "last = last + 1\n"
    "redis.call('HSET', KEYS[2], 'last', last)\n"
    "local n = string.format('%d', last)\n"
    "local data = ARGV[5] .. n .. ARGV[6]\n"
    "redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], n .. '-0', 'k', ARGV[7], 'd', data)\n"
    "redis.call('PUBLISH', ARGV[3], ARGV[4] .. n .. ' ' .. data)\n"
    "return last\n";

// Since: {epoch, last, status[, entries]} for a client that saw up to
// ARGV[3] in epoch ARGV[2] (""; only where the topic stands). At most
// ARGV[4] entries: a client further behind is "old", like one whose next
// message was trimmed.
constexpr const char* kSinceScript = OPENPIPE_HISTORY_ENSURE
    "if ARGV[2] == '' then return {epoch, last, 'none'} end\n"
    "if ARGV[2] ~= epoch then return {epoch, last, 'epoch'} end\n"
    "local k = tonumber(ARGV[3])\n"
    "if k > last then return {epoch, last, 'future'} end\n"
    "if k == last then return {epoch, last, 'ok', {}} end\n"
    "if last - k > tonumber(ARGV[4]) then return {epoch, last, 'old'} end\n"
    "local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)\n"
    "if #first == 0 or tonumber(string.match(first[1][1], '^%d+')) > k + 1 then\n"
    "  return {epoch, last, 'old'}\n"
    "end\n"
    "return {epoch, last, 'ok', redis.call('XRANGE', KEYS[1], string.format('%d', k + 1), '+',\n"
    "                                      'COUNT', ARGV[4])}\n";
#undef OPENPIPE_HISTORY_ENSURE
//< broker.scripts

// EVALSHA names a script by the SHA-1 of its text, in hex.
std::string script_sha(const char* script) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(script), std::strlen(script), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xF];
  }
  return hex;
}

bool parse_offset(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

//> broker.since-reply
// The since script's reply, checked as any input from the network: an
// epoch of at most kMaxEpochLength, at most `max_missed` entries, and their
// IDs exactly offset+1, offset+2, ... last. Anything else is "unavailable":
// a list with a hole must never reach a client as "recovered".
Recovery read_since_reply(const RespValue* reply, uint64_t offset, const std::string& epoch,
                          size_t max_missed) {
  Recovery recovery;
  recovery.reason = RecoveryFailure::kUnavailable;
  if (reply == nullptr || reply->type != RespType::kArray || reply->elements.size() < 3) {
    return recovery;
  }
  const auto& parts = reply->elements;
  if (parts[0].type != RespType::kBulkString || parts[0].text.size() > kMaxEpochLength ||
      parts[1].type != RespType::kInteger || parts[1].integer < 0) {
    return recovery;
  }
  const std::string& status = parts[2].text;
  const auto last = static_cast<uint64_t>(parts[1].integer);
  Recovery answer;
  answer.epoch = parts[0].text;
  answer.last_offset = last;
  if (status == "none") {
    answer.reason = RecoveryFailure::kNoHistory;  // only asked where the topic stands
    return answer;
  }
  if (status == "epoch" || status == "future" || status == "old") {
    answer.reason = status == "epoch"    ? RecoveryFailure::kEpochChanged
                    : status == "future" ? RecoveryFailure::kFuture
                                         : RecoveryFailure::kTooOld;
    return answer;
  }
  if (status != "ok" || parts.size() != 4 || parts[3].type != RespType::kArray ||
      answer.epoch != epoch || last < offset || last - offset > max_missed ||
      parts[3].elements.size() != last - offset) {
    return recovery;
  }
  uint64_t expected = offset + 1;
  for (const RespValue& entry : parts[3].elements) {
    // [ "<offset>-0", [ "k", "t" or "b", "d", <data> ] ]
    if (entry.elements.size() != 2 || entry.elements[1].elements.size() != 4) return recovery;
    const std::string& id = entry.elements[0].text;
    const auto& fields = entry.elements[1].elements;
    uint64_t number = 0;
    if (!id.ends_with("-0") ||
        !parse_offset(std::string_view(id).substr(0, id.size() - 2), number) ||
        number != expected++ || fields[0].text != "k" || fields[2].text != "d") {
      return recovery;
    }
    answer.owned.push_back(
        HistoryEntry{number, 0, fields[1].text == "b" ? MessageType::kBinary : MessageType::kText,
                     fields[3].text});
  }
  for (const HistoryEntry& entry : answer.owned) answer.missed.push_back(&entry);
  answer.recovered = true;
  answer.reason = RecoveryFailure::kNone;
  return answer;
}
//< broker.since-reply

}  // namespace

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
  // `on_reply` (if any) gets the reply, an error reply included (the link
  // stays up), or nullptr if the link failed before it came.
  using OnReply = std::function<void(const RespValue* reply)>;
  void send(std::initializer_list<std::string_view> command, bool is_publish = false,
            OnReply on_reply = nullptr);
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
  Fd fd_;                  // the connection, or empty
  RespParser parser_;      // what Redis sends, one reply at a time
  std::string output_;     // commands not yet written (pipelined)
  size_t out_offset_ = 0;  // bytes of output_ already written
  struct Awaiting {
    bool is_publish;  // a PUBLISH (counted in stats)
    OnReply on_reply;
  };
  std::deque<Awaiting> awaiting_;  // one per command sent, oldest first
  unsigned attempt_ = 0;           // failures since the last ready: the backoff exponent
  TimerId timer_ = kNoTimer;       // the retry, or the connect deadline
  std::string last_error_;         // why the last attempt failed
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
  // RESP3 on the subscriber: a subscribed connection may then run any
  // command, and the history's reads run there, in line with the messages
  // (chapter 21, the seam). Both links load the history's scripts first, so
  // that every EVALSHA after them finds its script.
  if (role_ == Role::kSubscriber) send({"HELLO", "3"});
  send({"SCRIPT", "LOAD", kAppendScript});
  send({"SCRIPT", "LOAD", kSinceScript});
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
  std::deque<Awaiting> unanswered = std::move(awaiting_);
  awaiting_.clear();
  for (const Awaiting& command : unanswered) broker_.stats_.lost += command.is_publish ? 1 : 0;
  output_.clear();
  out_offset_ = 0;
  last_error_ = why;
  phase_ = Phase::kIdle;
  timer_ = broker_.loop_.add_timer(next_backoff(), [this] { connect(); });
  broker_.on_link_change();
  for (const Awaiting& command : unanswered) {
    if (command.on_reply) command.on_reply(nullptr);  // never answered: the caller knows
  }
}

void RedisLink::send(std::initializer_list<std::string_view> command, bool is_publish,
                     OnReply on_reply) {
  resp_append_command(output_, command);
  awaiting_.push_back({is_publish, std::move(on_reply)});
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
  if (reply.type == RespType::kError && !awaiting_.empty() && awaiting_.front().on_reply) {
    // A script's error (a full Redis, a flushed script cache): its caller
    // answers it; the connection itself is fine.
    OnReply callback = std::move(awaiting_.front().on_reply);
    awaiting_.pop_front();
    callback(&reply);
    return static_cast<bool>(fd_);
  }
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
  if (awaiting_.front().is_publish) ++broker_.stats_.published;
  OnReply callback = std::move(awaiting_.front().on_reply);
  awaiting_.pop_front();
  if (phase_ == Phase::kHandshake) {  // the AUTH/PING answers: the way works
    if (timer_ != kNoTimer) broker_.loop_.cancel_timer(timer_);
    timer_ = kNoTimer;
    phase_ = Phase::kReady;
    attempt_ = 0;
    last_error_.clear();
    broker_.on_link_change();
  }
  if (callback) callback(&reply);
  return static_cast<bool>(fd_);
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
      alive_(std::make_shared<bool>(true)),
      append_sha_(script_sha(kAppendScript)),
      since_sha_(script_sha(kSinceScript)) {
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
  server.set_shared_history(this);
}

Broker::~Broker() {
  *alive_ = false;
  if (server_) server_->set_topic_observer(nullptr);
  if (server_) server_->set_shared_history(nullptr);
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
  if (it == topics_.end() || resuming_.contains(topic)) return;  // end_resume() decides
  topics_.erase(it);
  if (auto seen = followed_.find(topic); seen != followed_.end()) followed_.erase(seen);
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
  channel.remove_prefix(config_.channel_prefix.size());
  // Numbered by the history: every process, the publisher too, delivers it
  // when Redis sends it (the publisher did not know its offset).
  if (envelope.offset != 0 && !note_offset(std::string(channel), envelope.offset)) return;
  if (envelope.origin == origin_ && envelope.offset == 0) {
    ++stats_.echoes_skipped;  // delivered locally when it was published
    return;
  }
  ++stats_.delivered;
  deliver_(channel, envelope.data, envelope.binary ? MessageType::kBinary : MessageType::kText);
}
//< broker.on-message

//> broker.append
bool Broker::append(std::string_view topic, const HistoryLimits& limits, std::string_view before,
                    std::string_view after, MessageType type) {
  const size_t size = before.size() + after.size() + 20;
  if (!publisher_->connected() || publisher_->queued_bytes() + size > config_.max_pending_output) {
    ++stats_.lost;  // at most once, as a PUBLISH; the caller is told
    return false;
  }
  const std::string name(topic);
  // The envelope's head, "op2 <origin> t "; the script adds "<offset> <data>".
  std::string head = encode_envelope({origin_, type == MessageType::kBinary, {}});
  head[2] = '2';
  const std::string maxlen = std::to_string(std::max<size_t>(limits.max_messages, 1));
  publisher_->send({"EVALSHA", append_sha_, "2", config_.channel_prefix + "history:" + name,
                    config_.channel_prefix + "history-meta:" + name, random_epoch(), maxlen,
                    config_.channel_prefix + name, head, before, after,
                    type == MessageType::kBinary ? "b" : "t"},
                   true, [this](const RespValue* reply) {
                     if (reply == nullptr || reply->type != RespType::kError) return;
                     ++stats_.lost;  // counted as published, but Redis refused it
                     log("broker: redis refused a numbered publish: " + reply->text);
                   });
  return true;
}
//< broker.append

//> broker.refill
// The numbered messages of a topic reach this process in offset order (one
// connection, and the scripts publish in offset order), so a jump can only
// come from a subscriber link that was down. Then the process asks Redis
// for what it missed, on the new connection, at the same seam as a resume
// (broker.since): while the answer is awaited, live messages of the topic
// are not delivered (they are in the answer: Redis sent them before it), and
// the answer's messages go to every local subscriber in order. If Redis no
// longer has them (trimmed, new epoch), the jump is counted in stats().gaps
// and logged; each client sees it in the offsets, its cue to resume.
// False: do not deliver this message (a refill is coming, or it is old).
bool Broker::note_offset(const std::string& topic, uint64_t offset) {
  auto it = followed_.find(topic);
  if (it == followed_.end()) return true;  // a resume is under way: it sets `last`
  Followed& followed = it->second;
  if (followed.filling) return false;
  if (offset <= followed.last) return false;  // delivered already (by a refill)
  if (offset > followed.last + 1) {
    stats_.gaps += offset - followed.last - 1;
    log("broker: " + topic + ": offsets " + std::to_string(followed.last + 1) + ".." +
        std::to_string(offset - 1) + " never reached this process");
  }
  followed.last = offset;
  return true;
}

// A resume's answer says where the topic stands: from now on this process
// follows it (everything up to recovery.last_offset came before the answer).
void Broker::follow(const std::string& topic, const Recovery& recovery, size_t max_missed) {
  if (recovery.epoch.empty()) return;  // no answer from Redis
  Followed& followed = followed_[topic];
  if (followed.epoch != recovery.epoch) followed.last = 0;
  followed.epoch = recovery.epoch;
  followed.last = std::max(followed.last, recovery.last_offset);
  followed.max_missed = max_missed;
}

void Broker::refill() {
  refill_needed_ = false;
  for (auto& [topic, followed] : followed_) {
    followed.filling = true;
    subscriber_->send(
        {"EVALSHA", since_sha_, "2", config_.channel_prefix + "history:" + topic,
         config_.channel_prefix + "history-meta:" + topic, random_epoch(), followed.epoch,
         std::to_string(followed.last), std::to_string(followed.max_missed)},
        false, [this, topic = topic](const RespValue* reply) {
          auto it = followed_.find(topic);
          if (it == followed_.end()) return;
          it->second.filling = false;
          if (reply == nullptr) return;     // down again: the next connection refills
          const Followed was = it->second;  // (delivering may unsubscribe the topic)
          Recovery r = read_since_reply(reply, was.last, was.epoch, was.max_missed);
          if (!r.recovered && r.last_offset > was.last) {
            stats_.gaps += r.last_offset - was.last;
            log("broker: " + topic + ": " + to_string(r.reason) +
                " after the redis link was down; " + std::to_string(r.last_offset - was.last) +
                " message(s) never reached this process's subscribers");
          }
          if (!r.epoch.empty()) follow(topic, r, was.max_missed);
          if (!r.missed.empty()) {
            log("broker: " + topic + ": " + std::to_string(r.missed.size()) +
                " message(s) published while the redis link was down, refilled from the stream");
          }
          for (const HistoryEntry* entry : r.missed) {
            ++stats_.delivered;
            deliver_(topic, entry->data, entry->type);
          }
        });
  }
}
//< broker.refill

//> broker.since
// The seam across processes. The subscriber link runs RESP3, so it carries
// commands and messages in ONE order, Redis's. SUBSCRIBE goes first (if this
// process does not listen to the topic yet), then the script, on the same
// connection: every message numbered up to the script's `last` comes before
// its reply (and reached the local subscribers already, not this socket),
// every later one comes after it. So when the reply is handled, the missed
// list is exactly (offset, last], and the socket subscribed in that same
// call gets last + 1 next, live. Nothing lost, nothing twice, in order.
// If Redis is down or does not answer within history_timeout, the answer is
// kUnavailable: the socket is subscribed anyway and the client reloads.
// While the first connection is still being made (a process just started),
// the question waits for it, within the same deadline.
void Broker::since(std::string_view topic, const HistoryLimits& limits, uint64_t offset,
                   std::string_view epoch, std::function<void(Recovery&)> done) {
  const std::string name(topic);
  if (!subscriber_->ready() && state_ != BrokerState::kConnecting) {
    ++stats_.history_failures;
    Recovery recovery;
    recovery.reason = RecoveryFailure::kUnavailable;
    return done(recovery);
  }
  ++resuming_[name];
  struct Waiting {
    std::function<void(Recovery&)> done;
    TimerId timer = kNoTimer;
    size_t max_missed = 1;
  };
  auto waiting = std::make_shared<Waiting>();
  waiting->done = std::move(done);
  const size_t max_missed = std::max<size_t>(limits.max_messages, 1);
  waiting->max_missed = max_missed;
  auto answer = [this, waiting, name, alive = alive_](Recovery& recovery) {
    if (!*alive || !waiting->done) return;  // answered already (timeout), or we are gone
    if (waiting->timer != kNoTimer) loop_.cancel_timer(waiting->timer);
    auto done = std::move(waiting->done);
    waiting->done = nullptr;
    if (recovery.reason == RecoveryFailure::kUnavailable) ++stats_.history_failures;
    follow(name, recovery, waiting->max_missed);
    done(recovery);
    end_resume(name);
  };
  waiting->timer = loop_.add_timer(config_.history_timeout, [waiting, answer] {
    waiting->timer = kNoTimer;
    Recovery recovery;
    recovery.reason = RecoveryFailure::kUnavailable;
    answer(recovery);
  });
  auto ask = [this, name, answer, offset, max_missed, epoch = std::string(epoch)](bool up) {
    if (!up) {
      Recovery recovery;
      recovery.reason = RecoveryFailure::kUnavailable;
      return answer(recovery);
    }
    subscribe(name);  // first: the SUBSCRIBE runs before the script
    subscriber_->send({"EVALSHA", since_sha_, "2", config_.channel_prefix + "history:" + name,
                       config_.channel_prefix + "history-meta:" + name, random_epoch(), epoch,
                       std::to_string(offset), std::to_string(max_missed)},
                      false, [answer, offset, max_missed, epoch](const RespValue* reply) {
                        Recovery recovery = read_since_reply(reply, offset, epoch, max_missed);
                        answer(recovery);
                      });
  };
  if (subscriber_->ready()) return ask(true);
  waiting_for_redis_.push_back(std::move(ask));  // on_link_change() asks
}
//< broker.since

// After a resume: if nobody here listens to the topic any more (the socket
// closed while Redis answered), its Redis subscription goes too.
void Broker::end_resume(const std::string& topic) {
  auto it = resuming_.find(topic);
  if (it == resuming_.end()) return;
  if (--it->second != 0) return;
  resuming_.erase(it);
  if (server_ != nullptr && server_->subscriber_count(topic) == 0) unsubscribe(topic);
}

//> broker.state-change
// One log line each time the broker as a whole changes state: up when both
// links answer, down as soon as either fails.
void Broker::on_link_change() {
  // The subscriber link's own ups and downs: what it missed is refilled.
  if (!subscriber_->ready() && !followed_.empty()) refill_needed_ = true;
  if (subscriber_->ready() && refill_needed_) refill();
  const BrokerState now = subscriber_->ready() && publisher_->ready() ? BrokerState::kUp
                          : state_ == BrokerState::kConnecting &&
                                  subscriber_->last_error().empty() &&
                                  publisher_->last_error().empty()
                              ? BrokerState::kConnecting
                              : BrokerState::kDown;
  if (now == state_) return;
  const BrokerState before = state_;
  state_ = now;
  // History questions asked before the first connection: now, or never.
  for (auto& ask : std::exchange(waiting_for_redis_, {})) ask(now == BrokerState::kUp);
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
