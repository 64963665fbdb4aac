// Runs code on a running server's loop thread from a test's thread, through
// Server::post(), and waits for it: the way another thread of a program
// touches sockets and topics. Header-only; namespace ws::test.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

#include "openpipe/io/server.h"

namespace ws::test {

// Returns what `work` returns. Fails the calling test (and returns a default
// value) if the server refused the post or did not run it within 10 s.
template <typename Work>
auto on_loop(Server& server, Work work) -> decltype(work()) {
  using Result = decltype(work());
  auto task = std::make_shared<std::packaged_task<Result()>>(std::move(work));
  std::future<Result> result = task->get_future();
  bool posted = server.post([task] { (*task)(); });
  if (!posted) {
    ADD_FAILURE() << "Server::post refused the callback (shutdown begun?)";
    if constexpr (std::is_void_v<Result>) {
      return;
    } else {
      return Result{};
    }
  }
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "the loop did not run a posted callback within 10 s";
    if constexpr (std::is_void_v<Result>) {
      return;
    } else {
      return Result{};
    }
  }
  return result.get();
}

}  // namespace ws::test
