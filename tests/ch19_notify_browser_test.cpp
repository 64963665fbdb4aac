// Chapter 19 — the notify page in a real browser: build/notify_server on a
// free port, its page in headless Chromium subscribed to a topic chosen in
// the page; a signed POST shows on the page, an unsigned one does not.
// Skipped only where Chromium is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "notify/signature.h"
#include "support/chromium.h"
#include "support/program.h"
#include "support/raw_ws.h"

namespace ws {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "page-test-secret";

// POST /notify/<topic>; the status code of the answer.
int post(uint16_t port, const std::string& topic, const std::string& body, bool sign) {
  test::RawClient client;
  if (!client.connect(port)) return 0;
  std::string request = "POST /notify/" + topic + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (sign) request += "X-Signature-256: " + notify::signature_header(kSecret, body) + "\r\n";
  client.send_raw(request + "\r\n" + body);
  const std::string response = client.read_all();
  return response.starts_with("HTTP/1.1 ") ? std::atoi(response.c_str() + 9) : 0;
}

std::string shows(const std::string& body) {
  return "Array.from(document.querySelectorAll('#log .notification .body'))"
         ".some((b) => b.textContent === " +
         test::json_quote(body) + ")";
}

TEST(Ch19_NotifyBrowser, ASignedPostShowsOnThePageAndAnUnsignedOneDoesNot) {
  OPENPIPE_REQUIRE_CHROMIUM(chromium);
  const std::string binary = test::program_path("notify_server");
  ASSERT_EQ(::access(binary.c_str(), X_OK), 0) << binary << " not built: run make";
  test::TempDir temp("openpipe-ch19-");
  test::Program server;
  ASSERT_TRUE(server.start(binary, {"--port", "0", "--secret", kSecret}));
  ASSERT_TRUE(server.wait_for_stdout("/\n")) << server.err();
  const uint16_t port = test::listening_port(server.out());
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";

  test::Browser browser;
  ASSERT_TRUE(browser.start(chromium, temp.path));
  const std::string page = browser.open(url);
  ASSERT_FALSE(page.empty()) << browser.log_tail();
  // The topic is chosen in the page, as a user does: type it, press Subscribe.
  ASSERT_TRUE(browser.wait_until(page, "document.getElementById('topic') !== null", 20s));
  ASSERT_NE(browser.evaluate(page,
                             "document.getElementById('topic').value = 'deploys';"
                             "document.getElementById('topic-form').requestSubmit(); true"),
            "");
  ASSERT_TRUE(
      browser.wait_until(page, "document.getElementById('state').className === 'open'", 20s))
      << browser.page_text(page) << "\nserver: " << server.err();

  EXPECT_EQ(post(port, "deploys", "signed: v1.4 is live", true), 200);
  EXPECT_TRUE(browser.wait_until(page, shows("signed: v1.4 is live"), 20s))
      << "a signed POST must show on the page:\n"
      << browser.page_text(page);
  EXPECT_EQ(post(port, "deploys", "unsigned: fake news", false), 401);
  // A signed post after it: once that one shows, the unsigned one would have too.
  EXPECT_EQ(post(port, "deploys", "signed: after", true), 200);
  EXPECT_TRUE(browser.wait_until(page, shows("signed: after"), 20s)) << browser.page_text(page);
  EXPECT_FALSE(browser.is_true(page, shows("unsigned: fake news")))
      << "an unsigned POST must never reach the page:\n"
      << browser.page_text(page);
}

}  // namespace
}  // namespace ws
