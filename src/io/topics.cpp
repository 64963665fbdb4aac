// The topic registry (see topics.h): three hash maps and two lists per
// topic. Every operation is a few look-ups plus, for the operations that
// list something, one visit per listed entry; steps_ counts both.
#include "openpipe/io/topics.h"

#include <functional>
#include <utility>

namespace ws {

size_t TopicRegistry::KeyHash::operator()(const Key& key) const {
  size_t a = std::hash<const void*>{}(key.topic);
  size_t b = std::hash<const void*>{}(key.socket);
  return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));  // boost's hash_combine
}

const TopicRegistry::Topic* TopicRegistry::find(std::string_view topic) const {
  ++steps_;
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : &it->second;
}

//> topics.subscribe
bool TopicRegistry::subscribe(WebSocket* socket, std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicLength) return false;
  steps_ += 3;  // three look-ups below, whatever the number of topics
  auto it = topics_.find(name);
  bool new_topic = it == topics_.end();
  if (new_topic) it = topics_.try_emplace(std::string(name)).first;
  Topic& topic = it->second;
  auto [entry, added] = subscriptions_.try_emplace(Key{&topic, socket});
  if (!added) return false;  // subscribed already
  SocketEntry& mine = sockets_[socket];
  Subscription& subscription = entry->second;
  subscription = {socket, &topic, topic.sockets.size(), mine.subscriptions.size()};
  topic.sockets.push_back(socket);
  topic.subscriptions.push_back(&subscription);
  mine.subscriptions.push_back(&subscription);
  if (new_topic) {
    topic.name = name;
    if (observer_) observer_->on_first_subscriber(topic.name);
  }
  return true;
}
//< topics.subscribe

//> topics.remove
// Takes a subscription out of both lists by moving the last entry of each
// into its place, then forgets it; the topic goes when its last subscriber does.
void TopicRegistry::remove(Subscription& subscription) {
  Topic& topic = *subscription.topic;
  size_t i = subscription.in_topic;
  topic.sockets[i] = topic.sockets.back();
  topic.subscriptions[i] = topic.subscriptions.back();
  topic.subscriptions[i]->in_topic = i;
  topic.sockets.pop_back();
  topic.subscriptions.pop_back();

  std::vector<Subscription*>& mine = sockets_[subscription.socket].subscriptions;
  size_t j = subscription.in_socket;
  mine[j] = mine.back();
  mine[j]->in_socket = j;
  mine.pop_back();

  subscriptions_.erase(Key{&topic, subscription.socket});
  if (!topic.sockets.empty()) return;
  std::string name = std::move(topic.name);  // the observer hears the name after the erase
  topics_.erase(name);
  if (observer_) observer_->on_last_unsubscribed(name);
}
//< topics.remove

bool TopicRegistry::unsubscribe(WebSocket* socket, std::string_view name) {
  const Topic* topic = find(name);
  if (!topic) return false;
  steps_ += 2;  // the subscription's look-up, and the socket's in remove()
  auto it = subscriptions_.find(Key{topic, socket});
  if (it == subscriptions_.end()) return false;
  remove(it->second);
  return true;
}

size_t TopicRegistry::unsubscribe_all(WebSocket* socket) {
  ++steps_;
  auto it = sockets_.find(socket);
  if (it == sockets_.end()) return 0;
  // A reference, not the iterator: an observer called from remove() may
  // subscribe elsewhere, and a rehash keeps references but not iterators.
  SocketEntry& entry = it->second;
  size_t count = entry.subscriptions.size();
  while (!entry.subscriptions.empty()) {
    ++steps_;
    remove(*entry.subscriptions.back());
  }
  sockets_.erase(socket);
  return count;
}

std::span<WebSocket* const> TopicRegistry::subscribers(std::string_view name) const {
  const Topic* topic = find(name);
  if (!topic) return {};
  return topic->sockets;
}

std::vector<std::string> TopicRegistry::topics_of(const WebSocket* socket) const {
  std::vector<std::string> names;
  ++steps_;
  auto it = sockets_.find(socket);
  if (it == sockets_.end()) return names;
  for (const Subscription* subscription : it->second.subscriptions) {
    ++steps_;
    names.push_back(subscription->topic->name);
  }
  return names;
}

bool TopicRegistry::subscribed(const WebSocket* socket, std::string_view name) const {
  const Topic* topic = find(name);
  ++steps_;
  return topic && subscriptions_.count(Key{topic, socket}) > 0;
}

void TopicRegistry::count_dropped(const WebSocket* socket) {
  ++steps_;
  ++sockets_[socket].dropped;
}

uint64_t TopicRegistry::dropped(const WebSocket* socket) const {
  ++steps_;
  auto it = sockets_.find(socket);
  return it == sockets_.end() ? 0 : it->second.dropped;
}

}  // namespace ws
