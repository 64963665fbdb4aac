// The server: binds a listening socket to the epoll loop, gives every TCP
// connection a protocol Connection (sans-I/O) and moves bytes between them;
// routes WebSocket paths to callbacks and serves plain HTTP (static files).
// Owns: the listener, every connection, their timers and output. Does not
// parse or build a single frame itself: that is protocol/connection.h.
// RFC 6455 §4.2 (server handshake), §5.5.2 (ping), §7.1.1 (server closes TCP first).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/core/block_pool.h"
#include "openpipe/io/acceptor.h"
#include "openpipe/io/event_loop.h"
#include "openpipe/io/socket.h"
#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/trace.h"

namespace ws {

using Millis = std::chrono::milliseconds;

//> server.config
// Every limit and deadline has a name and a default; 0 ms disables a timer.
struct ServerConfig {
  std::string host = "127.0.0.1";    // loopback unless the user asks otherwise
  uint16_t port = 8000;              // 0: any free port (see Server::port())
  ConnectionLimits limits;           // message size (1009), handshake size (431)...
  size_t max_connections = 10000;    // WebSockets open at once; beyond: 503
  Millis handshake_timeout{10000};   // the request must be complete by then (slowloris)
  Millis ping_interval{30000};       // a ping to every quiet connection this often
  Millis pong_timeout{10000};        // no pong by then: close 1008 ("policy")
  Millis close_timeout{5000};        // the closing handshake's deadline, then TCP closes
  Millis idle_timeout{0};            // close 1001 after this long with no message (0: never)
  Millis shutdown_timeout{3000};     // graceful shutdown waits this long for replies
  size_t high_water_mark = 1 << 20;  // queued output above this: stop reading the client
  std::string web_root;              // static files for plain GET requests ("" = none)
  std::vector<std::string> allowed_origins;  // empty: any Origin is accepted
  bool trace = false;                        // print the handshake and every frame (stderr)
  DeflateConfig deflate;                     // permessage-deflate policy (chapter 22)
  // One line per connection opened/closed; nullptr to stay quiet.
  std::function<void(std::string_view line)> log = default_log;

  static void default_log(std::string_view line);
};
//< server.config

class Server;
class ClientSocket;  // the transport behind a WebSocket (src/io/server.cpp)
struct RouteEntry;   // a path and what it does (below)

//> server.websocket
// One client, as the application sees it. Valid from on_open until on_close
// returns; never store the reference longer (store id() instead).
class WebSocket {
 public:
  bool send_text(std::string_view text);
  bool send_binary(std::span<const uint8_t> data);
  bool ping(std::span<const uint8_t> payload = {});
  bool close(uint16_t code = kCloseNormal, std::string_view reason = {});
  // Bytes queued but not yet accepted by the kernel (like the browser's
  // WebSocket.bufferedAmount): the way to notice a client that does not read.
  size_t buffered_amount() const;

  uint64_t id() const { return id_; }  // unique in this server
  std::string peer() const;            // "127.0.0.1:54321"
  const std::string& path() const;     // the route: "/ws"
  const std::string& subprotocol() const;
  State state() const;
  // The permessage-deflate parameters agreed on; null if not negotiated.
  const DeflateParams* deflate() const;

  // Per-connection data for the application ("the server remembers the
  // connection", primer §8): any object, owned by the connection.
  template <typename T>
  T& data() {
    return static_cast<Holder<T>*>(user_data_.get())->value;
  }
  template <typename T, typename... Args>
  T& set_data(Args&&... args) {
    user_data_ = std::make_unique<Holder<T>>(std::forward<Args>(args)...);
    return data<T>();
  }
  bool has_data() const { return user_data_ != nullptr; }
  //< server.websocket

 private:
  friend class Server;
  friend class ClientSocket;
  WebSocket() = default;
  ~WebSocket() = default;

  // The user's object, type-erased with one pointer (8 bytes per connection).
  struct AnyData {
    virtual ~AnyData() = default;
  };
  template <typename T>
  struct Holder final : AnyData {
    template <typename... Args>
    explicit Holder(Args&&... args) : value(std::forward<Args>(args)...) {}
    T value;
  };

