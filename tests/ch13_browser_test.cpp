// Chapter 13 — the browser test: the primer's section 6 for real. It starts
// build/echo_server on a free port, opens its page in headless Chromium and
// waits until the page shows "Server says: Echo: Hello WebSocket" (§6's output).
//
// How the page is read: Chromium is driven through the DevTools protocol over
// two pipes (--remote-debugging-pipe: we write JSON commands to its fd 3 and
// read answers from its fd 4, each message ending with a NUL byte). We open the
// page, then ask the page itself, every 100 ms, whether #log holds that line.
// (--dump-dom is not enough: it dumps when the page has loaded, which can be
// before the server's WebSocket reply arrives, so it fails on a slow machine.)
//
// Skipped if Chromium is missing (apt-get install chromium) or the server is
// not built. The server binary: $OPENPIPE_ECHO_SERVER if set, otherwise
// $OPENPIPE_BUILD/echo_server (make test sets OPENPIPE_BUILD), otherwise build/.
// Every wait has a deadline; both processes are killed and the temporary
// directory removed whatever happens.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/chromium.h"

namespace ws {
namespace {

using namespace ws::test;  // Child, Pipe, DevTools, TempDir...: tests/support/chromium.h

constexpr std::string_view kExpectedLine = "Server says: Echo: Hello WebSocket";

// ---- the test --------------------------------------------------------------------------------

TEST(Ch13_Browser, PageShowsTheServersEcho) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "Chromium not installed: apt-get install chromium (browser test skipped)";
  }
  const std::string binary = find_server();
  if (!is_executable(binary)) {
    GTEST_SKIP() << "no echo server at " << binary << ": build it with make (browser test skipped)";
  }
  signal(SIGPIPE, SIG_IGN);  // a browser that died must not kill the test with it
  // Chromium's helper processes outlive its main process by a moment: they
  // become our children, so that Child::stop() can reap them all.
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  // Declared first, destroyed last: the directory outlives the browser using it.
  TempDir temp;
  ASSERT_FALSE(temp.path.empty()) << "mkdtemp failed";

  //> browser-test.start-server
  Pipe server_out;
  Child server;
  std::string server_said;
  const fs::path server_log = temp.path / "server.log";
  const int port = start_server(server, server_out, binary, server_said, server_log);
  ASSERT_GT(port, 0) << "no 'openpipe echo server listening on http://HOST:PORT/' line within "
                     << kServerStartTimeout.count() << " s from " << binary
                     << " (stdout is a pipe here: is it flushed after that line?)\nit said: "
                     << server_said << "\nits stderr:\n"
                     << tail_of_log(server_log);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  //< browser-test.start-server

  //> browser-test.start-chromium
  Pipe to_browser, from_browser;
  Child browser;
  const fs::path log = temp.path / "chromium.log";
  ASSERT_TRUE(browser.start(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--user-data-dir=" + (temp.path / "profile").string(), "--remote-debugging-pipe"},
      {{to_browser.read, 3}, {from_browser.write, 4}}, log.string()));
  to_browser.close_read();
  from_browser.close_write();
  DevTools devtools(to_browser.write, from_browser.read);
  //< browser-test.start-chromium

  //> browser-test.open-page
  // A blank tab first, so that the console is watched before the page runs.
  const std::string target =
      json_string(devtools.call("Target.createTarget", R"({"url":"about:blank"})"), "targetId");
  ASSERT_FALSE(target.empty()) << "Chromium did not answer on its DevTools pipe:\n"
                               << tail_of_log(log);
  const std::string session = json_string(
      devtools.call("Target.attachToTarget", R"({"targetId":")" + target + R"(","flatten":true})"),
      "sessionId");
  ASSERT_FALSE(session.empty());
  ASSERT_NE(devtools.call("Runtime.enable", "{}", session), "");
  const std::string navigated =
      devtools.call("Page.navigate", R"({"url":")" + url + R"("})", session);
  ASSERT_EQ(json_string(navigated, "errorText"), "") << "loading " << url << ": " << navigated;
  //< browser-test.open-page

  //> browser-test.wait-for-reply
  // Ask the page, until the deadline, whether a line of #log reads exactly
  // "Server says: Echo: Hello WebSocket".
  const std::string shows_reply =
      R"json({"expression":"Array.from(document.querySelectorAll('#log > *')))json"
      R"json(.some((line) => line.textContent === ')json" +
      std::string(kExpectedLine) + R"json(')","returnByValue":true})json";
  const auto deadline = Clock::now() + kPageTimeout;
  bool shown = false;
  while (!shown && Clock::now() < deadline) {
    const std::string answer = devtools.call("Runtime.evaluate", shows_reply, session);
    if (answer.empty()) break;  // the browser stopped answering
    shown = answer.find(R"("value":true)") != std::string::npos;
    if (!shown) std::this_thread::sleep_for(kPollInterval);
  }
  //< browser-test.wait-for-reply
  const std::string page_text =
      devtools.call("Runtime.evaluate",
                    R"({"expression":"document.body.innerText","returnByValue":true})", session);
  EXPECT_TRUE(shown) << "the page at " << url << " never showed \"" << kExpectedLine << "\" (in "
                     << kPageTimeout.count() << " s). What it shows:\n"
                     << page_text << "\nChromium's log:\n"
                     << tail_of_log(log) << "\nThe server's log:\n"
                     << tail_of_log(server_log);

  // The primer's section 6 prints the same line in the console: console.log("Server says:", data).
  bool logged = false;
  for (const std::string& event : devtools.events) {
    logged = logged || (event.find("Runtime.consoleAPICalled") != std::string::npos &&
                        event.find(R"("value":"Server says:")") != std::string::npos &&
                        event.find(R"("value":"Echo: Hello WebSocket")") != std::string::npos);
  }
  EXPECT_TRUE(logged) << "console.log(\"Server says:\", event.data) was not called with "
                         "\"Echo: Hello WebSocket\"";
}

}  // namespace
}  // namespace ws
