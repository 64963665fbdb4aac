// Chapter 18 — the dashboard server, with real clients: the application
// (examples/dashboard/app.h) on a real ws::Server in a thread, read over
// loopback with the C++ client (chapter 14), including a client that stops
// reading (latest value wins); then the program, build/dashboard_server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/program.h"
#include "dashboard/app.h"
#include "openpipe/io/client.h"
#include "support/json_client.h"
#include "support/on_loop.h"
#include "support/program.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::json;
using test::next_json;
using test::next_of_type;

// A dashboard in a thread, sampling every `interval`.
class DashboardServer {
 public:
  explicit DashboardServer(Millis interval = Millis{500})
      : server_(test::test_config(), [this, interval](Server& server) {
          app_ = std::make_unique<dashboard::App>(server, dashboard::Options{interval});
        }) {}
  uint16_t port() const { return server_.port(); }
  Server& server() { return server_.server(); }

 private:
  std::unique_ptr<dashboard::App> app_;  // declared first: outlives the server's thread
  test::TestServer server_;
};

std::unique_ptr<Client> watch(uint16_t port) {
  auto client = std::make_unique<Client>();
  ClientStatus status = client->connect(test::local_url(port, "/metrics"), 10s);
  EXPECT_TRUE(status.ok()) << status.error;
  return status.ok() ? std::move(client) : nullptr;
}

TEST(Ch18_DashboardServer, SamplesCarryEveryDocumentedField) {
  DashboardServer server(Millis{50});
  auto client = watch(server.port());
  ASSERT_TRUE(client);
  std::optional<json> sample = next_of_type(*client, "sample");
  ASSERT_TRUE(sample) << "a sample every interval";
  for (const char* field : {"ts", "cpu", "mem_used", "mem_total", "load1", "connections",
                            "messages_per_s", "bytes_out_per_s"}) {
    EXPECT_TRUE(sample->contains(field) && (*sample)[field].is_number())
        << "docs/protocols.md: a sample has the number " << field << "; got " << sample->dump();
  }
  EXPECT_GE((*sample)["cpu"].get<double>(), 0.0);
  EXPECT_LE((*sample)["cpu"].get<double>(), 1.0) << "cpu is a share, 0..1";
  EXPECT_GT((*sample)["mem_total"].get<uint64_t>(), 0u);
  EXPECT_LE((*sample)["mem_used"], (*sample)["mem_total"]);
  EXPECT_GE((*sample)["connections"].get<uint64_t>(), 1u) << "this client is connected";
}

TEST(Ch18_DashboardServer, SamplesKeepComingInOrder) {
  DashboardServer server(Millis{50});
  auto client = watch(server.port());
  ASSERT_TRUE(client);
  int64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    std::optional<json> sample = next_of_type(*client, "sample");
    ASSERT_TRUE(sample) << "sample " << i;
    EXPECT_GT((*sample)["ts"].get<int64_t>(), last) << "each sample is newer than the last";
    last = (*sample)["ts"];
  }
}

TEST(Ch18_DashboardServer, TheServersOwnFiguresCountTheClientsAndWhatItSent) {
  DashboardServer server(Millis{50});
  auto a = watch(server.port());
  auto b = watch(server.port());
  ASSERT_TRUE(a && b);
  // Two samples in, the previous interval had both clients: messages were sent.
  std::optional<json> sample;
  for (int i = 0; i < 3; ++i) sample = next_of_type(*a, "sample");
  ASSERT_TRUE(sample);
  EXPECT_EQ((*sample)["connections"], 2) << "two WebSockets are open";
  EXPECT_GT((*sample)["messages_per_s"].get<double>(), 0.0) << "samples went out";
  EXPECT_GT((*sample)["bytes_out_per_s"].get<double>(), (*sample)["messages_per_s"].get<double>())
      << "each sample is more than one byte";
}

TEST(Ch18_DashboardServer, AMessageFromAClientGetsAnError) {
  DashboardServer server(Millis{50});
  auto client = watch(server.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send_text(R"({"type":"subscribe"})").ok());
  std::optional<json> error = next_of_type(*client, "error");
  ASSERT_TRUE(error) << "docs/protocols.md: anything a client sends gets an error";
  EXPECT_TRUE(client->is_open());
}

// What the server holds for the one socket that does not read.
struct SlowSide {
  size_t queued = 0;     // buffered_amount()
  uint64_t dropped = 0;  // dropped_messages()
};

