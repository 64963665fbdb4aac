// ws_client: a command-line WebSocket client on openpipe's Client (chapter 14).
//
//   build/ws_client                               interactive, ws://127.0.0.1:8000/ws
//   build/ws_client --send "Hello WebSocket"      send one message, print the reply
//   build/ws_client --reconnect ws://[::1]:8000/ws
//
// Interactive mode works like wscat: each line typed is sent as a message,
// each message received is printed as "< message" (binary as hex); status
// lines go to stderr. End of input (Ctrl-D) closes with 1000 and exits 0.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "openpipe/io/client.h"

namespace {

using namespace std::chrono_literals;

constexpr const char* kDefaultUrl = "ws://127.0.0.1:8000/ws";
// --reconnect: attempts per connection, and the backoff between them.
constexpr int kReconnectAttempts = 10;
constexpr ws::Duration kBackoffInitial = 250ms;
constexpr ws::Duration kBackoffCap = 8000ms;
// A line typed in interactive mode is at most this long (the rest is cut).
constexpr size_t kMaxLine = 1 << 20;

constexpr const char* kUsage =
    "usage: ws_client [options] [URL]\n"
    "\n"
    "A WebSocket client (RFC 6455). URL defaults to ws://127.0.0.1:8000/ws.\n"
    "Without --send it is interactive: every line typed is sent as a message,\n"
    "every message received is printed as \"< message\" (binary as hex).\n"
    "Lines \"/ping [text]\" and \"/close [code [reason]]\" send a ping or a close.\n"
    "End of input (Ctrl-D) closes the connection with 1000 and exits.\n"
    "\n"
    "options:\n"
    "  --send MSG         send MSG, print the reply on stdout, close, exit\n"
    "  --count N          with --send: send MSG N times, printing each reply;\n"
    "                     interactive: close after N messages received, and at\n"
    "                     the end of input wait for them first\n"
    "  --timeout SEC      connect and reply timeout in seconds (default 5)\n"
    "  --reconnect        retry failed connects, and reconnect when the server\n"
    "                     goes away, with exponential backoff and jitter\n"
    "  --binary           send binary messages instead of text\n"
    "  --subprotocol P    offer subprotocol P (may be repeated)\n"
    "  --deflate          offer permessage-deflate (RFC 7692); stderr says\n"
    "                     whether the server accepted it\n"
    "  --ca FILE          wss://: trust the CAs in this PEM file instead of the\n"
    "                     system's (a private or development CA)\n"
    "  --insecure         wss://: accept ANY certificate (no protection against\n"
    "                     an attacker in the middle; a warning on every run)\n"
    "  --help             this text\n"
    "\n"
    "exit status: 0 success, 1 connection or protocol failure, 2 bad usage\n";

struct Options {
  std::string url = kDefaultUrl;
  std::optional<std::string> send;        // --send MSG: one-shot mode
  int count = 0;                          // 0: the default for the mode
  ws::Duration timeout = 5000ms;          // connect and wait-for-reply
  bool reconnect = false;                 // --reconnect
  bool binary = false;                    // --binary
  bool deflate = false;                   // --deflate
  std::vector<std::string> subprotocols;  // --subprotocol, repeated
  std::string ca_file;                    // --ca FILE
  bool insecure = false;                  // --insecure
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "ws_client: " << message << "\n(try --help)\n";
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--send") {
      options.send = value();
    } else if (arg == "--count") {
      std::string text = value();
      char* end = nullptr;
      long n = std::strtol(text.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 1000000) usage_error("--count takes 1 to 1000000");
      options.count = static_cast<int>(n);
    } else if (arg == "--timeout") {
      std::string text = value();
      char* end = nullptr;
      double seconds = std::strtod(text.c_str(), &end);
      if (*end != '\0' || !(seconds > 0) || seconds > 86400) {
        usage_error("--timeout takes seconds, more than 0 and at most 86400");
      }
      options.timeout = ws::Duration(static_cast<int64_t>(seconds * 1000 + 0.5));
    } else if (arg == "--reconnect") {
      options.reconnect = true;
    } else if (arg == "--binary") {
      options.binary = true;
    } else if (arg == "--deflate") {
      options.deflate = true;
    } else if (arg == "--subprotocol") {
      options.subprotocols.push_back(value());
    } else if (arg == "--ca") {
      options.ca_file = value();
    } else if (arg == "--insecure") {
      options.insecure = true;
    } else if (!arg.empty() && arg[0] == '-') {
      usage_error("unknown option " + arg);
    } else if (have_url) {
      usage_error("only one URL, please");
    } else {
      options.url = arg;
      have_url = true;
    }
  }
  return options;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A message's payload as printed: text as it is, binary as hex.
