// The primer's echo server (section 5), for real: `make run` starts it.
//   /ws    answers each text message m with "Echo: m" (the FastAPI example)
//   /echo  echoes every message unchanged (conformance suites, benchmarks)
//   /broadcast  every message, unchanged, to every socket on /broadcast (fan-out)
//   /      the browser client of the primer's section 6 (examples/web/)
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "openpipe/io/serve.h"
#include "openpipe/io/server.h"

namespace {

//> echo.usage
constexpr const char* kUsage =
    "usage: echo_server [options]\n"
    "  --host ADDR          address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
    "  --port N             port (default 8000; 0 picks a free one)\n"
    "  --trace              print the handshake and every frame, both directions\n"
    "  --max-message BYTES  largest message accepted (default 16777216); larger: close 1009\n"
    "  --web-root DIR       directory served for plain GET requests (default examples/web)\n"
    "  --allow-origin URL   accept WebSockets only from this Origin (repeatable;\n"
    "                       default: any Origin)\n"
    "  --ping-interval SEC  ping quiet clients this often (default 30; 0: never)\n"
    "  --max-connections N  WebSockets open at once (default 10000); beyond: 503\n"
    "  --tls-cert FILE      PEM certificate chain: also serve wss:// and https://\n"
    "  --tls-key FILE       PEM private key of that certificate\n"
    "  --tls-port N         the TLS port (default 8443; 0 picks a free one)\n"
    "  --trusted-proxy ADDR believe X-Forwarded-For from this address (repeatable):\n"
    "                       logs show the real client behind nginx\n"
    "  --quiet              no per-connection log lines\n"
    "  --no-deflate         decline permessage-deflate (RFC 7692; accepted by default)\n"
    "  --deflate-context    keep the compression windows between messages (smaller\n"
    "                       messages, about 300 KiB more per connection: chapter 22)\n"
    "  --deflate-min BYTES  send messages shorter than this uncompressed (default 64)\n"
    "  --workers N          N processes on one port (SO_REUSEPORT; default 1: no fork);\n"
    "                       N > 1 needs --redis so that a publish reaches every worker\n"
    "  --redis ADDR         Redis as the message broker: HOST:PORT or\n"
    "                       redis://[:password@]host:port; /broadcast then reaches\n"
    "                       /broadcast clients on every process and machine\n"
    "  --help               this text\n"
    "endpoints:\n"
    "  /ws                  answers each text message m with \"Echo: m\" (primer section 5)\n"
    "  /echo                echoes every message unchanged, text or binary\n"
    "  /broadcast           every message (text or binary), unchanged, to every socket\n"
    "                       connected to /broadcast, the sender included\n"
    "  /                    the browser page (files from --web-root)\n";
//< echo.usage

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "echo_server: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// A decimal number in [0, max]; anything else ends the program with a usage error.
// (strtoull alone would accept "-1" as the largest number there is.)
unsigned long long parse_number(const char* flag, const char* text, unsigned long long max) {
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] < '0' || text[0] > '9') {
    usage_error(std::string(flag) + ": not a number");
  }
  if (value > max) usage_error(std::string(flag) + ": at most " + std::to_string(max));
  return value;
}

// Upper bounds for the numeric flags: large enough for any real use, small
// enough that no arithmetic on them can overflow.
constexpr unsigned long long kMaxMessageFlag = 1ull << 30;      // 1 GiB
constexpr unsigned long long kMaxPingIntervalFlag = 24 * 3600;  // a day, in seconds
constexpr unsigned long long kMaxConnectionsFlag = 1'000'000;

