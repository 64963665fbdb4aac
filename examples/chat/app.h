// The chat application on a ws::Server: the route /chat?room=ROOM&name=NAME,
// where rooms are topics. It checks the join (400/409/503 before the
// upgrade), keeps presence and history (room.h), limits each connection
// with a token bucket, and speaks docs/protocols.md (protocol.h).
// Owns the rooms; the Server owns the sockets and the topics.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chat/protocol.h"
#include "chat/room.h"
#include "common/program.h"
#include "common/query.h"
#include "openpipe/io/server.h"

namespace chat {

// What a room's members and history cover: the whole room (one process),
// or only this process's share of it (--redis: other processes serve the
// same room, and the welcome says "scope":"process"; docs/protocols.md).
enum class Scope { kEverything, kThisProcess };

// The rate limit: a burst of `burst` messages, then `per_second`.
struct Options {
  double burst = 10;
  double per_second = 2;
  Scope scope = Scope::kEverything;
};

class App {
 public:
  App(ws::Server& server, Options options) : server_(server), options_(options) {
    ws::Route route;
    route.on_upgrade = [this](const ws::HttpRequest& request, ws::WebSocket& socket) {
      return on_upgrade(request, socket);
    };
    route.on_open = [this](ws::WebSocket& socket) { on_open(socket); };
    route.on_message = [this](ws::WebSocket& socket, std::string_view data, ws::MessageType type) {
      on_message(socket, data, type);
    };
    route.on_close = [this](ws::WebSocket& socket, uint16_t, std::string_view) {
      on_close(socket);
    };
    server.route("/chat", std::move(route));
    // Every room's topic keeps a history, so that a client that lost its
    // connection resumes where it was (chapter 21).
    server.keep_history("chat/", ws::HistoryLimits{.max_messages = kResumeMessages,
                                                   .max_bytes = kResumeBytes,
                                                   .max_age_ms = kResumeAgeMs,
                                                   .max_topics = kResumeRooms});
  }

  const Rooms& rooms() const { return rooms_; }
  Rooms& rooms() { return rooms_; }

 private:
  //> chat.client
  // What the server remembers about each connection (primer §8: "you can
  // store per-client data"): its room, its name, and its token bucket.
  struct Client {
    std::string room;      // also its topic: "chat/" + room
    std::string name;      // unique in the room
    TokenBucket bucket;    // messages it may still send now
    ResumeRequest resume;  // offset=K&epoch=E, if it came back after a loss
    bool joined = false;   // on_open ran: on_close must announce the leave
  };
  //< chat.client

  static int64_t steady_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
  static std::string topic_of(const std::string& room) { return "chat/" + room; }
  // The welcome's "scope" (docs/protocols.md): "process" under --redis.
  std::string_view scope() const { return options_.scope == Scope::kThisProcess ? "process" : ""; }

  //> chat.upgrade
  // Before the 101: a bad or missing name is 400, a name already in the room
  // is 409, a full room (or server) is 503. The browser sees only "the
  // connection failed", so the page checks the name itself first; other
  // clients get the reason in the response's body.
  ws::UpgradeDecision on_upgrade(const ws::HttpRequest& request, ws::WebSocket& socket) {
    const auto room = app::query_value(request.query(), "room");
    const auto name = app::query_value(request.query(), "name");
    if (!room || !name) return ws::UpgradeDecision::refuse(400, "room and name are required\n");
    if (std::string why = check_room(*room); !why.empty()) {
      return ws::UpgradeDecision::refuse(400, why + "\n");
    }
    if (std::string why = check_name(*name); !why.empty()) {
      return ws::UpgradeDecision::refuse(400, why + "\n");
    }
    ResumeRequest resume = read_resume(app::query_value(request.query(), "offset"),
                                       app::query_value(request.query(), "epoch"));
    if (!resume.error.empty()) return ws::UpgradeDecision::refuse(400, resume.error + "\n");
    Room* state = rooms_.open(*room);
    if (state == nullptr) return ws::UpgradeDecision::refuse(503, "too many rooms\n");
    if (state->has(*name)) return ws::UpgradeDecision::refuse(409, "name taken in this room\n");
    if (state->full()) return ws::UpgradeDecision::refuse(503, "room is full\n");
    socket.set_data<Client>(Client{
        *room, *name, {options_.burst, options_.per_second, steady_ms()}, std::move(resume)});
    return ws::UpgradeDecision::accept();
  }
  //< chat.upgrade

