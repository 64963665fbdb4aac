// Chapter 00 — why a pipe that stays open: build/polling_demo delivers one
// stream of events three ways (short polling, long polling, WebSocket push)
// and reports what each cost. These tests run it for a few seconds and check
// the shape of what it reports: every way delivers every event, in order; the
// push moves fewer bytes per event than short polling; the first poll is a
// "No". Never how fast: the machine may be slow, the shape must hold anyway.
// Run: make test CH=00   (builds build/polling_demo)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Where the programs are: $OPENPIPE_BUILD (set by `make test`), else build/.
std::string build_dir() {
  const char* env = std::getenv("OPENPIPE_BUILD");
  std::string dir = (env && *env) ? env : "build";
  if (dir.front() != '/') dir = std::string(OPENPIPE_SOURCE_DIR) + "/" + dir;
  return dir;
}

// One run of build/polling_demo: its output, exit status and summary line.
struct DemoRun {
  std::string output;
  int status = -1;
  std::map<std::string, std::string> summary;  // "push_delivered" -> "31"
  std::string results;                         // the --results file

  uint64_t number(const std::string& key) const {
    auto it = summary.find(key);
    return it == summary.end() ? 0 : std::stoull(it->second);
  }
  double real(const std::string& key) const {
    auto it = summary.find(key);
    return it == summary.end() ? 0 : std::stod(it->second);
  }
};

