// serve() and the --workers/--redis flags (see include/openpipe/io/serve.h).
#include "openpipe/io/serve.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>

#include "openpipe/io/socket.h"

namespace ws {

bool ScaleOptions::parse_flag(int argc, char** argv, int& i, std::string& error) {
  std::string_view flag = argv[i];
  if (flag != "--workers" && flag != "--redis") return false;
  if (i + 1 >= argc) {
    error = std::string(flag) + " needs a value";
    return true;
  }
  std::string_view value = argv[++i];
  if (flag == "--redis") {
    BrokerConfig probe;
    if (!parse_redis_address(value, probe, error)) error = "--redis: " + error;
    redis = std::string(value);
    return true;
  }
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(argv[i], &end, 10);
  if (errno != 0 || end == argv[i] || *end != '\0' || value[0] < '0' || value[0] > '9' || n == 0 ||
      n > kMaxWorkers) {
    error = "--workers: a number from 1 to " + std::to_string(kMaxWorkers);
    return true;
  }
  workers = static_cast<unsigned>(n);
  return true;
}

//> serve.check
std::string ScaleOptions::check() const {
  // Without a broker, a publish on one worker reaches only that worker's
  // clients: the others would silently miss it. Refuse instead.
  if (workers > 1 && redis.empty()) {
    return "--workers " + std::to_string(workers) +
           " needs --redis HOST:PORT: without a broker, a message published on one worker "
           "would never reach the clients of the others";
  }
  return "";
}
//< serve.check

namespace {

//> serve.one-process
// One process: the server, its broker (if any), the program's setup, run.
int run_one(const std::string& program, ServerConfig config, const ScaleOptions& scale,
            const std::function<void(Server&)>& setup) {
  try {
    Server server(std::move(config));
    std::unique_ptr<Broker> broker;
    if (!scale.redis.empty()) {
      BrokerConfig broker_config;
      std::string error;
      parse_redis_address(scale.redis, broker_config, error);  // checked by parse_flag
      broker_config.log = server.config().log ? server.config().log : ServerConfig::default_log;
      broker = std::make_unique<Broker>(server, std::move(broker_config));
      broker->start();  // never blocks: Redis may come up later
    }
    setup(server);
    server.run();
    std::fprintf(stderr, "%s stopped\n", program.c_str());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: cannot start: %s\n", program.c_str(), error.what());
    return 1;
  }
}
//< serve.one-process

}  // namespace

//> serve.serve
int serve(const std::string& program, ServerConfig config, const ScaleOptions& scale,
          const std::function<void(Server&)>& setup) {
  if (std::string error = scale.check(); !error.empty()) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), error.c_str());
    return 2;
  }
  if (scale.workers == 1) return run_one(program, std::move(config), scale, setup);
  // N workers on one port. The parent binds the port first (SO_REUSEPORT,
  // no listen: it takes no connection), so that "--port 0" means one port
  // for all, and a port in use is reported once, before any fork.
  Listener reserved;
  try {
    ListenOptions options;
    options.reuse_port = true;
    options.listen = false;
    reserved = listen_tcp(config.host, config.port, options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: cannot start: %s\n", program.c_str(), error.what());
    return 1;
  }
  config.port = reserved.port;
  config.reuse_port = true;
  WorkerOptions options;
  options.workers = scale.workers;
  options.name = program;
  return run_workers(options, [&](unsigned) { return run_one(program, config, scale, setup); });
}
//< serve.serve

}  // namespace ws
