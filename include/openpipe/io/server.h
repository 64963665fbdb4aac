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
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/core/block_pool.h"
#include "openpipe/io/acceptor.h"
#include "openpipe/io/event_loop.h"
#include "openpipe/io/history.h"
#include "openpipe/io/socket.h"
#include "openpipe/io/topics.h"
#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/tls.h"
#include "openpipe/protocol/trace.h"

namespace ws {

using Millis = std::chrono::milliseconds;

//> server.config
// Every limit and deadline has a name and a default; 0 ms disables a timer.
struct ServerConfig {
  std::string host = "127.0.0.1";   // loopback unless the user asks otherwise
  uint16_t port = 8000;             // 0: any free port (see Server::port())
  bool reuse_port = false;          // SO_REUSEPORT: one listener per worker (chapter 20)
  ConnectionLimits limits;          // message size (1009), handshake size (431)...
  size_t max_connections = 10000;   // WebSockets open at once; beyond: 503
  Millis handshake_timeout{10000};  // a request must be complete by then (slowloris)
  Millis keep_alive_timeout{5000};  // plain HTTP: a connection idle between requests closes
  // (limits.max_requests: plain HTTP requests on one connection, then it closes)
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
  // TLS (chapter 23): with a certificate and its key, a second listener on
  // tls_port speaks wss:// and https://, beside the plain one on `port`.
  std::string tls_cert;      // PEM: the certificate, then intermediates ("" = no TLS)
  std::string tls_key;       // PEM: its private key
  uint16_t tls_port = 8443;  // 0: any free port (see Server::tls_port())
  // Reverse proxies whose X-Forwarded-For is believed ("127.0.0.1"): logs
  // and WebSocket::peer() then show the real client (docs/deployment.md).
  std::vector<std::string> trusted_proxies;
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

  // Topics (topics.h has the costs). False if the name is empty or longer
  // than kMaxTopicLength, if already subscribed, or once the socket is
  // closing. May be called from on_upgrade on: messages reach it once OPEN.
  // Closing the socket unsubscribes it from everything.
  bool subscribe(std::string_view topic);
  bool unsubscribe(std::string_view topic);  // false if not subscribed
  std::vector<std::string> topics() const;   // in no particular order
  // Subscribe with resume (chapter 21): subscribes to `topic` AND returns
  // what this client missed since `offset` in `epoch` (Recovery: the
  // messages, or why not). Both happen in this one call on the loop's
  // thread, so no publish falls between the snapshot and the subscription:
  // send the missed messages before returning to the loop and the client
  // sees each message once, in order. Subscribes even if recovery fails.
  Recovery subscribe_resume(std::string_view topic, uint64_t offset, std::string_view epoch);
  // The same, for a history that may be shared by several processes
  // (Server::set_shared_history: Redis). `done` gets the Recovery when it
  // is known, with the socket subscribed at that moment: at once without a
  // shared history, after Redis answered with one (then not at all if the
  // socket closed meanwhile). An empty `epoch` asks only where the topic
  // stands (recovery.epoch, recovery.last_offset), for a first join.
  using ResumeDone = std::function<void(WebSocket& socket, Recovery& recovery)>;
  void subscribe_from(std::string_view topic, uint64_t offset, std::string_view epoch,
                      ResumeDone done);
  // Published or broadcast messages this socket missed because its output
  // was above its route's high-water mark (SlowSubscriberPolicy).
  uint64_t dropped_messages() const;

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

// The answer of an upgrade check (origin, authentication): 0 accepts, any
// other value is the HTTP status to refuse with (401, 403...).
struct UpgradeDecision {
  int status = 0;    // 0 = accept
  std::string body;  // the refusal's text
  static UpgradeDecision accept() { return {}; }
  static UpgradeDecision refuse(int status, std::string body) { return {status, std::move(body)}; }
};

//> server.slow-subscriber
// What a publish (or broadcast) does for a subscriber whose queued output is
// above its route's high-water mark, i.e. a client that does not read fast
// enough. Either way memory stays bounded (the mark plus one message), and
// the other subscribers are not slowed down.
enum class SlowSubscriberPolicy : uint8_t {
  kDrop,   // this message is not queued for that socket, and counted (dropped_messages())
  kClose,  // the socket is closed with 1008 (policy violation) and gets nothing more
};
//< server.slow-subscriber

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
  // Publish and broadcast: a socket with more than this many bytes queued
  // gets the policy instead of the message (0: ServerConfig::high_water_mark).
  size_t high_water_mark = 0;
  SlowSubscriberPolicy slow_subscriber = SlowSubscriberPolicy::kDrop;
};
//< server.route

struct RouteEntry {
  std::string path;  // "/ws"
  Route route;       // what it does
};

//> server.http-route
// A plain HTTP endpoint (a webhook, a health check): every request whose
// decoded path is `path_prefix` or lies below it ("/notify" takes "/notify"
// and "/notify/alerts", not "/notifyx"); the longest prefix wins. Checked
// before the static files; an upgrade request still goes to a WebSocket route.
//  - A method not in `methods`: 405 with Allow. HEAD is answered like GET
//    without the body if "HEAD" is listed.
//  - The body is read whole before on_request runs (request.body), by
//    Content-Length or chunked. Over `max_body`: 413, at the head when
//    Content-Length says so, or as soon as a chunked body passes it.
//  - `length_required`: a request without Content-Length gets 411 (RFC 9110
//    §15.5.12), before any of a chunked body is read.
// on_request runs on the loop's thread and returns the answer: keep it short.
// The connection is kept alive after it unless reply.close or the client
// said close (RFC 9112 §9.3).
struct HttpRoute {
  std::vector<std::string> methods = {"GET", "HEAD"};
  uint64_t max_body = 64 * 1024;
  bool length_required = false;
  std::function<HttpReply(const HttpRequest& request)> on_request;
};
//< server.http-route

struct HttpRouteEntry {
  std::string prefix;  // "/notify"
  HttpRoute route;     // what it does
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
  // A plain HTTP endpoint at `path_prefix` (see HttpRoute).
  void handle(std::string path_prefix, HttpRoute route);