std::string printable(const ws::ClientEvent& event) {
  return event.type == ws::ClientEventType::kBinary ? hex(event.data) : event.data;
}

ws::ClientStatus send_message(ws::Client& client, const Options& options, std::string_view text) {
  return options.binary ? client.send_binary(as_bytes(text)) : client.send_text(text);
}

//> ws-client.connect
// Connects once, or with --reconnect up to kReconnectAttempts times with
// backoff and jitter between attempts, saying so on stderr.
ws::ClientStatus connect(ws::Client& client, const ws::Url& url, const Options& options,
                         ws::Backoff& backoff) {
  if (!options.reconnect) return client.connect(url, options.timeout);
  auto wait = [](ws::Duration delay, const std::string& why) {
    std::cerr << "(" << why << "; retrying in " << delay.count() << " ms)\n";
    ws::sleep_between_attempts(delay, why);
  };
  return ws::connect_with_retry(client, url, kReconnectAttempts, options.timeout, backoff, wait);
}
//< ws-client.connect

//> ws-client.reconnect
// RFC 6455 §7.2.3: after an abnormal closure, "The first reconnect attempt
// SHOULD be delayed by a random amount of time", and later ones by longer
// and longer amounts: the backoff gives both.
ws::ClientStatus reconnect(ws::Client& client, const ws::Url& url, const Options& options,
                           ws::Backoff& backoff) {
  ws::Duration delay = backoff.next_delay();
  std::cerr << "(reconnecting in " << delay.count() << " ms)\n";
  ws::sleep_between_attempts(delay, "reconnect");
  return connect(client, url, options, backoff);
}
//< ws-client.reconnect

// ---- one-shot: --send ---------------------------------------------------------------

// Waits for the next message, skipping pings and pongs. False (with a
// message on stderr) on a close, an error or the timeout.
bool print_reply(ws::Client& client, const Options& options) {
  for (;;) {
    ws::ClientEvent event = client.receive(options.timeout);
    switch (event.type) {
      case ws::ClientEventType::kText:
      case ws::ClientEventType::kBinary: std::cout << printable(event) << std::endl; return true;
      case ws::ClientEventType::kPing:
      case ws::ClientEventType::kPong: continue;  // the pong to a ping was sent by the Client
      case ws::ClientEventType::kClose:
        std::cerr << "ws_client: the server closed the connection before replying: " << event.code
                  << " \"" << event.data << "\"\n";
        return false;
      case ws::ClientEventType::kError:
        std::cerr << "ws_client: " << event.data << "\n";
        continue;  // a close event follows
      case ws::ClientEventType::kTimeout:
        std::cerr << "ws_client: no reply within " << options.timeout.count() << " ms\n";
        return false;
    }
  }
}

int run_send(ws::Client& client, const Options& options) {
  int count = options.count > 0 ? options.count : 1;
  for (int i = 0; i < count; ++i) {
    ws::ClientStatus sent = send_message(client, options, *options.send);
    if (!sent.ok()) {
      std::cerr << "ws_client: " << sent.error << "\n";
      return 1;
    }
    if (!print_reply(client, options)) {
      client.close();
      return 1;
    }
  }
  ws::ClientStatus closed = client.close(ws::kCloseNormal);
  if (!closed.ok()) {
    std::cerr << "ws_client: " << closed.error << "\n";
    return 1;
  }
  return 0;
}

// ---- interactive ----------------------------------------------------------------------

