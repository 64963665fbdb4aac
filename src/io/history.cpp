// History: the ring of one topic's last messages, and the store of every
// topic's ring. See include/openpipe/io/history.h; chapter 21.
#include "openpipe/io/history.h"

#include <array>

#include "openpipe/io/random.h"

namespace ws {

const char* to_string(RecoveryFailure failure) {
  switch (failure) {
    case RecoveryFailure::kNone: return "recovered";
    case RecoveryFailure::kEpochChanged: return "epoch changed";
    case RecoveryFailure::kTooOld: return "offset older than history";
    case RecoveryFailure::kFuture: return "offset in the future";
    case RecoveryFailure::kNoHistory: return "no history";
    case RecoveryFailure::kUnavailable: return "history unavailable";
  }
  return "unknown";
}

std::string random_epoch() {
  std::array<uint8_t, 8> bytes;
  random_bytes(bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string epoch;
  for (uint8_t byte : bytes) {
    epoch += kHex[byte >> 4];
    epoch += kHex[byte & 0xf];
  }
  return epoch;
}

//> history.append
// The invariant: entries_ holds consecutive offsets that end at
// last_offset(), or nothing. So dropping is always from the front, and a
// message that cannot be kept (larger than max_bytes) empties the ring: an
// older message kept behind a hole would let since() hand out a list with
// a message missing in the middle, the one thing a resume must never do.
uint64_t TopicHistory::append(std::string_view data, MessageType type, int64_t now_ms) {
  const uint64_t offset = next_offset_++;
  drop_expired(now_ms);
  const size_t cost = kEntryOverhead + data.size();
  if (limits_.max_messages == 0 || cost > limits_.max_bytes) {
    while (!entries_.empty()) drop_oldest();
    return offset;
  }
  while (!entries_.empty() &&
         (entries_.size() >= limits_.max_messages || bytes_ + cost > limits_.max_bytes)) {
    drop_oldest();
  }
  entries_.push_back(HistoryEntry{offset, now_ms, type, std::string(data)});
  bytes_ += cost;
  return offset;
}
//< history.append

//> history.since
// The three ways a resume fails, checked in this order: another epoch (the
// numbers are another history's), an offset never given out, an offset whose
// successors were dropped. Otherwise the missed messages are the tail of the
// ring from index offset + 1 - first: offsets are consecutive.
Recovery TopicHistory::since(uint64_t offset, std::string_view epoch, int64_t now_ms) {
  drop_expired(now_ms);
  Recovery recovery;
  recovery.epoch = epoch_;
  recovery.last_offset = last_offset();
  const uint64_t first = entries_.empty() ? next_offset_ : entries_.front().offset;
  if (epoch != epoch_) {
    recovery.reason = RecoveryFailure::kEpochChanged;
  } else if (offset > last_offset()) {
    recovery.reason = RecoveryFailure::kFuture;
  } else if (offset + 1 < first) {
    recovery.reason = RecoveryFailure::kTooOld;
  } else {
    recovery.recovered = true;
    recovery.reason = RecoveryFailure::kNone;
    recovery.missed.reserve(last_offset() - offset);
    for (size_t i = offset + 1 - first; i < entries_.size(); ++i) {
      recovery.missed.push_back(&entries_[i]);
    }
  }
  return recovery;
}
//< history.since

void TopicHistory::drop_expired(int64_t now_ms) {
  if (limits_.max_age_ms <= 0) return;
  while (!entries_.empty() && now_ms - entries_.front().at_ms > limits_.max_age_ms) drop_oldest();
}

void TopicHistory::drop_oldest() {
  bytes_ -= kEntryOverhead + entries_.front().data.size();
  entries_.pop_front();
}

void HistoryStore::keep(std::string prefix, HistoryLimits limits) {
  for (Rule& rule : rules_) {
    if (rule.prefix == prefix) {
      rule.limits = limits;
      return;
    }
  }
  rules_.push_back(Rule{std::move(prefix), limits, 0});
}

HistoryStore::Rule* HistoryStore::rule_for(std::string_view topic) {
  Rule* best = nullptr;
  for (Rule& rule : rules_) {
    if (topic.substr(0, rule.prefix.size()) == rule.prefix &&
        (best == nullptr || rule.prefix.size() > best->prefix.size())) {
      best = &rule;
    }
  }
  return best;
}

TopicHistory* HistoryStore::open(std::string_view topic) {
  if (auto it = histories_.find(topic); it != histories_.end()) {
    it->second.last_use = ++clock_;
    return &it->second.history;
  }
  Rule* rule = rule_for(topic);
  if (rule == nullptr || rule->limits.max_topics == 0) return nullptr;
  if (rule->topics >= rule->limits.max_topics) evict_one(rule);
  auto [it, inserted] = histories_.emplace(
      std::string(topic), Kept{TopicHistory(rule->limits, new_epoch_()), rule, ++clock_});
  ++rule->topics;
  return &it->second.history;
}

uint64_t HistoryStore::append(std::string_view topic, std::string_view data, MessageType type,
                              int64_t now_ms) {
  TopicHistory* history = open(topic);
  return history == nullptr ? 0 : history->append(data, type, now_ms);
}

// O(histories): a scan, run only when a rule is full and a new topic arrives.
void HistoryStore::evict_one(const Rule* rule) {
  auto oldest = histories_.end();
  for (auto it = histories_.begin(); it != histories_.end(); ++it) {
    if (it->second.rule == rule &&
        (oldest == histories_.end() || it->second.last_use < oldest->second.last_use)) {
      oldest = it;
    }
  }
  if (oldest == histories_.end()) return;
  --oldest->second.rule->topics;
  histories_.erase(oldest);
}

}  // namespace ws
