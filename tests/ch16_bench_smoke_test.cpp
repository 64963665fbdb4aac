// Chapter 16: the benchmark tool itself works. build/bench runs for about a
// second against a real build/echo_server (and build/tcp_echo_server) started
// on a free port, and must report echoes, all of them byte-for-byte correct.
// Nothing here is timed: a slow machine passes; a wrong echo fails.
// Run: make test CH=16   (the programs are built by `make test`)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Where the programs are: $OPENPIPE_BUILD (set by `make test`), else build/.
std::string build_dir() {
  const char* dir = std::getenv("OPENPIPE_BUILD");
  return dir != nullptr && *dir != '\0' ? dir : OPENPIPE_SOURCE_DIR "/build";
}

bool executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// A server started as a child process, stopped (SIGTERM) when the test ends.
class ServerChild {
 public:
  // Runs `argv`, reads its stdout until the "listening on ...:PORT" line.
  explicit ServerChild(std::vector<std::string> argv) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(fds[1], STDERR_FILENO);  // "echo server stopped" too: not on the test's output
      ::close(fds[0]);
      std::vector<char*> args;
      for (std::string& arg : argv) args.push_back(arg.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    output_ = fds[0];
    std::string text;
    char chunk[256];
    while (text.find("listening on") == std::string::npos ||
           text.find('\n', text.find("listening on")) == std::string::npos) {
      ssize_t n = ::read(output_, chunk, sizeof chunk);
      if (n <= 0) return;
      text.append(chunk, static_cast<size_t>(n));
    }
    size_t line_end = text.find('\n', text.find("listening on"));
    size_t colon = text.rfind(':', line_end);
    port_ = std::atoi(text.c_str() + colon + 1);
  }
  ~ServerChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_ >= 0) ::close(output_);
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int output_ = -1;  // kept open: a server writing to a closed pipe would get EPIPE
  int port_ = 0;
};

// Runs build/bench with `arguments`; returns the key=value pairs of its
// "summary:" line (empty if there was none) and its exit status.
struct BenchRun {
  std::map<std::string, std::string> summary;
  std::string output;
  int status = -1;
};

BenchRun run_bench(const std::string& arguments) {
  BenchRun run;
  const std::string command = build_dir() + "/bench " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char line[1024];
  while (std::fgets(line, sizeof line, pipe) != nullptr) run.output += line;
  run.status = ::pclose(pipe);
  size_t at = run.output.find("summary:");
  if (at == std::string::npos) return run;
  std::istringstream fields(run.output.substr(at + 8, run.output.find('\n', at) - at - 8));
  for (std::string field; fields >> field;) {
    size_t eq = field.find('=');
    if (eq != std::string::npos) run.summary[field.substr(0, eq)] = field.substr(eq + 1);
  }
  return run;
}

// The checks every run makes: it finished, echoed something, and every echo matched.
void expect_clean_run(const BenchRun& run) {
  ASSERT_EQ(run.status, 0) << "build/bench failed:\n" << run.output;
  ASSERT_FALSE(run.summary.empty()) << "no summary line:\n" << run.output;
  EXPECT_EQ(run.summary.at("mismatches"), "0")
      << "an echo differed from the message sent: the server (or the generator's check) is "
         "broken\n"
      << run.output;
  EXPECT_GT(std::stoull(run.summary.at("messages")), 0u) << "no echo came back in the window\n"
                                                         << run.output;
}

#define SKIP_UNLESS_BUILT(program)                                                 \
  if (!executable(build_dir() + "/bench") || !executable(build_dir() + program)) { \
    GTEST_SKIP() << build_dir() << "/bench or " << build_dir() << program          \
                 << " is missing: build them with `make programs`";                \
  }

TEST(Ch16_Bench, EchoesTextMessagesWithNoMismatch) {
  SKIP_UNLESS_BUILT("/echo_server");
  ServerChild server(
      {build_dir() + "/echo_server", "--port", "0", "--quiet", "--ping-interval", "0"});
  ASSERT_GT(server.port(), 0) << "echo_server did not print its port";
  BenchRun run = run_bench("--url ws://127.0.0.1:" + std::to_string(server.port()) +
                           "/echo --connections 4 --in-flight 2 --size 20 --warmup 0.2 "
                           "--seconds 1");
  expect_clean_run(run);
}

TEST(Ch16_Bench, EchoesLargeBinaryMessagesWithNoMismatch) {
  // 64 KiB messages span many reads and frames cross every buffer boundary.
  SKIP_UNLESS_BUILT("/echo_server");
  ServerChild server(
      {build_dir() + "/echo_server", "--port", "0", "--quiet", "--ping-interval", "0"});
  ASSERT_GT(server.port(), 0) << "echo_server did not print its port";
  BenchRun run = run_bench("--url ws://127.0.0.1:" + std::to_string(server.port()) +
                           "/echo --connections 2 --in-flight 2 --size 65536 --binary "
                           "--warmup 0.1 --seconds 0.5");
  expect_clean_run(run);
}

TEST(Ch16_Bench, RawModeEchoesThroughTheTcpEchoServer) {
  SKIP_UNLESS_BUILT("/tcp_echo_server");
  ServerChild server({build_dir() + "/tcp_echo_server", "--port", "0"});
  ASSERT_GT(server.port(), 0) << "tcp_echo_server did not print its port";
  BenchRun run = run_bench("--raw --url ws://127.0.0.1:" + std::to_string(server.port()) +
                           "/ --connections 4 --in-flight 2 --size 1000 --warmup 0.1 "
                           "--seconds 0.5");
  expect_clean_run(run);
}

}  // namespace