// Lines from standard input, read with read(2) so that poll(2) tells the
// truth about what is waiting (std::getline would buffer behind its back).
class LineReader {
 public:
  // Reads what is there. False at end of input; complete lines go to `lines`.
  bool read(std::vector<std::string>& lines) {
    char chunk[4096];
    ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
      if (!partial_.empty()) lines.push_back(std::move(partial_));  // a last line with no \n
      partial_.clear();
      return false;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (chunk[i] == '\n') {
        if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
        lines.push_back(std::move(partial_));
        partial_.clear();
      } else if (partial_.size() < kMaxLine) {
        partial_ += chunk[i];
      }
    }
    return true;
  }

 private:
  std::string partial_;  // a line not finished yet
};

// What the interactive loop does next.
enum class Next {
  kContinue,   // keep going
  kClose,      // close with 1000 and exit: end of input, or --count reached
  kTimedOut,   // input ended and the replies --count asked for did not come
  kExit0,      // the connection is over: exit 0
  kExit1,      // the connection is over: exit 1
  kReconnect,  // the server went away and --reconnect is on
};

// Prints one event; says whether to go on.
Next show(const ws::ClientEvent& event, const Options& options, int& received) {
  switch (event.type) {
    case ws::ClientEventType::kText:
    case ws::ClientEventType::kBinary:
      std::cout << "< " << printable(event) << std::endl;
      ++received;
      return options.count > 0 && received >= options.count ? Next::kClose : Next::kContinue;
    case ws::ClientEventType::kPing:
      std::cerr << "(ping \"" << event.data << "\", pong sent)\n";
      return Next::kContinue;
    case ws::ClientEventType::kPong:
      std::cerr << "(pong \"" << event.data << "\")\n";
      return Next::kContinue;
    case ws::ClientEventType::kError:
      std::cerr << "error: " << event.data << "\n";
      return Next::kContinue;
    case ws::ClientEventType::kClose:
      std::cerr << "closed " << event.code << " \"" << event.data << "\"\n";
      // 1000: the server meant to end the conversation; anything else
      // (1001 going away, 1006 dropped...) is worth another try.
      if (options.reconnect && event.code != ws::kCloseNormal) return Next::kReconnect;
      return event.code == ws::kCloseNormal || event.code == ws::kCloseGoingAway ? Next::kExit0
                                                                                 : Next::kExit1;
    case ws::ClientEventType::kTimeout: return Next::kContinue;
  }
  return Next::kContinue;
}

// Closes with `code` and prints what was still queued (replies that came
// before the server's close frame, then the close itself).
int close_and_drain(ws::Client& client, uint16_t code, std::string_view reason,
                    const Options& options, int& received) {
  ws::ClientStatus closed = client.close(code, reason);
  Options no_reconnect = options;
  no_reconnect.reconnect = false;
  no_reconnect.count = 0;
  while (client.has_event()) show(client.receive(0ms), no_reconnect, received);
  if (!closed.ok()) {
    std::cerr << "ws_client: " << closed.error << "\n";
    return 1;
  }
  return 0;
}

// "/ping [text]", "/close [code [reason]]", or a message to send.
Next handle_line(ws::Client& client, const std::string& line, const Options& options, int& received,
                 int& exit_code) {
  ws::ClientStatus status;
  if (line == "/ping" || line.rfind("/ping ", 0) == 0) {
    status = client.ping(as_bytes(line.size() > 6 ? std::string_view(line).substr(6) : ""));
  } else if (line == "/close" || line.rfind("/close ", 0) == 0) {
    std::string args = line.size() > 7 ? line.substr(7) : "";
    int number = args.empty() ? ws::kCloseNormal : std::atoi(args.c_str());
    if (number < 0 || number > 65535 || !ws::is_valid_close_code(static_cast<uint16_t>(number))) {
      std::cerr << "error: " << number << " may not be sent (RFC 6455 §7.4)\n";
      return Next::kContinue;
    }
    auto code = static_cast<uint16_t>(number);
    size_t space = args.find(' ');
    std::string reason = space == std::string::npos ? "" : args.substr(space + 1);
    exit_code = close_and_drain(client, code, reason, options, received);
    return exit_code == 0 ? Next::kExit0 : Next::kExit1;
  } else {
    status = send_message(client, options, line);
  }
  if (!status.ok()) std::cerr << "error: " << status.error << "\n";
  return Next::kContinue;
}

