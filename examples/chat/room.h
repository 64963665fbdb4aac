// The chat room's rules, with no sockets and no JSON: which names and rooms
// are valid, who is in a room, the last messages it keeps, and the token
// bucket that limits how fast one connection may talk. Pure logic, so that
// tests/ch17_chat_test.cpp checks every rule without a server.
// The program (examples/chat_server.cpp) binds it to topics; the wire format
// is examples/chat/protocol.h.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

//> chat.limits
// Every count and length from the network has a bound (docs/protocols.md).
inline constexpr size_t kMaxNameBytes = 32;         // a user's name: 1..32 bytes
inline constexpr size_t kMaxRoomBytes = 32;         // a room's name: 1..32 bytes
inline constexpr size_t kMaxTextBytes = 4096;       // one message's text: 4 KiB
inline constexpr size_t kHistorySize = 50;          // messages a room keeps for newcomers
inline constexpr size_t kMaxMembersPerRoom = 1000;  // beyond: the join is refused (503)
inline constexpr size_t kMaxRooms = 1000;           // rooms kept, empty ones included
// Resume (chapter 21): what a room keeps for clients that reconnect. Per
// room 1000 messages or 512 KiB, whichever first, for an hour; the 200 most
// recently active rooms keep one (at most 100 MiB). Beyond: recovered:false.
inline constexpr size_t kResumeMessages = 1000;
inline constexpr size_t kResumeBytes = 512 * 1024;
inline constexpr int64_t kResumeAgeMs = 3600 * 1000;
inline constexpr size_t kResumeRooms = 200;
//< chat.limits

//> chat.validate
// Why `name` cannot be a user's name, or "" if it can. Letters, digits,
// '_', '-', '.' and inner spaces: nothing that looks like markup or a
// control character, and no name that differs from another only by blanks
// at its ends.
inline std::string check_name(std::string_view name) {
  if (name.empty()) return "name is empty";
  if (name.size() > kMaxNameBytes) return "name is longer than 32 bytes";
  if (name.front() == ' ' || name.back() == ' ') return "name starts or ends with a space";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ' ';
    if (!ok) return "name may hold only letters, digits, spaces and _ - .";
  }
  return "";
}

// The same for a room: no spaces (it is part of a URL and of a topic name).
inline std::string check_room(std::string_view room) {
  if (room.empty()) return "room is empty";
  if (room.size() > kMaxRoomBytes) return "room is longer than 32 bytes";
  for (char c : room) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return "room may hold only letters, digits and _ - .";
  }
  return "";
}
//< chat.validate

//> chat.token-bucket
// A token bucket: `capacity` tokens, refilled at `per_second`; each message
// takes one. A burst of `capacity` messages passes at once, then one every
// 1/per_second seconds. The time comes from the caller (milliseconds on any
// steady clock), so a test can play a whole minute in a microsecond.
class TokenBucket {
 public:
  TokenBucket(double capacity, double per_second, int64_t now_ms)
      : capacity_(capacity), per_second_(per_second), tokens_(capacity), last_ms_(now_ms) {}

  // True (and one token fewer) if a message may pass at `now_ms`.
  bool take(int64_t now_ms) {
    if (now_ms > last_ms_) {
      tokens_ = std::min(capacity_, tokens_ + (now_ms - last_ms_) * per_second_ / 1000.0);
      last_ms_ = now_ms;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  double tokens() const { return tokens_; }

 private:
  double capacity_;    // the largest burst
  double per_second_;  // the sustained rate
  double tokens_;      // what is left now
  int64_t last_ms_;    // when tokens_ was last brought up to date
};
//< chat.token-bucket

// One chat message as rooms keep it and clients see it.
struct Message {
  std::string name;     // who said it
  std::string text;     // what (at most kMaxTextBytes)
  int64_t ts = 0;       // when the server received it, ms since the Unix epoch
  uint64_t offset = 0;  // its number in the room's history (chapter 21), from 1
};

//> chat.room
// One room: who is in it, and what was said lately.
class Room {
 public:
  // Members in the order they joined (presence).
  const std::vector<std::string>& members() const { return members_; }
  bool has(std::string_view name) const {
    return std::find(members_.begin(), members_.end(), name) != members_.end();
  }
  bool full() const { return members_.size() >= kMaxMembersPerRoom; }
  bool empty() const { return members_.empty(); }
  // False if the name is already in the room.
  bool join(std::string name) {
    if (has(name)) return false;
    members_.push_back(std::move(name));
    return true;
  }
  // False if the name was not in the room.
  bool leave(std::string_view name) {
    auto it = std::find(members_.begin(), members_.end(), name);
    if (it == members_.end()) return false;
    members_.erase(it);
    return true;
  }

  // Keeps the last kHistorySize messages: the oldest goes first.
  void remember(Message message) {
    history_.push_back(std::move(message));
    if (history_.size() > kHistorySize) history_.pop_front();
  }
  const std::deque<Message>& history() const { return history_; }

 private:
  std::vector<std::string> members_;  // names, unique, in join order
  std::deque<Message> history_;       // oldest first, at most kHistorySize
};
//< chat.room

// Every room of one server. Rooms are created by their first join and kept
// when they empty (their history stays for the next visitor), up to
// kMaxRooms: then an empty room is forgotten to make space.
class Rooms {
 public:
  Room* find(std::string_view name) {
    auto it = rooms_.find(name);
    return it == rooms_.end() ? nullptr : &it->second;
  }
  // The room, created if needed; nullptr if kMaxRooms rooms exist and none
  // of them is empty.
  Room* open(const std::string& name) {
    if (Room* room = find(name)) return room;
    if (rooms_.size() >= kMaxRooms) {
      auto empty = std::find_if(rooms_.begin(), rooms_.end(),
                                [](const auto& entry) { return entry.second.empty(); });
      if (empty == rooms_.end()) return nullptr;
      rooms_.erase(empty);
    }
    return &rooms_[name];
  }
  size_t size() const { return rooms_.size(); }

 private:
  std::map<std::string, Room, std::less<>> rooms_;  // by name
};

}  // namespace chat
