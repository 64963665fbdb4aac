// The primer's chat (section 3), for real: rooms, names, presence, history
// and a rate limit, on port 8001. The page is examples/web/chat/index.html;
// the protocol is docs/protocols.md; the rules are examples/chat/*.h.
//   ws://127.0.0.1:8001/chat?room=lobby&name=ada   the chat
//   http://127.0.0.1:8001/                          the page
#include <optional>
#include <string>

#include "chat/app.h"
#include "common/program.h"
#include "openpipe/io/serve.h"
#include "openpipe/io/server.h"

namespace {

//> chat.usage
constexpr const char* kUsage =
    "usage: chat_server [options]\n"
    "  --host ADDR          address to listen on (default 127.0.0.1)\n"
    "  --port N             port (default 8001; 0 picks a free one)\n"
    "  --burst N            messages a client may send at once (default 10)\n"
    "  --rate N             then this many messages per second (default 2)\n"
    "  --web-root DIR       the page's directory (default examples/web/chat)\n"
    "  --quiet              no per-connection log lines\n"
    "  --trace              print the handshake and every frame, both directions\n";
//< chat.usage

constexpr app::Program kProgram{"chat_server", kUsage};

}  // namespace

int main(int argc, char** argv) {
  ws::ServerConfig config;
  config.port = 8001;
  config.web_root = OPENPIPE_SOURCE_DIR "/examples/web/chat";
  // Room for a 4 KiB text even if every byte is escaped in JSON ("\u0001"
  // is 6 bytes); a larger message is no chat message: close 1009.
  config.limits.max_message_size = 6 * chat::kMaxTextBytes + 1024;
  chat::Options options;
  ws::ScaleOptions scale;
  app::parse_flags(
      kProgram, argc, argv, config, scale, [&](std::string_view flag, const app::ValueFn& value) {
        if (flag == "--burst") {
          options.burst = static_cast<double>(app::parse_number(kProgram, flag, value(), 1, 10000));
        } else if (flag == "--rate") {
          options.per_second =
              static_cast<double>(app::parse_number(kProgram, flag, value(), 1, 10000));
        } else if (flag == "--web-root") {
          config.web_root = value();
        } else {
          return false;
        }
        return true;
      });
  //> chat.serve
  // With --redis, other processes serve the same rooms: joins, leaves and
  // messages travel through Redis (they are publishes), but who is in a
  // room and its history stay this process's own, and the welcome says so.
  options.scope = scale.redis.empty() ? chat::Scope::kEverything : chat::Scope::kThisProcess;
  // serve() calls the setup once in each process (after the fork, with
  // --workers): each has its own App, as it has its own Server. The App is
  // destroyed after the Server; its destructor touches nothing of it.
  std::optional<chat::App> chat;
  return ws::serve(kProgram.name, config, scale, [&](ws::Server& server) {
    chat.emplace(server, options);
    app::announce(server, "chat server",
                  "try: open the page above in two browser tabs, or: build/ws_client "
                  "'ws://" +
                      server.address() + "/chat?room=lobby&name=ada'");
  });
  //< chat.serve
}
