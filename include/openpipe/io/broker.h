// The broker link: this process's connection to a Redis server that carries
// published messages between processes and machines (chapter 20). Owns two
// TCP connections to Redis (one SUBSCRIBEs, one PUBLISHes), their buffers,
// the reconnect timers and the set of topics subscribed in Redis. Does not
// own the event loop, nor who is subscribed locally (io/topics.h counts them),
// nor RESP itself (protocol/resp.h). No RFC 6455 here.
//
// Delivery semantics (tests/ch20_broker_test.cpp shows each line):
//   local subscribers    a publish reaches them at once, whatever Redis does;
//   other processes      through Redis, at most once: while the link is down a
//                        publish is not sent, and is counted in stats().lost;
//   own echoes           Redis sends our own publishes back: the envelope's
//                        origin id says so and they are skipped (no duplicate);
//   order                kept per publisher (one connection, one pipeline);
//   after a reconnect    every topic with local subscribers is subscribed
//                        again; what was published meanwhile is not replayed.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/io/event_loop.h"
#include "openpipe/io/fd.h"
#include "openpipe/io/history.h"
#include "openpipe/io/server.h"
#include "openpipe/protocol/resp.h"

namespace ws {

//> broker.config
struct BrokerConfig {
  std::string host = "127.0.0.1";  // Redis's address (numeric, or "localhost")
  uint16_t port = 6379;
  std::string password;                             // sent with AUTH when not empty
  std::string channel_prefix = "openpipe:";         // Redis channel = prefix + topic
  std::chrono::milliseconds backoff_initial{100};   // first retry waits up to this
  std::chrono::milliseconds backoff_max{5000};      // no retry waits longer
  std::chrono::milliseconds connect_timeout{5000};  // TCP connect + first reply
  size_t max_pending_output = 16 << 20;             // bytes queued to a slow Redis; beyond: lost
  std::chrono::milliseconds history_timeout{5000};  // a resume waits this long for Redis
  RespLimits resp;                                  // what Redis may send us
  std::function<void(std::string_view line)> log;   // one line per state change
};
//< broker.config

// "HOST:PORT", "[::1]:PORT" or "redis://[:password@]host:port" into `config`.
// False (and `error` says why) if the text is none of these.
bool parse_redis_address(std::string_view text, BrokerConfig& config, std::string& error);

//> broker.envelope
// What travels in a Redis message: who published it (so that a process can
// skip its own echoes), text or binary, and the data, binary-safe:
//   "op1 " <origin: 16 hex digits> " " <'t' or 'b'> " " <data>
// or, numbered by a topic's history in Redis (chapter 21: the script builds it):
//   "op2 " <origin> " " <'t' or 'b'> " " <offset: decimal> " " <data>
struct Envelope {
  uint64_t origin = 0;  // the publishing process's random id
  bool binary = false;  // MessageType::kBinary
  std::string_view data;
  uint64_t offset = 0;  // its offset in the topic's history; 0: none ("op1")
};
std::string encode_envelope(const Envelope& envelope);
// False if `payload` is not an envelope (then it is not ours: dropped, counted).
bool decode_envelope(std::string_view payload, Envelope& out);
//< broker.envelope

enum class BrokerState : uint8_t {
  kConnecting,  // not connected yet since start()
  kUp,          // both connections answer
  kDown,        // a connection was lost or refused: retrying with backoff
};
std::string_view to_string(BrokerState state);

//> broker.stats
struct BrokerStats {
  uint64_t published = 0;         // publishes written to Redis
  uint64_t lost = 0;              // publishes Redis may not have had (link down): at most once
  uint64_t delivered = 0;         // messages from other processes handed to local subscribers
  uint64_t echoes_skipped = 0;    // our own publishes, sent back by Redis
  uint64_t malformed = 0;         // messages that were not envelopes
  uint64_t connects = 0;          // connections that reached "ready", both links
  uint64_t protocol_errors = 0;   // garbage RESP from Redis: the connection was dropped
  uint64_t history_failures = 0;  // resumes answered "history unavailable" (down, slow, error)
  uint64_t gaps = 0;              // numbered messages this process never got (link was down)
};
//< broker.stats

class RedisLink;  // one connection (src/io/broker.cpp)

//> broker.api
class Broker final : public TopicObserver, public SharedHistory {
 public:
  // A message from another process, for local subscribers only.
  using Deliver = std::function<void(std::string_view topic, std::string_view data, MessageType)>;

