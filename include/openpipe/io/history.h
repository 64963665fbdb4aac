// History: the last messages of a topic, numbered, so that a client that
// lost its connection can ask for what it missed (chapter 21). A ring of the
// encoded messages per topic, bounded by a count, by bytes and optionally by
// age; an offset per message (+1 per publish) and an epoch per history (a
// random string that changes whenever the history is lost).
// Owns: the stored messages and their numbers. No socket, no system call,
// no clock: time is passed in (ms on any steady clock), the epoch is given
// by the caller (the server draws it with random_bytes()), so that tests
// check every rule without a server. What a message IS (JSON, binary) is
// the application's business: the history stores the bytes it published.
// Model: Centrifugo's stream history (offset + epoch), Socket.IO 4.6's
// connection state recovery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "openpipe/io/topics.h"

namespace ws {

//> history.limits
// How much one topic's history keeps. Both the count and the bytes bound it,
// whichever is reached first; max_age_ms (0: none) drops older messages too.
// A message larger than max_bytes is still numbered but not kept: a resume
// from before it answers "offset older than history" rather than lying.
struct HistoryLimits {
  size_t max_messages = 1000;  // messages kept per topic
  size_t max_bytes = 1 << 20;  // their bytes, counted as kEntryOverhead + size
  int64_t max_age_ms = 0;      // older messages are dropped (0: no age limit)
  size_t max_topics = 1000;    // histories kept; beyond, the least recently
                               // published one is forgotten (its epoch with it)
};

// What each kept message costs beside its bytes, in the max_bytes count: the
// entry (sizeof(HistoryEntry)) plus the allocator's header of its string.
// Measured: 79 bytes beyond a 100-byte payload (tests/ch21_history_test.cpp,
// Ch21_HistoryMemory).
inline constexpr size_t kEntryOverhead = 80;
// An epoch from the network (a client's resume) is at most this long.
inline constexpr size_t kMaxEpochLength = 64;
//< history.limits

//> history.recovery
// Why a resume could not give every missed message. The client must then
// reload its state (the application's database is the source of truth).
enum class RecoveryFailure : uint8_t {
  kNone,          // recovered: every message after the offset follows
  kEpochChanged,  // the history was lost (restart, eviction): offsets mean nothing now
  kTooOld,        // messages after the offset were dropped (count, bytes or age)
  kFuture,        // the offset was never given out in this epoch
  kNoHistory,     // this topic keeps no history
  kUnavailable,   // the shared history (Redis) did not answer: down, slow or refused
};
const char* to_string(RecoveryFailure failure);  // "epoch changed", "offset older than history"...

struct HistoryEntry {
  uint64_t offset;   // its number in the topic, from 1
  int64_t at_ms;     // when it was appended (for max_age_ms)
  MessageType type;  // text or binary, as published
  std::string data;  // the bytes as published (the application's encoding)
};

// The answer to "I saw up to `offset` in `epoch`": recovered, with the
// messages after it (pointers into the history: valid until its next
// append, i.e. use them in the same loop turn), or the reason why not.
// `epoch` and `last_offset` are where the client stands afterwards.
struct Recovery {
  bool recovered = false;
  RecoveryFailure reason = RecoveryFailure::kNoHistory;
  std::vector<const HistoryEntry*> missed;  // oldest first; empty unless recovered
  std::deque<HistoryEntry> owned;           // what `missed` points into when it came from Redis
  std::string epoch;                        // the topic's epoch now
  uint64_t last_offset = 0;                 // the last offset given out (0: none yet)
};
//< history.recovery

//> history.topic
// One topic's history. Offsets start at 1 (0 means "nothing seen yet"), grow
// by one per append and never repeat within an epoch.
//   append      O(1) amortized (plus the messages it drops)
//   since       O(missed): a binary search is not even needed, offsets are
//               consecutive, so the first missed message is at index
//               offset - first_offset
class TopicHistory {
 public:
  TopicHistory(HistoryLimits limits, std::string epoch)
      : limits_(limits), epoch_(std::move(epoch)) {}

  // Numbers and keeps one message; returns its offset.
  uint64_t append(std::string_view data, MessageType type, int64_t now_ms);
  // What a client that saw everything up to `offset` in `epoch` missed.
  Recovery since(uint64_t offset, std::string_view epoch, int64_t now_ms);

