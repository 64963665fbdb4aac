// Chapter 18 — the dashboard page in a real browser: build/dashboard_server
// on a free port, its page in headless Chromium (tests/support/chromium.h).
// Once connected, the chart receives at least 4 samples in 3 s (the server
// sends one every 500 ms: 6). Skipped only where Chromium is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/chromium.h"
#include "support/program.h"

namespace ws {
namespace {

using namespace std::chrono_literals;

TEST(Ch18_DashboardBrowser, TheChartReceivesAtLeast4SamplesIn3Seconds) {
  OPENPIPE_REQUIRE_CHROMIUM(chromium);
  const std::string binary = test::program_path("dashboard_server");
  ASSERT_EQ(::access(binary.c_str(), X_OK), 0) << binary << " not built: run make";
  test::TempDir temp("openpipe-ch18-");
  test::Program server;
  ASSERT_TRUE(server.start(binary, {"--port", "0"}));
  ASSERT_TRUE(server.wait_for_stdout("/\n")) << server.err();
  const std::string url =
      "http://127.0.0.1:" + std::to_string(test::listening_port(server.out())) + "/";

  test::Browser browser;
  ASSERT_TRUE(browser.start(chromium, temp.path));
  const std::string page = browser.open(url);
  ASSERT_FALSE(page.empty()) << "Chromium did not open " << url << ":\n" << browser.log_tail();
  ASSERT_TRUE(
      browser.wait_until(page, "document.getElementById('state').className === 'open'", 20s))
      << "the page never connected:\n"
      << browser.page_text(page) << "\nserver: " << server.err();
  const std::string points = "Number(document.getElementById('chart').dataset.points)";
  const std::string before = browser.evaluate(page, points);
  std::this_thread::sleep_for(3s);
  const std::string count = "Number(document.getElementById('samples').textContent)";
  EXPECT_TRUE(browser.is_true(page, count + " >= 4"))
      << "in 3 s after connecting the page received fewer than 4 samples:\n"
      << browser.page_text(page);
  EXPECT_TRUE(browser.is_true(page, points + " >= 4"))
      << "the chart draws every sample of the last 60 s; before: " << before
      << ", now: " << browser.evaluate(page, points);
  // The CPU line is #0969da: little red, much blue (the grid is grey).
  EXPECT_TRUE(browser.is_true(
      page,
      "((d) => d.some((v, i) => i % 4 === 0 && v < 40 && d[i + 2] > 180 && d[i + 3] > 0))("
      "document.getElementById('chart').getContext('2d').getImageData(0, 0, 800, 256).data)"))
      << "blue (CPU) pixels are on the canvas: the line is drawn";
}

}  // namespace
}  // namespace ws