  // Runs the loop until shutdown: SIGINT/SIGTERM (or request_shutdown())
  // sends 1001 to every client, waits for their replies (bounded), returns.
  void run();
  // Starts the graceful shutdown from inside the loop's thread.
  void shutdown();
  // Thread-safe: asks the loop (maybe running in another thread) to shut
  // down; post([this] { shutdown(); }).
  void request_shutdown();

  // Thread-safe: runs `callback` on the loop's thread (woken by an eventfd)
  // soon, exactly once, and after every callback posted before it by the
  // same thread. False once shutdown has begun: the callback is destroyed
  // and never runs. Callbacks accepted before that still run, at the latest
  // when run() returns. Not for signal handlers (it takes a lock).
  bool post(std::function<void()> callback);

  uint16_t port() const { return listener_.port; }
  const std::string& address() const { return listener_.address; }
  uint16_t tls_port() const { return tls_listener_.port; }  // 0 without TLS
  const std::string& tls_address() const { return tls_listener_.address; }
  EventLoop& loop() { return loop_; }
  const ServerConfig& config() const { return config_; }

  // Server push (primer §8: "server can push messages without request").
  TimerId every(Millis interval, std::function<void()> callback);
  TimerId after(Millis delay, std::function<void()> callback);
  void for_each(const std::function<void(WebSocket&)>& visit);  // every OPEN socket
  // One frame, encoded once, queued to every OPEN socket (slow ones get
  // their route's policy); returns how many got it. O(connections).
  size_t broadcast(std::string_view data, MessageType type = MessageType::kText);
  // The OPEN socket with this id, or nullptr. O(connections): a scan, so
  // that no connection pays for an index; to reach one user often, give
  // each user a topic of its own ("user:42") and publish to it, O(1).
  WebSocket* find(uint64_t id);

  // Topics: publish encodes ONE frame and queues the same bytes to every
  // OPEN subscriber of `topic`, written in the same loop-turn batch as the
  // rest of their output; returns how many sockets it reached (not those
  // dropped as slow). Costs O(subscribers of the topic), whatever the
  // number of other sockets. A broker observer also hears it (below).
  size_t publish(std::string_view topic, std::string_view data,
                 MessageType type = MessageType::kText);
  size_t subscriber_count(std::string_view topic) const;
  size_t topic_count() const { return topics_.topic_count(); }