// Sends the lines waiting on standard input. `input_open` becomes false at
// its end.
Next serve_input(ws::Client& client, LineReader& input, bool& input_open, const Options& options,
                 int& received, int& exit_code) {
  std::vector<std::string> lines;
  input_open = input.read(lines);
  Next next = Next::kContinue;
  for (const std::string& line : lines) {
    if (next == Next::kContinue) next = handle_line(client, line, options, received, exit_code);
  }
  return next;
}

//> ws-client.interactive
// poll(2) on the socket and standard input together: whichever is ready
// first is served, so typing and receiving never wait for each other.
Next step(ws::Client& client, LineReader& input, bool& input_open, const Options& options,
          int& received, int& exit_code) {
  while (client.has_event()) {  // already queued: no need to wait
    Next next = show(client.receive(0ms), options, received);
    if (next != Next::kContinue) return next;
  }
  // End of input: close now, unless --count says more replies are due.
  if (!input_open && !(options.count > 0 && received < options.count)) return Next::kClose;
  // poll() skips negative descriptors: a closed input is simply not watched.
  pollfd fds[2] = {{client.fd(), POLLIN, 0}, {input_open ? STDIN_FILENO : -1, POLLIN, 0}};
  int ready = ::poll(fds, 2, input_open ? -1 : static_cast<int>(options.timeout.count()));
  if (ready == 0) return Next::kTimedOut;
  if (fds[0].revents != 0) {
    Next next = show(client.receive(0ms), options, received);
    if (next != Next::kContinue) return next;
  }
  if (fds[1].revents != 0)
    return serve_input(client, input, input_open, options, received, exit_code);
  return Next::kContinue;
}
//< ws-client.interactive

int run_interactive(ws::Client& client, const ws::Url& url, const Options& options,
                    ws::Backoff& backoff) {
  LineReader input;
  bool input_open = true;
  int received = 0;
  int exit_code = 0;
  for (;;) {
    switch (step(client, input, input_open, options, received, exit_code)) {
      case Next::kContinue: break;
      case Next::kClose: return close_and_drain(client, ws::kCloseNormal, {}, options, received);
      case Next::kTimedOut:
        std::cerr << "ws_client: " << options.count - received << " replies missing after "
                  << options.timeout.count() << " ms\n";
        close_and_drain(client, ws::kCloseNormal, {}, options, received);
        return 1;
      case Next::kExit0: return exit_code;
      case Next::kExit1: return 1;
      case Next::kReconnect:
        if (ws::ClientStatus status = reconnect(client, url, options, backoff); !status.ok()) {
          std::cerr << "ws_client: " << status.error << "\n";
          return 1;
        }
        std::cerr << "reconnected to " << url.to_string() << "\n";
        break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  ws::UrlResult parsed = ws::parse_url(options.url);
  if (!parsed.ok()) usage_error(parsed.error);

  ws::ClientConfig config;
  config.subprotocols = options.subprotocols;
  config.deflate.enabled = options.deflate;
  //> ws-client.tls
  config.tls.ca_file = options.ca_file;
  config.tls.verify = !options.insecure;
  if (options.insecure) {
    // Every run, not once: a flag left in a script must keep saying so.
    std::cerr << "ws_client: WARNING: --insecure: the server's certificate is NOT checked; "
                 "anyone on the path can read and change this connection\n";
  }
  //< ws-client.tls
  ws::Client client(config);
  ws::Backoff backoff(kBackoffInitial, kBackoffCap);
  ws::ClientStatus status = connect(client, parsed.url, options, backoff);
  if (!status.ok()) {
    std::cerr << "ws_client: " << parsed.url.to_string() << ": " << status.error << "\n";
    return 1;
  }
  if (options.deflate) {
    const ws::DeflateParams* agreed = client.deflate();
    std::cerr << (agreed == nullptr ? "(permessage-deflate: declined by the server)\n"
                                    : "(permessage-deflate: accepted)\n");
  }
  if (options.send) return run_send(client, options);

  std::cerr << "connected to " << parsed.url.to_string();
  if (!client.subprotocol().empty()) std::cerr << ", subprotocol " << client.subprotocol();
  std::cerr << " (Ctrl-D to close)\n";
  return run_interactive(client, parsed.url, options, backoff);
}