  uint64_t id_ = 0;                     // see id()
  const RouteEntry* route_ = nullptr;   // its path and callbacks, in the server's table
  std::unique_ptr<AnyData> user_data_;  // see set_data()
};

enum class MessageType : uint8_t { kText, kBinary };

// The answer of an upgrade check (origin, authentication): 0 accepts, any
// other value is the HTTP status to refuse with (401, 403...).
struct UpgradeDecision {
  int status = 0;    // 0 = accept
  std::string body;  // the refusal's text
  static UpgradeDecision accept() { return {}; }
  static UpgradeDecision refuse(int status, std::string body) { return {status, std::move(body)}; }
};

//> server.route
// What a WebSocket path does. Every callback is optional.
struct Route {
  // Runs during the upgrade, before the 101 is sent: sees the request (path,
  // query, headers, cookies) and may refuse it or attach data to the socket.
  std::function<UpgradeDecision(const HttpRequest&, WebSocket&)> on_upgrade;
  std::function<void(WebSocket&)> on_open;
  std::function<void(WebSocket&, std::string_view data, MessageType type)> on_message;
  std::function<void(WebSocket&, uint16_t code, std::string_view reason)> on_close;
  std::function<void(WebSocket&, Error error)> on_error;
  std::vector<std::string> subprotocols;  // ours, in order of preference
};
//< server.route

struct RouteEntry {
  std::string path;  // "/ws"
  Route route;       // what it does
};

//> server.api
class Server {
 public:
  // Binds the listening socket (throws std::system_error if it cannot).
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void route(std::string path, Route route);

  // Runs the loop until shutdown: SIGINT/SIGTERM (or request_shutdown())
  // sends 1001 to every client, waits for their replies (bounded), returns.
  void run();
  // Starts the graceful shutdown from inside the loop's thread.
  void shutdown();
  // Thread-safe: asks the loop (maybe running in another thread) to shut down.
  void request_shutdown();

  uint16_t port() const { return listener_.port; }
  const std::string& address() const { return listener_.address; }
  EventLoop& loop() { return loop_; }
  const ServerConfig& config() const { return config_; }

  // Server push (primer §8: "server can push messages without request").
  TimerId every(Millis interval, std::function<void()> callback);
  TimerId after(Millis delay, std::function<void()> callback);
  void for_each(const std::function<void(WebSocket&)>& visit);  // every OPEN socket
  size_t broadcast(std::string_view text);                      // returns how many got it

  size_t open_count() const { return open_count_; }            // WebSockets OPEN
  size_t connection_count() const { return sockets_.size(); }  // every TCP connection

  //< server.api
 private:
  friend class ClientSocket;
  void on_acceptable();
  void on_wakeup();
  void sweep_deadlines();
  Millis sweep_interval() const;
  void schedule_flush(ClientSocket* socket);
  void flush_pending();
  void destroy(ClientSocket* socket);
  void log(std::string_view line) const;
  const RouteEntry* find_route(std::string_view path) const;

  class AcceptHandler final : public IoHandler {
   public:
    explicit AcceptHandler(Server& server) : server_(server) {}
    void on_io(uint32_t) override { server_.on_acceptable(); }

   private:
    Server& server_;
  };
  class WakeupHandler final : public IoHandler {
   public:
    explicit WakeupHandler(Server& server) : server_(server) {}
    void on_io(uint32_t) override { server_.on_wakeup(); }

   private:
    Server& server_;
  };

  //> server.members
  ServerConfig config_;
  EventLoop loop_;
  Listener listener_;
  Acceptor acceptor_;
  AcceptHandler accept_handler_{*this};
  Fd wakeup_read_, wakeup_write_;  // request_shutdown() writes a byte here
  WakeupHandler wakeup_handler_{*this};
  std::deque<RouteEntry> routes_;  // a deque: entries never move
  // The loop's zlib state, shared by every connection that negotiated
  // permessage-deflate (null if config_.deflate.enabled is false). Declared
  // before the connections: they give their inflaters back to it.
  std::unique_ptr<DeflateShared> deflate_;
  // Connections live in a pool of equal blocks (chapter 16: no malloc
  // header, no holes between them); SocketPtr gives the block back.
  struct ReturnToPool {
    void operator()(ClientSocket* socket) const;
  };
  using SocketPtr = std::unique_ptr<ClientSocket, ReturnToPool>;
  BlockPool socket_pool_;                     // declared first: freed last
  std::vector<SocketPtr> sockets_;            // every live connection
  std::vector<ClientSocket*> pending_flush_;  // output queued this loop turn
  std::vector<SocketPtr> graveyard_;          // ended this turn; freed before sleep
  std::vector<uint8_t> read_buffer_;          // one for the whole loop
  size_t open_count_ = 0;
  uint64_t next_id_ = 1;
  bool shutting_down_ = false;
  EventLoop::TimePoint shutdown_deadline_;  // graceful shutdown gives up then
  //< server.members
};

}  // namespace ws