  // History (chapter 21, history.h): every topic whose name starts with
  // `prefix` keeps its last messages, and each publish() on it gets the next
  // offset. Call before run(), or from the loop's thread.
  void keep_history(std::string prefix, HistoryLimits limits = {});
  // The topic's history, created on first use; nullptr if it keeps none.
  // history(t)->next_offset() is the offset the next publish(t) gets: an
  // application that writes the offset into its message asks just before
  // publishing, in the same callback (one thread: nothing comes between).
  TopicHistory* history(std::string_view topic) { return histories_.open(topic); }
  // publish() that the history does not keep: no offset, never replayed
  // (presence, typing indicators: Socket.IO calls these "volatile").
  size_t publish_volatile(std::string_view topic, std::string_view data,
                          MessageType type = MessageType::kText);
  // publish() of a message that carries its own offset: its bytes are
  // `before` + the offset in decimal + `after`. Without a shared history the
  // offset is the local history's next one, returned; with one (Redis) it is
  // given by Redis and the message reaches every subscriber, here too, when
  // it comes back numbered: returns 0. nullopt: not published (Redis down),
  // the caller tells its client. Topics without history get offset 0.
  std::optional<uint64_t> publish_numbered(std::string_view topic, std::string_view before,
                                           std::string_view after,
                                           MessageType type = MessageType::kText);
  // The history shared by every process (chapter 21; the broker sets it).
  // Topics that keep a history (keep_history) then keep it there, not here.
  void set_shared_history(SharedHistory* shared) { shared_history_ = shared; }
  SharedHistory* shared_history() const { return shared_history_; }
  // Messages not queued to a slow subscriber, over the server's life.
  uint64_t dropped_messages() const { return dropped_messages_; }

  // For a broker link (chapter 20): the observer hears the first subscriber
  // and the last unsubscribe of every topic, and every local publish
  // (nullptr: none; not owned). deliver_local() is what the broker calls
  // with a message from elsewhere: local subscribers only, the observer is
  // not told again.
  void set_topic_observer(TopicObserver* observer) { topics_.set_observer(observer); }
  size_t deliver_local(std::string_view topic, std::string_view data, MessageType type);
  const TopicRegistry& topics() const { return topics_; }

  size_t open_count() const { return open_count_; }            // WebSockets OPEN
  size_t connection_count() const { return sockets_.size(); }  // every TCP connection

  //< server.api
 private:
  friend class ClientSocket;
  friend class WebSocket;  // subscribe() reaches topics_
  void on_acceptable(Acceptor& acceptor, const TlsContext* tls);
  void listen_tls();
  void run_posted();
  size_t deliver(std::span<WebSocket* const> sockets, std::string_view data, MessageType type);
  void sweep_deadlines();
  Millis sweep_interval() const;
  void schedule_flush(ClientSocket* socket);
  void flush_pending();
  void destroy(ClientSocket* socket);
  void log(std::string_view line) const;
  const RouteEntry* find_route(std::string_view path) const;
  const HttpRouteEntry* find_http_route(std::string_view path) const;

  class AcceptHandler final : public IoHandler {
   public:
    explicit AcceptHandler(Server& server, bool tls = false) : server_(server), tls_(tls) {}
    void on_io(uint32_t) override {
      if (tls_) return server_.on_acceptable(*server_.tls_acceptor_, server_.tls_context_.get());
      server_.on_acceptable(server_.acceptor_, nullptr);
    }

   private:
    Server& server_;
    bool tls_;  // the TLS listener's handler
  };
  class PostHandler final : public IoHandler {
   public:
    explicit PostHandler(Server& server) : server_(server) {}
    void on_io(uint32_t) override { server_.run_posted(); }

   private:
    Server& server_;
  };

  //> server.members
  ServerConfig config_;
  EventLoop loop_;
  Listener listener_;
  Acceptor acceptor_;
  AcceptHandler accept_handler_{*this};
  // post(): other threads append under the mutex and write the eventfd; the
  // loop reads it and runs the callbacks (server.post).
  Fd post_fd_;                                 // eventfd: readable when posted_ filled
  PostHandler post_handler_{*this};            // reads post_fd_
  std::mutex post_mutex_;                      // guards the two fields below
  std::vector<std::function<void()>> posted_;  // not yet run, in order of post()
  bool post_closed_ = false;                   // shutdown began: post() refuses
  TopicRegistry topics_;                       // who is subscribed to what
  HistoryStore histories_;                     // topics' last messages (keep_history)
  SharedHistory* shared_history_ = nullptr;    // Redis's history, if any (not owned)
  std::vector<uint8_t> frame_;                 // the frame a publish encodes once
  uint64_t dropped_messages_ = 0;              // see dropped_messages()
  std::deque<RouteEntry> routes_;              // a deque: entries never move
  std::deque<HttpRouteEntry> http_routes_;     // plain HTTP endpoints (handle())
  // The loop's zlib state, shared by every connection that negotiated
  // permessage-deflate (null if config_.deflate.enabled is false). Declared
  // before the connections: they give their inflaters back to it.
  std::unique_ptr<DeflateShared> deflate_;
  std::shared_ptr<TlsContext> tls_context_;  // null without TLS
  Listener tls_listener_;                    // wss:// and https://, if configured
  std::unique_ptr<Acceptor> tls_acceptor_;   // its acceptor
  AcceptHandler tls_accept_handler_{*this, true};
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