ws::ServerConfig parse_arguments(int argc, char** argv, ws::ScaleOptions& scale) {
  ws::ServerConfig config;
  config.web_root = OPENPIPE_SOURCE_DIR "/examples/web";
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(std::string(flag) + " needs a value");
      return argv[++i];
    };
    if (std::string error; scale.parse_flag(argc, argv, i, error)) {  // --workers, --redis
      if (!error.empty()) usage_error(error);
    } else if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (flag == "--host") {
      config.host = value();
    } else if (flag == "--port") {
      config.port = static_cast<uint16_t>(parse_number("--port", value(), 65535));
    } else if (flag == "--trace") {
      config.trace = true;
      //> echo.max-message
    } else if (flag == "--max-message") {
      config.limits.max_message_size = parse_number("--max-message", value(), kMaxMessageFlag);
      if (config.limits.max_message_size == 0) usage_error("--max-message: at least 1");
      // Room to queue one whole echo of the largest message, plus slack.
      config.limits.max_output =
          std::max<size_t>(config.limits.max_output, 2 * config.limits.max_message_size + 4096);
      //< echo.max-message
    } else if (flag == "--web-root") {
      config.web_root = value();
    } else if (flag == "--allow-origin") {
      config.allowed_origins.push_back(value());
    } else if (flag == "--ping-interval") {
      config.ping_interval =
          std::chrono::seconds(parse_number("--ping-interval", value(), kMaxPingIntervalFlag));
    } else if (flag == "--max-connections") {
      config.max_connections = parse_number("--max-connections", value(), kMaxConnectionsFlag);
    } else if (flag == "--tls-cert") {
      config.tls_cert = value();
    } else if (flag == "--tls-key") {
      config.tls_key = value();
    } else if (flag == "--tls-port") {
      config.tls_port = static_cast<uint16_t>(parse_number("--tls-port", value(), 65535));
    } else if (flag == "--trusted-proxy") {
      config.trusted_proxies.push_back(value());
    } else if (flag == "--quiet") {
      config.log = nullptr;
    } else if (flag == "--no-deflate") {
      config.deflate.enabled = false;
    } else if (flag == "--deflate-context") {
      config.deflate.server_context_takeover = config.deflate.client_context_takeover = true;
    } else if (flag == "--deflate-min") {
      config.deflate.min_size = parse_number("--deflate-min", value(), kMaxMessageFlag);
    } else {
      usage_error("unknown option " + std::string(flag));
    }
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  ws::ScaleOptions scale;
  ws::ServerConfig config = parse_arguments(argc, argv, scale);
  // One process, or --workers N with --redis: serve() builds the server in
  // each process and calls this to set it up (chapter 20).
  return ws::serve("echo_server", config, scale, [](ws::Server& server) {
    //> echo.routes
    // The primer's FastAPI endpoint: `await ws.send_text(f"Echo: {message}")`.
    ws::Route primer;
    primer.on_message = [](ws::WebSocket& socket, std::string_view data, ws::MessageType type) {
      if (type == ws::MessageType::kText) {
        socket.send_text("Echo: " + std::string(data));
      } else {
        socket.send_binary({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
      }
    };
    server.route("/ws", primer);

    // Every message back unchanged: text as text, binary as binary.
    ws::Route echo;
    echo.on_message = [](ws::WebSocket& socket, std::string_view data, ws::MessageType type) {
      if (type == ws::MessageType::kText) {
        socket.send_text(data);
      } else {
        socket.send_binary({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
      }
    };
    server.route("/echo", echo);

    // Fan-out: one topic, everyone on /broadcast in it, the sender included.
    // With --redis the publish also goes to every other process (chapter 20).
    ws::Route broadcast;
    broadcast.on_open = [](ws::WebSocket& socket) { socket.subscribe("broadcast"); };
    broadcast.on_message = [&server](ws::WebSocket&, std::string_view data, ws::MessageType type) {
      server.publish("broadcast", data, type);  // one frame, encoded once, for everyone
    };
    server.route("/broadcast", broadcast);
    //< echo.routes

    //> echo.main
    // Announce only once the loop runs: by then SIGINT/SIGTERM are handled by
    // the loop (graceful shutdown), so a script that sends SIGTERM as soon as
    // it reads this line gets a clean exit, not a killed process.
    server.after(ws::Millis{0}, [&server] {
      std::printf("openpipe echo server listening on http://%s/\n", server.address().c_str());
      if (server.tls_port() != 0) {
        std::printf("  and with TLS on https://%s/ (wss://)\n", server.tls_address().c_str());
      }
      std::printf(
          "  try: open the page above in a browser, or: build/ws_client --send hello ws://%s/ws\n",
          server.address().c_str());
      std::fflush(stdout);
    });
    //< echo.main
  });
}
