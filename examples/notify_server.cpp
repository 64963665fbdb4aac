// The primer's notifications (section 3), fed by a webhook (section 9): a
// signed POST /notify/<topic> reaches every browser subscribed to <topic>,
// on port 8003. The page is examples/web/notify/index.html; the protocol is
// docs/protocols.md; the signature check is examples/notify/signature.h.
//   ws://127.0.0.1:8003/subscribe?topic=deploys   a subscriber
//   POST http://127.0.0.1:8003/notify/deploys      a publisher (X-Signature-256)
//   http://127.0.0.1:8003/                         the page
#include <cstdlib>
#include <optional>
#include <string>

#include "common/program.h"
#include "notify/app.h"
#include "openpipe/io/serve.h"
#include "openpipe/io/server.h"

namespace {

//> notify.usage
constexpr const char* kUsage =
    "usage: notify_server --secret KEY [options]\n"
    "  --secret KEY         the HMAC-SHA256 key POSTs are signed with (required;\n"
    "                       or the environment variable NOTIFY_SECRET)\n"
    "  --host ADDR          address to listen on (default 127.0.0.1)\n"
    "  --port N             port (default 8003; 0 picks a free one)\n"
    "  --web-root DIR       the page's directory (default examples/web/notify)\n"
    "  --quiet              no per-connection log lines\n"
    "  --trace              print the handshake and every frame, both directions\n";
constexpr const char* kNotes =
    "publish: curl -d BODY -H \"X-Signature-256: sha256=$(printf %s BODY | openssl dgst\n"
    "         -sha256 -hmac KEY -r | cut -d' ' -f1)\" http://127.0.0.1:8003/notify/TOPIC\n";
//< notify.usage

constexpr app::Program kProgram{"notify_server", kUsage, kNotes};

}  // namespace

int main(int argc, char** argv) {
  ws::ServerConfig config;
  config.port = 8003;
  config.web_root = OPENPIPE_SOURCE_DIR "/examples/web/notify";
  config.limits.max_message_size = 1024;  // subscribers send nothing that matters
  std::string secret;
  if (const char* env = std::getenv("NOTIFY_SECRET")) secret = env;
  ws::ScaleOptions scale;
  app::parse_flags(kProgram, argc, argv, config, scale,
                   [&](std::string_view flag, const app::ValueFn& value) {
                     if (flag == "--secret") {
                       secret = value();
                     } else if (flag == "--web-root") {
                       config.web_root = value();
                     } else {
                       return false;
                     }
                     return true;
                   });
  if (secret.empty()) app::usage_error(kProgram, "a --secret is required (or NOTIFY_SECRET)");
  // One App per process (serve() calls the setup in each worker). A POST
  // taken by any process is a publish: with --redis it reaches the
  // subscribers of every process (notify/app.h).
  std::optional<notify::App> notify;
  return ws::serve(kProgram.name, config, scale, [&](ws::Server& server) {
    notify.emplace(server, secret);
    app::announce(server, "notify server",
                  "try: open http://" + server.address() + "/?topic=deploys, then POST to " +
                      "http://" + server.address() + "/notify/deploys (see --help)");
  });
}
