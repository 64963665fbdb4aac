// The primer's live dashboard (section 3), for real: every 500 ms this
// machine's CPU, memory and load, and the server's own figures, pushed to
// every browser on port 8002 (primer §8: "server can push"). The page is
// examples/web/dashboard/index.html; the protocol is docs/protocols.md.
//   ws://127.0.0.1:8002/metrics   the samples
//   http://127.0.0.1:8002/        the page
#include <optional>
#include <string>

#include "common/program.h"
#include "dashboard/app.h"
#include "openpipe/io/serve.h"
#include "openpipe/io/server.h"

namespace {

//> dashboard.usage
constexpr const char* kUsage =
    "usage: dashboard_server [options]\n"
    "  --host ADDR          address to listen on (default 127.0.0.1)\n"
    "  --port N             port (default 8002; 0 picks a free one)\n"
    "  --interval MS        milliseconds between two samples (default 500)\n"
    "  --web-root DIR       the page's directory (default examples/web/dashboard)\n"
    "  --quiet              no per-connection log lines\n"
    "  --trace              print the handshake and every frame, both directions\n";
//< dashboard.usage

constexpr app::Program kProgram{"dashboard_server", kUsage};

}  // namespace

int main(int argc, char** argv) {
  ws::ServerConfig config;
  config.port = 8002;
  config.web_root = OPENPIPE_SOURCE_DIR "/examples/web/dashboard";
  config.limits.max_message_size = 1024;  // clients send nothing that matters
  dashboard::Options options;
  ws::ScaleOptions scale;
  app::parse_flags(
      kProgram, argc, argv, config, scale, [&](std::string_view flag, const app::ValueFn& value) {
        if (flag == "--interval") {
          options.interval = ws::Millis(app::parse_number(kProgram, flag, value(), 10, 60000));
        } else if (flag == "--web-root") {
          config.web_root = value();
        } else {
          return false;
        }
        return true;
      });
  // One App per process (serve() calls the setup in each worker); each
  // sends its own samples to its own clients (dashboard/app.h).
  std::optional<dashboard::App> dashboard;
  return ws::serve(kProgram.name, config, scale, [&](ws::Server& server) {
    dashboard.emplace(server, options);
    app::announce(
        server, "dashboard server",
        "try: open the page above, or: build/ws_client ws://" + server.address() + "/metrics");
  });
}