  //> chat.join
  // The Server calls on_open right after on_upgrade accepted, in the same
  // loop turn: nobody can take the name in between. Presence (join, leave)
  // is published "volatile": it gets no offset and is never replayed, since
  // the welcome's members list says who is here now.
  void on_open(ws::WebSocket& socket) {
    Client& client = socket.data<Client>();
    Room& room = *rooms_.find(client.room);
    room.join(client.name);
    client.joined = true;
    const std::string topic = topic_of(client.room);
    server_.publish_volatile(topic, joined(client.name));  // the others learn first,
    if (client.resume.asked) return resume(socket, topic);
    // then the newcomer listens, and learns where the room's history stands
    // (at once; under --redis when Redis answered: subscribe_from, server.h).
    socket.subscribe_from(topic, 0, "", [this](ws::WebSocket& socket, ws::Recovery& recovery) {
      const Client& client = socket.data<Client>();
      socket.send_text(welcome(client.room, client.name, *rooms_.find(client.room), recovery.epoch,
                               recovery.last_offset, nullptr, scope()));
    });
  }
  //< chat.join

  //> chat.resume
  // A client back after a lost connection (offset=K&epoch=E): subscribed,
  // and the welcome carries every message after K, or why it cannot. The
  // subscription, the snapshot and the welcome are queued in one call on
  // the loop's thread (with Redis: the call that handles Redis's answer, at
  // the seam the broker keeps); the next message of the room reaches the
  // socket live, behind the welcome: no gap, no duplicate.
  void resume(ws::WebSocket& socket, const std::string& topic) {
    const Client& client = socket.data<Client>();
    socket.subscribe_from(
        topic, client.resume.offset, client.resume.epoch,
        [this](ws::WebSocket& socket, ws::Recovery& recovery) {
          const Client& client = socket.data<Client>();
          Resumed resumed{recovery.recovered, ws::to_string(recovery.reason), {}};
          for (const ws::HistoryEntry* entry : recovery.missed) {
            resumed.missed.push_back(entry->data);
          }
          socket.send_text(welcome(client.room, client.name, *rooms_.find(client.room),
                                   recovery.epoch, recovery.last_offset, &resumed, scope()));
        });
  }
  //< chat.resume

  //> chat.message
  void on_message(ws::WebSocket& socket, std::string_view data, ws::MessageType type) {
    Client& client = socket.data<Client>();
    if (!client.bucket.take(steady_ms())) {  // an excess message is answered, not dropped silently
      socket.send_text(error("rate limit: slow down"));
      return;
    }
    if (type != ws::MessageType::kText) {
      socket.send_text(error("binary messages are not part of the chat protocol"));
      return;
    }
    Incoming incoming = read_client_message(data);
    if (!incoming.error.empty()) {
      socket.send_text(error(incoming.error));
      return;
    }
    // The message carries its offset, which the history gives as it takes
    // the message (under --redis, Redis does, for every process at once):
    // published as the text before the offset's digits and the text after.
    Message said{client.name, std::move(incoming.text), app::unix_ms(), 0};
    const auto [before, after] = message_around_offset(said);
    // The sender gets it too: it sees the server's ts and offset.
    const std::optional<uint64_t> offset =
        server_.publish_numbered(topic_of(client.room), before, after);
    if (!offset) {  // Redis is down: never lost silently
      socket.send_text(error("not delivered: the message broker is unavailable, try again"));
      return;
    }
    said.offset = *offset;  // 0 under --redis: the room's own list shows it without one
    rooms_.find(client.room)->remember(std::move(said));
  }
  //< chat.message

  //> chat.leave
  // Closing unsubscribed the socket from its topic already (server.h), so
  // the leave reaches the others only.
  void on_close(ws::WebSocket& socket) {
    if (!socket.has_data()) return;
    Client& client = socket.data<Client>();
    if (!client.joined) return;
    client.joined = false;
    if (Room* room = rooms_.find(client.room); room && room->leave(client.name)) {
      server_.publish_volatile(topic_of(client.room), left(client.name));
    }
  }
  //< chat.leave

  ws::Server& server_;
  Options options_;
  Rooms rooms_;
};

}  // namespace chat