TEST(Ch18_DashboardServer, AClientThatStopsReadingGetsTheLatestSampleNotABacklog) {
  DashboardServer server(Millis{100});
  auto slow = watch(server.port());
  ASSERT_TRUE(slow);
  // The server names the slow client by its address: "127.0.0.1:PORT".
  sockaddr_in local{};
  socklen_t length = sizeof local;
  ASSERT_EQ(::getsockname(slow->fd(), reinterpret_cast<sockaddr*>(&local), &length), 0);
  const std::string slow_peer = "127.0.0.1:" + std::to_string(ntohs(local.sin_port));
  ASSERT_TRUE(next_of_type(*slow, "sample"));

  // A second client that reads everything, in its own thread.
  auto fast = watch(server.port());
  ASSERT_TRUE(fast);
  std::atomic<bool> stop{false};
  std::vector<int64_t> fast_ts;
  std::thread reader([&] {
    while (!stop) {
      std::optional<json> m = next_json(*fast, nullptr, 200ms);
      if (m && (*m)["type"] == "sample") fast_ts.push_back((*m)["ts"]);
    }
  });

  // Fill the kernel's buffers between us and the server with big messages
  // on the same topic, then keep not reading while samples go by.
  const std::string filler = json{{"type", "filler"}, {"pad", std::string(64 * 1024, 'x')}}.dump();
  auto slow_side = [&] {
    return test::on_loop(server.server(), [&] {
      SlowSide side;
      server.server().for_each([&](WebSocket& socket) {
        if (socket.peer() != slow_peer) return;
        side.queued = socket.buffered_amount();
        side.dropped = socket.dropped_messages();
      });
      return side;
    });
  };
  size_t most_queued = 0;
  SlowSide side;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (side.dropped == 0 && std::chrono::steady_clock::now() < deadline) {
    test::on_loop(server.server(), [&] { server.server().publish(dashboard::kTopic, filler); });
    side = slow_side();
    most_queued = std::max(most_queued, side.queued);
  }
  ASSERT_GT(side.dropped, 0u) << "the kernel's buffers never filled: nothing was ever dropped";
  // From now on the slow client's queue is never empty: every sample taken
  // after this instant is dropped for it.
  const int64_t full = app::unix_ms();
  // Samples go by while the slow client still reads nothing.
  const uint64_t dropped_when_full = side.dropped;
  while (side.dropped < dropped_when_full + 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    side = slow_side();
    most_queued = std::max(most_queued, side.queued);
  }
  EXPECT_GE(side.dropped, dropped_when_full + 5) << "five samples were skipped for the slow client";
  EXPECT_LE(most_queued, filler.size() + 14)
      << "memory stays bounded: at most one message queued for a client that does not read";

  // Read again: what was in the kernel's buffers, then a sample taken after
  // we resumed, not the samples we missed.
  const int64_t resumed = app::unix_ms();
  std::vector<int64_t> slow_ts;
  bool current = false;
  while (!current) {
    std::optional<json> m = next_json(*slow, nullptr, 10s);
    ASSERT_TRUE(m) << "the slow client must get samples again once it reads";
    if ((*m)["type"] != "sample") continue;
    slow_ts.push_back((*m)["ts"]);
    current = slow_ts.back() >= resumed;
  }
  int taken_while_full = 0;
  for (int64_t ts : slow_ts) taken_while_full += ts > full && ts < resumed;
  EXPECT_LE(taken_while_full, 1)
      << "of the samples taken while the client was not reading, at most the one already queued "
         "arrives late: no backlog";

  stop = true;
  reader.join();
  ASSERT_GE(fast_ts.size(), 5u);
  for (size_t i = 1; i < fast_ts.size(); ++i) {
    EXPECT_LT(fast_ts[i] - fast_ts[i - 1], 1000)
        << "the reading client gets every sample: the slow one does not hold it back";
  }
}

// ---- the program ------------------------------------------------------------------------------

class Ch18_DashboardProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::program_path("dashboard_server");
    if (::access(path_.c_str(), X_OK) != 0) GTEST_SKIP() << path_ << " not built: run make";
  }
  std::string path_;
  test::Program program_;
};

TEST_F(Ch18_DashboardProgram, HelpNamesThePortAndTheInterval) {
  ASSERT_TRUE(program_.start(path_, {"--help"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << test::describe(*status);
  for (const char* flag : {"--host", "--port", "8002", "--interval", "500"}) {
    EXPECT_NE(program_.out().find(flag), std::string::npos) << "--help mentions " << flag;
  }
}

TEST_F(Ch18_DashboardProgram, AnIntervalBelow10MsIsRefused) {
  ASSERT_TRUE(program_.start(path_, {"--interval", "1"}));
  std::optional<int> status = program_.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << test::describe(*status);
}

TEST_F(Ch18_DashboardProgram, ServesThePageAndSamples) {
  ASSERT_TRUE(program_.start(path_, {"--port", "0", "--quiet"}));
  ASSERT_TRUE(program_.wait_for_stdout("/\n")) << program_.err();
  const uint16_t port = test::listening_port(program_.out());
  ASSERT_NE(port, 0) << program_.out();
  test::RawClient http;
  ASSERT_TRUE(http.connect(port));
  http.send_raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string page = http.read_all();
  EXPECT_NE(page.find("<canvas"), std::string::npos) << "GET / is the page with the chart";
  auto client = watch(port);
  ASSERT_TRUE(client);
  std::optional<json> sample = next_of_type(*client, "sample");
  ASSERT_TRUE(sample) << "the program publishes samples (every 500 ms)";
}

}  // namespace
}  // namespace ws