  Broker(EventLoop& loop, BrokerConfig config, Deliver deliver);
  // The usual case: the broker of `server`. It hears the server's topics
  // (TopicObserver) and delivers into server.deliver_local(). The server
  // must outlive the broker.
  Broker(Server& server, BrokerConfig config);
  ~Broker() override;
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Starts connecting (non-blocking). Never fails: if Redis is down the
  // broker retries until it comes up.
  void start();
  // The first local subscriber of `topic` came / the last one left.
  void subscribe(std::string_view topic);
  void unsubscribe(std::string_view topic);
  // A local publish, for every other process. Queued and written in one
  // batch before the loop sleeps; lost (and counted) while Redis is down.
  void publish(std::string_view topic, std::string_view data, MessageType type);

  // TopicObserver: the server's topics, on the loop's thread.
  void on_first_subscriber(std::string_view topic) override { subscribe(topic); }
  void on_last_unsubscribed(std::string_view topic) override { unsubscribe(topic); }
  void on_local_publish(std::string_view topic, std::string_view data, MessageType type) override {
    publish(topic, data, type);
  }

  // SharedHistory (history.h; chapter 21): the topic's history in a Redis
  // Stream, "<channel_prefix>history:<topic>", and its epoch and last offset
  // in the hash "<channel_prefix>history-meta:<topic>".
  bool append(std::string_view topic, const HistoryLimits& limits, std::string_view before,
              std::string_view after, MessageType type) override;
  void since(std::string_view topic, const HistoryLimits& limits, uint64_t offset,
             std::string_view epoch, std::function<void(Recovery&)> done) override;

  BrokerState state() const { return state_; }
  const BrokerStats& stats() const { return stats_; }
  uint64_t origin() const { return origin_; }
  size_t topic_count() const { return topics_.size(); }
  const BrokerConfig& config() const { return config_; }
  //< broker.api

 private:
  friend class RedisLink;
  void on_message(std::string_view channel, std::string_view payload);
  void on_link_change();
  void log(const std::string& line) const;
  void end_resume(const std::string& topic);
  bool note_offset(const std::string& topic, uint64_t offset);
  void follow(const std::string& topic, const Recovery& recovery, size_t max_missed);
  void refill();

  EventLoop& loop_;
  Server* server_ = nullptr;  // the server observed, if any (not owned)
  BrokerConfig config_;
  Deliver deliver_;
  uint64_t origin_;                            // random, per process: see Envelope
  std::set<std::string, std::less<>> topics_;  // subscribed in Redis (wanted)
  std::unique_ptr<RedisLink> subscriber_;      // SUBSCRIBE / UNSUBSCRIBE, messages in
  std::unique_ptr<RedisLink> publisher_;       // PUBLISH, pipelined
  BrokerState state_ = BrokerState::kConnecting;
  EventLoop::TimePoint down_since_;  // for the "up again after" line
  uint64_t lost_at_down_ = 0;        // stats_.lost when the link went down
  BrokerStats stats_;
  std::shared_ptr<bool> alive_;         // the before-sleep hook checks it
  std::string append_sha_, since_sha_;  // the scripts' names for EVALSHA
  // Resumes waiting for Redis, per topic: its Redis subscription stays
  // while one waits, even if no local socket is subscribed.
  std::map<std::string, unsigned, std::less<>> resuming_;
  // History questions asked while the first connection was being made.
  std::vector<std::function<void(bool up)>> waiting_for_redis_;
  // Per numbered topic with local subscribers: where this process stands
  // in its history, to fill what the subscriber link missed while it was down.
  struct Followed {
    std::string epoch;      // the history's epoch, as Redis last said
    uint64_t last = 0;      // the last offset delivered here
    size_t max_missed = 1;  // the topic's history limit (HistoryLimits::max_messages)
    bool filling = false;   // link was down: live messages wait for the refill
  };
  std::map<std::string, Followed, std::less<>> followed_;
  bool refill_needed_ = false;  // the subscriber link went down since the last refill
};

}  // namespace ws
