// Topics: who is subscribed to what. A registry of named topics, each with
// the list of its subscribers, and for every socket the list of its topics.
// Owns: that bookkeeping and nothing else. It never sends a byte: the server
// (server.h, Server::publish) encodes a frame once and hands it to every
// socket this registry lists. No RFC here; uWebSockets' subscribe/publish is the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ws {

class WebSocket;

// What a message is: the opcode it is sent with (RFC 6455 §5.6).
enum class MessageType : uint8_t { kText, kBinary };

// A topic name is at most this long (and never empty): the name may come
// from the network (a query string, a message), so it is bounded.
inline constexpr size_t kMaxTopicLength = 256;

//> topics.observer
// Hooks for a broker link (chapter 20: Redis), called on the loop's thread.
// A server with several processes subscribes the broker to a topic when the
// topic's first local subscriber arrives, and unsubscribes it when the last
// one leaves; every local publish is also handed to it.
struct TopicObserver {
  virtual ~TopicObserver() = default;
  virtual void on_first_subscriber(std::string_view topic) = 0;   // 0 -> 1 local subscribers
  virtual void on_last_unsubscribed(std::string_view topic) = 0;  // 1 -> 0
  virtual void on_local_publish(std::string_view topic, std::string_view data,
                                MessageType type) = 0;
};
//< topics.observer

//> topics.registry
// The cost of every operation, for t topics on the server, n subscribers of
// one topic, k topics of one socket and L the topic name's length. "Average"
// is a hash table's: one look-up, whatever the number of entries.
//   subscribe, unsubscribe   O(L) average: independent of t, n and k
//   subscribers(topic)       O(L) average; iterating them is O(n): a publish
//                            never looks at a socket that is not subscribed
//   unsubscribe_all(socket)  O(k): closing a socket costs its own topics only
//   topics_of(socket)        O(k)
// steps() counts the work (one per look-up, one per entry visited) so that
// tests check these statements by counting, not by timing.
class TopicRegistry {
 public:
  TopicRegistry() = default;
  TopicRegistry(const TopicRegistry&) = delete;
  TopicRegistry& operator=(const TopicRegistry&) = delete;

  // False if the name is empty or longer than kMaxTopicLength, or if the
  // socket is subscribed already.
  bool subscribe(WebSocket* socket, std::string_view topic);
  // False if the socket is not subscribed to `topic`.
  bool unsubscribe(WebSocket* socket, std::string_view topic);
  // Unsubscribes the socket from everything and forgets it (its dropped
  // count too); returns how many topics it left. The server calls it when a
  // socket closes.
  size_t unsubscribe_all(WebSocket* socket);

  // The sockets subscribed to `topic`, in the order they subscribed (until
  // one leaves: the last one then takes its place). The span is valid until
  // the next subscribe or unsubscribe.
  std::span<WebSocket* const> subscribers(std::string_view topic) const;
  size_t subscriber_count(std::string_view topic) const { return subscribers(topic).size(); }
  std::vector<std::string> topics_of(const WebSocket* socket) const;
  bool subscribed(const WebSocket* socket, std::string_view topic) const;
  size_t topic_count() const { return topics_.size(); }

  // Messages a socket missed because it was too slow (see SlowSubscriberPolicy).
  void count_dropped(const WebSocket* socket);
  uint64_t dropped(const WebSocket* socket) const;

  void set_observer(TopicObserver* observer) { observer_ = observer; }
  TopicObserver* observer() const { return observer_; }

  // Work done so far, counted as in the table above.
  uint64_t steps() const { return steps_; }
  //< topics.registry

 private:
  struct Topic;
  //> topics.members
  // One subscription: which socket, which topic, and where each list keeps
  // it, so that leaving is a swap with the last entry on both sides (O(1)).
  struct Subscription {
    WebSocket* socket;  // the subscriber
    Topic* topic;       // what it is subscribed to
    size_t in_topic;    // index in topic->sockets and topic->subscriptions
    size_t in_socket;   // index in the socket's SocketEntry::subscriptions
  };
  struct Topic {
    std::string name;                          // the key, kept for topics_of()
    std::vector<WebSocket*> sockets;           // what a publish walks: nothing else
    std::vector<Subscription*> subscriptions;  // the same order, for the swap
  };
  struct SocketEntry {
    std::vector<Subscription*> subscriptions;  // the socket's topics
    uint64_t dropped = 0;                      // messages it missed (slow subscriber)
  };
  struct Key {  // a (topic, socket) pair: is this socket subscribed to this topic?
    const Topic* topic;
    const WebSocket* socket;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct NameHash {  // lets a string_view find a std::string key without a copy
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  // Node-based maps: a Topic or a Subscription never moves once created, so
  // the pointers above stay valid while other entries come and go.
  std::unordered_map<std::string, Topic, NameHash, std::equal_to<>> topics_;
  std::unordered_map<Key, Subscription, KeyHash> subscriptions_;
  std::unordered_map<const WebSocket*, SocketEntry> sockets_;
  TopicObserver* observer_ = nullptr;  // not owned; null: none
  mutable uint64_t steps_ = 0;         // see steps()
  //< topics.members

  const Topic* find(std::string_view topic) const;
  void remove(Subscription& subscription);
};

}  // namespace ws