// Runs the demo with `args`, reading its output until it exits. A run that
// outlives a generous deadline is killed (SIGKILL), so a hang fails the test
// instead of stalling the suite; the child never outlives the test.
DemoRun run_demo(std::vector<std::string> args) {
  DemoRun run;
  std::string path = build_dir() + "/polling_demo";
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return run;
  std::vector<char*> argv{path.data()};
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  auto deadline = Clock::now() + std::chrono::seconds(90);
  char chunk[4096];
  while (Clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;
    run.output.append(chunk, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (::waitpid(pid, &run.status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &run.status, 0);
    run.output += "\n(killed: still running after 90 s)";
  }
  size_t at = run.output.find("summary:");
  if (at != std::string::npos) {
    std::istringstream fields(run.output.substr(at + 8, run.output.find('\n', at) - at - 8));
    for (std::string field; fields >> field;) {
      size_t eq = field.find('=');
      if (eq != std::string::npos) run.summary[field.substr(0, eq)] = field.substr(eq + 1);
    }
  }
  return run;
}

// One short run shared by every test: 3 s of events at 10 per second, and
// an idle WebSocket pinged for 1 s, with the results file and the exchange.
class Ch00_PollingDemo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir =
        std::filesystem::temp_directory_path() / ("openpipe-ch00-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string results = (dir / "polling-results.md").string();
    run_ = new DemoRun(run_demo({"--seconds", "3", "--rate", "10", "--seed", "7", "--idle-seconds",
                                 "1", "--show-exchange", "--results", results}));
    std::ifstream file(results);
    std::stringstream text;
    text << file.rdbuf();
    run_->results = text.str();
    std::filesystem::remove_all(dir);
  }
  static void TearDownTestSuite() {
    delete run_;
    run_ = nullptr;
  }
  void SetUp() override {
    if (::access((build_dir() + "/polling_demo").c_str(), X_OK) != 0) {
      GTEST_SKIP() << build_dir() << "/polling_demo is missing: build it with `make programs`";
    }
    ASSERT_FALSE(run_->summary.empty()) << "the demo printed no summary line:\n" << run_->output;
  }
  static DemoRun* run_;
};
DemoRun* Ch00_PollingDemo::run_ = nullptr;

TEST_F(Ch00_PollingDemo, EveryWayDeliversEveryEventInOrder) {
  uint64_t events = run_->number("events");
  ASSERT_GT(events, 0u) << "the seeded stream has no event in 3 s:\n" << run_->output;
  // Each client checks that event n+1 follows event n (none lost, none twice)
  // and stops at the first that does not; so "delivered" counts in-order events.
  EXPECT_EQ(run_->number("short_delivered"), events)
      << "short polling lost events: each poll asks for every event after the last it saw\n"
      << run_->output;
  EXPECT_EQ(run_->number("long_delivered"), events)
      << "long polling lost events: a held request must be answered by the next event\n"
      << run_->output;
  EXPECT_EQ(run_->number("push_delivered"), events)
      << "the WebSocket lost events: the stream starts only once it is open\n"
      << run_->output;
  EXPECT_EQ(run_->status, 0) << "the demo exits 0 when every way delivered everything\n"
                             << run_->output;
}

TEST_F(Ch00_PollingDemo, PushMovesFewerBytesPerEventThanShortPolling) {
  // Every poll is a whole HTTP request and answer, "No" included; a pushed
  // event is one frame with a 2-byte header (RFC 6455 §5.2), plus one
  // handshake for the whole run.
  double push = run_->real("push_bytes_per_event");
  double polling = run_->real("short_bytes_per_event");
  EXPECT_GT(push, 0) << "no bytes counted for the WebSocket (TCP_INFO)\n" << run_->output;
  EXPECT_LT(push, polling) << "primer §2: pushing should cost less than asking\n" << run_->output;
}

TEST_F(Ch00_PollingDemo, RequestsFollowEachWay) {
  uint64_t events = run_->number("events");
  EXPECT_EQ(run_->number("push_requests"), 1u)
      << "a WebSocket makes one HTTP request, the upgrade (RFC 6455 §4.1)\n"
      << run_->output;
  EXPECT_GE(run_->number("short_empty"), 1u)
      << "the first short poll comes before any event: its answer is the primer's \"No\"\n"
      << run_->output;
  EXPECT_GE(run_->number("long_requests"), 1u) << run_->output;
  EXPECT_LE(run_->number("long_requests"), events + 1)
      << "long polling asks once per answer: never more often than there are events\n"
      << run_->output;
  EXPECT_EQ(run_->number("long_empty"), 0u)
      << "a held long poll is answered by an event, not by its 20 s timeout, in a 3 s run\n"
      << run_->output;
}

TEST_F(Ch00_PollingDemo, IdleWebSocketCostsAPingAndAPong) {
  uint64_t pings = run_->number("idle_pings");
  ASSERT_GE(pings, 1u) << "the idle phase saw no ping (ServerConfig::ping_interval)\n"
                       << run_->output;
  // RFC 6455 §5.5.2-5.5.3: an empty ping from the server is 2 bytes (no
  // mask); the client's pong echoes the empty payload, masked (§5.3): 6 bytes.
  EXPECT_EQ(run_->number("idle_bytes"), 8 * pings)
      << "each idle ping costs 2 + 6 bytes of payload, nothing else is sent\n"
      << run_->output;
}

TEST_F(Ch00_PollingDemo, ShowsTheEmptyExchangeAndWritesTheResultsFile) {
  EXPECT_NE(run_->output.find("GET /poll?after=0 HTTP/1.1\\r\\n"), std::string::npos)
      << "--show-exchange prints the first poll's request, \\r\\n visible\n"
      << run_->output;
  EXPECT_NE(run_->output.find("HTTP/1.1 204 No Content\\r\\n"), std::string::npos)
      << "the primer's \"No\" is a 204 No Content\n"
      << run_->output;
  EXPECT_NE(run_->output.find("\n81 "), std::string::npos)
      << "the pushed event is shown as a frame: 0x81 is FIN + text (RFC 6455 §5.2)\n"
      << run_->output;
  const std::string& results = run_->results;
  ASSERT_FALSE(results.empty()) << "--results wrote nothing";
  for (const char* part : {"Machine: ", "| HTTP short polling", "| HTTP long polling",
                           "| WebSocket push", "One empty poll", "Break-even"}) {
    EXPECT_NE(results.find(part), std::string::npos)
        << "the results file lacks \"" << part << "\":\n"
        << results;
  }
}

}  // namespace
