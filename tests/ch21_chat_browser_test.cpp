// Chapter 21 — the chat page resumes, in a real browser: build/chat_server
// on a free port, the page in headless Chromium (tests/support/chromium.h),
// and a C++ client talking in the same room. The page loses its socket, the
// client talks meanwhile, and the page, once reconnected by itself, shows
// "recovered N missed messages" and every one of them; after a server
// restart it shows "history lost, reloaded". Skipped only where Chromium is
// not installed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "openpipe/io/client.h"
#include "support/chromium.h"
#include "support/json_client.h"
#include "support/program.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::Browser;
using test::json;
using test::next_of_type;

constexpr auto kPageTimeout = 30s;  // generous: Chromium on a loaded machine

std::string shows(const std::string& kind, const std::string& text) {
  return "Array.from(document.querySelectorAll('#log > ." + kind +
         "')).some((line) => line.textContent.includes(" + test::json_quote(text) + "))";
}

// A port that was free a moment ago: the server is restarted on the same
// one, as a real deployment would be, so the page finds it again.
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

void say(Client& client, const std::string& text) {
  ASSERT_TRUE(client.send_text(json{{"type", "message"}, {"text", text}}.dump()).ok());
}

TEST(Ch21_ChatBrowser, ThePageReconnectsAndShowsTheMissedMessagesThenHistoryLostAfterARestart) {
  OPENPIPE_REQUIRE_CHROMIUM(chromium);
  const std::string binary = test::program_path("chat_server");
  ASSERT_EQ(::access(binary.c_str(), X_OK), 0) << binary << " not built: run make";
  test::TempDir temp("openpipe-ch21-");
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  const std::vector<std::string> args = {"--port", std::to_string(port), "--quiet"};
  auto server = std::make_unique<test::Program>();
  ASSERT_TRUE(server->start(binary, args));
  ASSERT_TRUE(server->wait_for_stdout("/\n")) << server->err();
  const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/";

  Browser browser;
  ASSERT_TRUE(browser.start(chromium, temp.path));
  const std::string page = browser.open(base + "?room=tea&name=alice");
  ASSERT_FALSE(page.empty()) << "Chromium did not open the page:\n" << browser.log_tail();
  ASSERT_TRUE(browser.wait_until(page, "document.getElementById('state').className === 'open'",
                                 kPageTimeout))
      << browser.page_text(page);

  Client bob;
  ASSERT_TRUE(bob.connect(test::local_url(port, "/chat?room=tea&name=bob"), 10s).ok());
  ASSERT_TRUE(next_of_type(bob, "welcome"));
  say(bob, "before");
  ASSERT_TRUE(browser.wait_until(page, shows("message", "before"), kPageTimeout))
      << browser.page_text(page);

  // The page loses its socket. `attempts = 3` makes its backoff wait 2-4 s,
  // long enough for bob to talk while it is away.
  ASSERT_NE(browser.evaluate(page, "attempts = 3; ws.close(); true"), "");
  std::optional<json> left = next_of_type(bob, "leave");
  ASSERT_TRUE(left) << "the server saw the page go";
  for (int i = 1; i <= 5; ++i) say(bob, "while away " + std::to_string(i));
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(next_of_type(bob, "message")) << i;

  EXPECT_TRUE(browser.wait_until(page, shows("note", "recovered 5 missed messages"), kPageTimeout))
      << "the page reconnects by itself and says what it recovered:\n"
      << browser.page_text(page);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_TRUE(browser.is_true(page, shows("message", "while away " + std::to_string(i))))
        << "missed message " << i << " is on the page:\n"
        << browser.page_text(page);
  }
  say(bob, "live again");
  EXPECT_TRUE(browser.wait_until(page, shows("message", "live again"), kPageTimeout))
      << browser.page_text(page);

  // The server restarts: its in-memory history is gone, and the page says so.
  bob.disconnect();
  server.reset();  // SIGKILL, reaped
  server = std::make_unique<test::Program>();
  ASSERT_TRUE(server->start(binary, args));
  ASSERT_TRUE(server->wait_for_stdout("/\n")) << server->err();
  EXPECT_TRUE(
      browser.wait_until(page, shows("note", "history lost, reloaded (epoch changed)"), 60s))
      << "after a restart the page reloads instead of missing messages silently:\n"
      << browser.page_text(page);
}

}  // namespace
}  // namespace ws
