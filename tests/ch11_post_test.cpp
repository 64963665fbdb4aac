// Chapter 11 — Server::post(): other threads hand work to the loop's thread
// through an eventfd. Exactly once, in order per posting thread, and nothing
// after shutdown has begun. `make tsan` runs these under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "support/on_loop.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using test::on_loop;
using test::TestServer;

TEST(Ch11_Post, RunsOnTheLoopThread) {
  TestServer server;
  std::thread::id loop_thread = on_loop(server.server(), [] { return std::this_thread::get_id(); });
  EXPECT_NE(loop_thread, std::this_thread::get_id()) << "the callback runs on the server's thread";
  EXPECT_EQ(on_loop(server.server(), [] { return std::this_thread::get_id(); }), loop_thread)
      << "always the same thread: the loop's";
}

TEST(Ch11_Post, FourThreadsTenThousandPostsEachRunOnceInOrder) {
  constexpr int kThreads = 4, kPosts = 10000;
  TestServer server;
  // Written on the loop's thread only; read after the server has stopped.
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPosts; ++i) {
        if (!server.server().post([&seen, t, i] { seen[t].push_back(i); })) ++refused;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  server.stop();  // joins the loop's thread: `seen` is complete and ours to read
  EXPECT_EQ(refused.load(), 0) << "no shutdown had begun: every post is accepted";
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), size_t(kPosts)) << "thread " << t << ": every callback runs once";
    for (int i = 0; i < kPosts; ++i) {
      ASSERT_EQ(seen[t][i], i) << "thread " << t << ": callbacks run in the order posted";
    }
  }
}

TEST(Ch11_Post, CallbackMayPostAgain) {
  TestServer server;
  std::vector<int> order;  // loop thread only
  bool done = on_loop(server.server(), [&] {
    order.push_back(1);
    return server.server().post([&] { order.push_back(2); });
  });
  EXPECT_TRUE(done) << "post() from the loop's own thread is allowed";
  on_loop(server.server(), [] {});  // runs after the inner callback
  server.stop();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(Ch11_Post, RefusedAfterShutdownBeganAndLeavesNothingBehind) {
  TestServer server;
  auto token = std::make_shared<int>(0);
  // On the loop: begin the shutdown, then try to post.
  bool accepted = on_loop(server.server(), [&] {
    server.server().shutdown();
    return server.server().post([token] { ++*token; });
  });
  EXPECT_FALSE(accepted) << "once shutdown has begun, post() returns false";
  EXPECT_EQ(token.use_count(), 1) << "the refused callback was destroyed, not kept";
  server.stop();
  EXPECT_EQ(*token, 0) << "a refused callback never runs";
  EXPECT_FALSE(server.server().post([token] { ++*token; })) << "after run() returned as well";
  EXPECT_EQ(token.use_count(), 1);
}

TEST(Ch11_Post, AcceptedBeforeShutdownRunExactlyOnce) {
  TestServer server;
  std::atomic<int> ran{0};
  std::atomic<int> accepted{0};
  std::thread poster([&] {
    // Posts until refused: the shutdown below lands somewhere in the middle.
    while (server.server().post([&] { ++ran; })) ++accepted;
  });
  while (accepted.load() < 1000) std::this_thread::yield();
  server.server().request_shutdown();
  poster.join();
  server.stop();
  EXPECT_EQ(ran.load(), accepted.load())
      << "every callback post() accepted runs, exactly once, even across the shutdown";
}

TEST(Ch11_Post, RequestShutdownFromManyThreads) {
  TestServer server;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { server.server().request_shutdown(); });
  for (std::thread& thread : threads) thread.join();
  server.stop();  // returns: the loop saw the request
  EXPECT_FALSE(server.running());
}

// A thread other than the loop's publishes: the way a program feeds a topic
// from a worker thread (a timer thread, a database listener...).
TEST(Ch11_Post, OtherThreadPublishesThroughPost) {
  TestServer server(test::test_config(), [](Server& s) {
    Route route;
    route.on_open = [](WebSocket& socket) { socket.subscribe("news"); };
    s.route("/t", route);
  });
  test::RawClient client;
  ASSERT_TRUE(client.open(server.port(), "/t"));
  std::thread publisher([&] {
    for (int i = 0; i < 100; ++i) {
      server.server().post([&server, i] { server.server().publish("news", std::to_string(i)); });
    }
  });
  publisher.join();
  for (int i = 0; i < 100; ++i) {
    std::optional<test::RawFrame> frame = client.read_frame();
    ASSERT_TRUE(frame) << "message " << i;
    EXPECT_EQ(frame->payload, std::to_string(i)) << "published in the order posted";
  }
}

}  // namespace
}  // namespace ws