  const std::string& epoch() const { return epoch_; }
  uint64_t last_offset() const { return next_offset_ - 1; }
  uint64_t next_offset() const { return next_offset_; }  // what the next append returns
  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }  // counted as in HistoryLimits::max_bytes
  const std::deque<HistoryEntry>& entries() const { return entries_; }

 private:
  void drop_expired(int64_t now_ms);
  void drop_oldest();

  HistoryLimits limits_;
  std::string epoch_;                 // chosen when the history was created
  std::deque<HistoryEntry> entries_;  // oldest first, consecutive offsets
  uint64_t next_offset_ = 1;          // the offset of the next append
  size_t bytes_ = 0;                  // kEntryOverhead + size, over entries_
};
//< history.topic

// A fresh epoch: 16 hex digits from the kernel's CSPRNG (random.h), so that a
// restarted process never reuses its predecessor's.
std::string random_epoch();

//> history.store
// The histories of a server: which topics keep one (by name prefix, the
// longest wins), and one TopicHistory per such topic, created by its first
// publish or resume with a fresh epoch. At most max_topics per prefix: then
// the least recently used history of that prefix is forgotten, and a later
// resume for it answers kEpochChanged. Memory: at most, per prefix,
// max_topics x max_bytes (plus the topic names).
class HistoryStore {
 public:
  // `new_epoch` draws the epoch of every history created (random_epoch()
  // unless a test wants to know them).
  explicit HistoryStore(std::function<std::string()> new_epoch = random_epoch)
      : new_epoch_(std::move(new_epoch)) {}

  // Every topic whose name starts with `prefix` ("" = every topic) keeps a
  // history with these limits. A second call for the same prefix replaces
  // the limits for histories created after it.
  void keep(std::string prefix, HistoryLimits limits);
  // The topic's history, created if the topic keeps one; nullptr if not.
  TopicHistory* open(std::string_view topic);
  // Appends to the topic's history if it keeps one: the offset, or 0.
  uint64_t append(std::string_view topic, std::string_view data, MessageType type, int64_t now_ms);
  size_t topic_count() const { return histories_.size(); }
  bool enabled() const { return !rules_.empty(); }
  // The limits of the topic's history; nullptr if it keeps none.
  const HistoryLimits* limits_for(std::string_view topic) {
    const Rule* rule = rule_for(topic);
    return rule ? &rule->limits : nullptr;
  }

 private:
  struct Rule {
    std::string prefix;
    HistoryLimits limits;
    size_t topics = 0;  // histories kept under this rule now
  };
  struct Kept {
    TopicHistory history;
    Rule* rule;             // the prefix it falls under
    uint64_t last_use = 0;  // clock_ at its last open or append
  };
  struct NameHash {  // a string_view finds a std::string key without a copy
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  Rule* rule_for(std::string_view topic);
  void evict_one(const Rule* rule);

  std::function<std::string()> new_epoch_;
  std::deque<Rule> rules_;  // a deque: Kept::rule pointers stay valid
  std::unordered_map<std::string, Kept, NameHash, std::equal_to<>> histories_;
  uint64_t clock_ = 0;  // counts uses, for "least recently"
};
//< history.store

//> history.shared
// A history that lives outside this process and is shared by all of them
// (chapter 21: one Redis Stream per topic, io/broker.h implements it). Its
// offsets are given out by the shared store, so a message is numbered only
// once it got there: the publisher does not know the offset in advance, and
// its own subscribers get the message back from the store, numbered, like
// every other process's. Everything runs on the loop's thread.
class SharedHistory {
 public:
  virtual ~SharedHistory() = default;
  // Numbers and stores one message, whose bytes are `before` + the offset
  // in decimal + `after` (so that the message can carry its own number
  // without the library knowing its format), and has it delivered to every
  // process's subscribers. False if it could not be sent (the store is
  // down): the message is lost, and the caller knows it.
  virtual bool append(std::string_view topic, const HistoryLimits& limits, std::string_view before,
                      std::string_view after, MessageType type) = 0;
  // Where `topic` stands (epoch, last offset) and, if `epoch` is not empty,
  // what came after `offset` in it. `done` runs once, on the loop's thread,
  // at the seam: every message numbered up to recovery.last_offset is in
  // the answer or was delivered before `done`, every later one is
  // delivered after it. May run before since() returns (store down).
  virtual void since(std::string_view topic, const HistoryLimits& limits, uint64_t offset,
                     std::string_view epoch, std::function<void(Recovery&)> done) = 0;
};
//< history.shared

}  // namespace ws
