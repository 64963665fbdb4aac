// One echo server for a whole conformance test binary, as the Autobahn
// fuzzing client sees one server for all its cases. Header-only; include it
// from exactly one file per test binary (it registers a gtest environment).
//
// With OPENPIPE_TEST_PORT=8000 the cases run against a server that is
// already listening there (`make run`: the real echo_server binary, as
// Autobahn sees it); tests that need their own server still start one.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "test_server.h"

namespace ws::test {

class EchoServer : public ::testing::Environment {
 public:
  void SetUp() override {
    if (const char* external = std::getenv("OPENPIPE_TEST_PORT")) {
      port_ = static_cast<uint16_t>(std::atoi(external));
      return;
    }
    server_ = std::make_unique<TestServer>();
    port_ = server_->port();
  }
  void TearDown() override { server_.reset(); }
  static uint16_t port() { return port_; }

 private:
  static inline std::unique_ptr<TestServer> server_;
  static inline uint16_t port_ = 0;
};

inline ::testing::Environment* const kEchoServer =
    ::testing::AddGlobalTestEnvironment(new EchoServer);

}  // namespace ws::test
