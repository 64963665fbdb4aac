// Chapter 17 — the chat page in a real browser: build/chat_server on a free
// port, two tabs of headless Chromium in the same room (tests/support/chromium.h
// drives them through the DevTools pipe, as chapter 13 does). They see each
// other's join, messages and leave, and a message full of markup shows as
// text and runs nothing. Skipped only where Chromium is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "support/chromium.h"
#include "support/program.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::Browser;

constexpr auto kPageTimeout = 20s;  // generous: Chromium on a loaded machine

// JavaScript: true if a line of #log has this class and this exact text.
std::string shows(const std::string& kind, const std::string& text) {
  return "Array.from(document.querySelectorAll('#log > ." + kind +
         "')).some((line) => line.textContent.includes(" + test::json_quote(text) + "))";
}

// JavaScript: type `text` into the page's box and press Enter.
std::string type_and_send(const std::string& text) {
  return "document.getElementById('text').value = " + test::json_quote(text) +
         "; document.getElementById('send-form').requestSubmit(); true";
}

TEST(Ch17_ChatBrowser, TwoPagesSeeEachOthersJoinMessagesAndLeave) {
  OPENPIPE_REQUIRE_CHROMIUM(chromium);
  const std::string binary = test::program_path("chat_server");
  ASSERT_EQ(::access(binary.c_str(), X_OK), 0) << binary << " not built: run make";
  test::TempDir temp("openpipe-ch17-");
  test::Program server;
  ASSERT_TRUE(server.start(binary, {"--port", "0"}));
  ASSERT_TRUE(server.wait_for_stdout("/\n")) << server.err();
  const std::string base =
      "http://127.0.0.1:" + std::to_string(test::listening_port(server.out())) + "/";

  Browser browser;
  ASSERT_TRUE(browser.start(chromium, temp.path));
  const std::string alice = browser.open(base + "?room=tea&name=alice");
  ASSERT_FALSE(alice.empty()) << "Chromium did not open the page:\n" << browser.log_tail();
  ASSERT_TRUE(browser.wait_until(alice, "document.getElementById('state').className === 'open'",
                                 kPageTimeout))
      << browser.page_text(alice) << "\nserver: " << server.err();
  const std::string bob = browser.open(base + "?room=tea&name=bob");
  ASSERT_FALSE(bob.empty());

  EXPECT_TRUE(browser.wait_until(alice, shows("join", "bob joined"), kPageTimeout))
      << "alice's page must show bob's join:\n"
      << browser.page_text(alice);
  EXPECT_TRUE(browser.wait_until(
      bob,
      "Array.from(document.querySelectorAll('#members li')).map((li) => li.textContent)"
      ".join(',') === 'alice,bob'",
      kPageTimeout))
      << "bob's page lists both members:\n"
      << browser.page_text(bob);

  ASSERT_NE(browser.evaluate(alice, type_and_send("hello from alice")), "");
  EXPECT_TRUE(browser.wait_until(bob, shows("message", "hello from alice"), kPageTimeout))
      << browser.page_text(bob);
  ASSERT_NE(browser.evaluate(bob, type_and_send("hi alice")), "");
  EXPECT_TRUE(browser.wait_until(alice, shows("message", "hi alice"), kPageTimeout))
      << browser.page_text(alice);

  ASSERT_NE(browser.evaluate(bob, "document.getElementById('leave').click(); true"), "");
  EXPECT_TRUE(browser.wait_until(alice, shows("leave", "bob left"), kPageTimeout))
      << "alice's page must show bob's leave:\n"
      << browser.page_text(alice);
}

TEST(Ch17_ChatBrowser, MarkupInAMessageShowsAsTextAndRunsNothing) {
  OPENPIPE_REQUIRE_CHROMIUM(chromium);
  const std::string binary = test::program_path("chat_server");
  ASSERT_EQ(::access(binary.c_str(), X_OK), 0) << binary << " not built: run make";
  test::TempDir temp("openpipe-ch17-");
  test::Program server;
  ASSERT_TRUE(server.start(binary, {"--port", "0"}));
  ASSERT_TRUE(server.wait_for_stdout("/\n")) << server.err();
  const std::string base =
      "http://127.0.0.1:" + std::to_string(test::listening_port(server.out())) + "/";

  Browser browser;
  ASSERT_TRUE(browser.start(chromium, temp.path));
  const std::string mallory = browser.open(base + "?room=x&name=mallory");
  const std::string victim = browser.open(base + "?room=x&name=victim");
  ASSERT_FALSE(mallory.empty() || victim.empty()) << browser.log_tail();
  for (const std::string& tab : {mallory, victim}) {
    ASSERT_TRUE(browser.wait_until(tab, "document.getElementById('state').className === 'open'",
                                   kPageTimeout))
        << browser.page_text(tab);
  }
  // If the page ever turned text into markup, the image's error handler
  // would call alert(): count the calls instead of opening a dialog.
  ASSERT_NE(browser.evaluate(
                victim, "window.alerts = 0; window.alert = () => { window.alerts += 1; }; true"),
            "");

  const std::string attack = "<img src=x onerror=alert(1)>";
  ASSERT_NE(browser.evaluate(mallory, type_and_send(attack)), "");
  const std::string shown_literally =
      "Array.from(document.querySelectorAll('#log .message .text')).some((t) => t.textContent "
      "=== " +
      test::json_quote(attack) + ")";
  EXPECT_TRUE(browser.wait_until(victim, shown_literally, kPageTimeout))
      << "the message must show as the characters typed:\n"
      << browser.page_text(victim);
  // A failed image load is reported within milliseconds; give it a second.
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(browser.is_true(victim, "document.querySelectorAll('#log img').length === 0"))
      << "no element was created from the message's text";
  EXPECT_TRUE(browser.is_true(victim, "window.alerts === 0"))
      << "the onerror handler in the message ran: the page rendered text as HTML";
  for (const std::string& event : browser.events()) {
    EXPECT_EQ(event.find("Page.javascriptDialogOpening"), std::string::npos)
        << "a dialog opened: " << event;
  }
}

}  // namespace
}  // namespace ws
