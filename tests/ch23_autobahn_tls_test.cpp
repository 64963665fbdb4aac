// Chapter 23 — Autobahn sections 1-10 over TLS: the chapter 15 conformance
// binaries run again with OPENPIPE_TEST_TLS=1, which makes every TestServer
// listen with TLS and every RawClient speak it (tests/support/test_tls.h).
// The cases are not copied: the transport is the parameter. Over TLS,
// expect_close() also checks that close_notify comes between the close
// frame and TCP's FIN.
// The binaries are built by make before this one (see the Makefile).
// Run: make test CH=23   or   ./build/tests/ch23_autobahn_tls_test
#include <gtest/gtest.h>

#include <string>

#include "support/child_process.h"

namespace ws {
namespace {

using namespace std::chrono_literals;

// Runs one chapter 15 binary over TLS; the gtest summary line, or why not.
::testing::AssertionResult passes_over_tls(const std::string& name) {
  std::string binary = test::built_program("tests/" + name);
  if (!test::is_executable(binary)) {
    return ::testing::AssertionFailure() << binary << " is missing: run make tests";
  }
  test::RunResult run = test::run_program({binary, "--gtest_brief=1", "--gtest_color=no"}, 600s,
                                          {"OPENPIPE_TEST_TLS=1"});
  if (run.exit_code != 0 || run.output.find("[  PASSED  ]") == std::string::npos) {
    return ::testing::AssertionFailure() << name << " over TLS: exit " << run.exit_code
                                         << (run.timed_out ? " (timed out)" : "") << "\n"
                                         << run.output;
  }
  size_t at = run.output.find("[  PASSED  ]");
  std::string summary = run.output.substr(at, run.output.find('\n', at) - at);
  std::printf("  %s over TLS: %s\n", name.c_str(), summary.c_str());
  if (run.output.find("[  FAILED  ]") != std::string::npos) {
    return ::testing::AssertionFailure() << run.output;
  }
  return ::testing::AssertionSuccess();
}

TEST(Ch23_AutobahnTls, Framing_Sections1To5And9And10) {
  EXPECT_TRUE(passes_over_tls("ch15_conformance_framing_test"));
}
TEST(Ch23_AutobahnTls, Utf8_Section6) {
  EXPECT_TRUE(passes_over_tls("ch15_conformance_utf8_test"));
}
TEST(Ch23_AutobahnTls, Close_Section7) {
  EXPECT_TRUE(passes_over_tls("ch15_conformance_close_test"));
}
TEST(Ch23_AutobahnTls, Handshake) {
  EXPECT_TRUE(passes_over_tls("ch15_conformance_handshake_test"));
}

}  // namespace
}  // namespace ws
