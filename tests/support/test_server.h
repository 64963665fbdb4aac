// Runs a real ws::Server on an ephemeral loopback port in a background thread,
// for integration tests. The default routes are the echo server's: /ws answers
// "Echo: m", /echo echoes unchanged. Header-only; namespace ws::test.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "openpipe/io/server.h"
#include "test_tls.h"

namespace ws::test {

inline void add_echo_routes(Server& server) {
  Route primer;
  primer.on_message = [](WebSocket& socket, std::string_view data, MessageType) {
    socket.send_text("Echo: " + std::string(data));
  };
  server.route("/ws", primer);
  Route echo;
  echo.on_message = [](WebSocket& socket, std::string_view data, MessageType type) {
    if (type == MessageType::kText) {
      socket.send_text(data);
    } else {
      socket.send_binary({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
    }
  };
  server.route("/echo", echo);
}

// Test defaults: quiet, and short deadlines so a test never waits long.
inline ServerConfig test_config() {
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.log = nullptr;
  config.shutdown_timeout = Millis{500};
  config.close_timeout = Millis{1000};
  config.web_root = OPENPIPE_SOURCE_DIR "/examples/web";
  if (tls_mode()) {  // OPENPIPE_TEST_TLS=1: the same tests over TLS (chapter 23)
    config.tls_cert = process_server_cert().cert;
    config.tls_key = process_server_cert().key;
    config.tls_port = 0;
  }
  return config;
}

class TestServer {
 public:
  explicit TestServer(ServerConfig config = test_config(),
                      const std::function<void(Server&)>& setup = add_echo_routes)
      : server_(std::make_unique<Server>(std::move(config))) {
    setup(*server_);
    thread_ = std::thread([this] { server_->run(); });
  }
  ~TestServer() { stop(); }

  // Graceful shutdown, then joins the server's thread.
  void stop() {
    if (!thread_.joinable()) return;
    server_->request_shutdown();
    thread_.join();
  }
  bool running() const { return thread_.joinable(); }
  // The port the tests' clients use: the TLS one with OPENPIPE_TEST_TLS=1.
  uint16_t port() const { return tls_mode() ? server_->tls_port() : server_->port(); }
  Server& server() { return *server_; }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace ws::test
