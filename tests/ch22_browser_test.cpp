// Chapter 22 — permessage-deflate in a real browser. Headless Chromium offers
// the extension on every WebSocket; this test opens the echo server's page,
// opens a WebSocket to /echo from it, and checks that
//   - ws.extensions reads what the server accepted (permessage-deflate),
//   - a JSON message comes back unchanged through compression both ways,
//   - the server's trace (--trace) shows the compressed frames: RSV1, the
//     compressed size and the inflated size.
// Skipped if Chromium or the server is missing (see tests/support/chromium.h).
#include <gtest/gtest.h>

#include <string>

#include "support/chromium.h"

namespace ws {
namespace {

using namespace ws::test;

// A chat message long enough to be compressed (DeflateConfig::min_size is 64).
constexpr std::string_view kMessage =
    R"({"type":"message","room":"lobby","user":"alice","text":"hello, hello, hello everybody"})";

TEST(Ch22_Browser, ChromiumNegotiatesDeflateAndTheEchoWorks) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "Chromium not installed: apt-get install chromium";
  const std::string binary = find_server();
  if (!is_executable(binary)) GTEST_SKIP() << "no echo server at " << binary;
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  TempDir temp;
  ASSERT_FALSE(temp.path.empty());

  Pipe server_out;
  Child server;
  std::string server_said;
  const fs::path server_log = temp.path / "server.log";  // its stderr: the trace
  const int port = start_server(server, server_out, binary, server_said, server_log, {"--trace"});
  ASSERT_GT(port, 0) << server_said << tail_of_log(server_log);
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);

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
  const std::string target =
      json_string(devtools.call("Target.createTarget", R"({"url":"about:blank"})"), "targetId");
  ASSERT_FALSE(target.empty()) << tail_of_log(log);
  const std::string session = json_string(
      devtools.call("Target.attachToTarget", R"({"targetId":")" + target + R"(","flatten":true})"),
      "sessionId");
  ASSERT_FALSE(session.empty());
  const std::string navigated =
      devtools.call("Page.navigate", R"({"url":")" + origin + R"(/"})", session);
  ASSERT_EQ(json_string(navigated, "errorText"), "") << navigated;

  // The page's own JavaScript: open, send, wait for the echo, report
  // "extensions|echo-identical". The message is written into the script with
  // its quotes escaped for JSON.
  std::string escaped;
  for (char c : kMessage) escaped += c == '"' ? std::string("\\\\\\\"") : std::string(1, c);
  const std::string script =
      "new Promise((resolve) => {"
      "  const ws = new WebSocket('ws://127.0.0.1:" +
      std::to_string(port) +
      "/echo');"
      "  const sent = \\\"" +
      escaped +
      "\\\";"
      "  ws.onopen = () => ws.send(sent);"
      "  ws.onmessage = (e) => { resolve(ws.extensions + '|' + (e.data === sent)); ws.close(); };"
      "  ws.onerror = () => resolve('error');"
      "  setTimeout(() => resolve('timeout'), 15000);"
      "})";
  std::string answer;
  for (int attempt = 0; attempt < 50 && answer.empty(); ++attempt) {  // the page may still load
    answer = devtools.call(
        "Runtime.evaluate",
        R"({"expression":")" + script + R"(","awaitPromise":true,"returnByValue":true})", session);
    if (answer.find("\"value\":\"") == std::string::npos) {
      answer.clear();
      std::this_thread::sleep_for(100ms);
    }
  }
  const std::string value = json_string(answer, "value");
  EXPECT_EQ(value,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover|true")
      << "RFC 7692 §5: ws.extensions is the server's answer; the echo must be identical\n"
      << answer << "\nChromium: " << tail_of_log(log);

  // The trace is written as frames pass; give the server a moment to flush.
  std::string trace;
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    trace = tail_of_log(server_log, 1 << 20);
    if (trace.find("-> frame  FIN=1 RSV=100") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  const std::string inflated = " -> " + std::to_string(kMessage.size()) + " bytes";
  EXPECT_NE(trace.find("<- frame  FIN=1 RSV=100 opcode=0x1"), std::string::npos)
      << "Chromium's message is compressed (RSV1)\n"
      << trace;
  EXPECT_NE(trace.find("-> frame  FIN=1 RSV=100 opcode=0x1"), std::string::npos)
      << "the echo is compressed (RSV1)\n"
      << trace;
  EXPECT_NE(trace.find("deflate: "), std::string::npos) << trace;
  EXPECT_NE(trace.find(inflated), std::string::npos)
      << "the trace shows the inflated size, " << kMessage.size() << " bytes\n"
      << trace;
}

}  // namespace
}  // namespace ws
