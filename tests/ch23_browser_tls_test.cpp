// Chapter 23 — the browser over https:// and wss://. Like chapter 13's test,
// with TLS: build/echo_server gets a certificate from a throwaway test CA,
// headless Chromium trusts it through --ignore-certificate-errors-spki-list
// (the SHA-256 of the certificate's public key: that key only, nothing else
// is trusted), loads https://localhost:PORT/, and the page, seeing https:,
// opens wss:// and shows the echo. Driven through the DevTools pipe
// (tests/support/child_process.h). Skipped if Chromium is missing.
// Run: make test CH=23   or   ./build/tests/ch23_browser_tls_test
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <string>

#include "support/child_process.h"
#include "support/test_tls.h"

namespace ws {
namespace {

using namespace test;

constexpr auto kServerStartTimeout = 10s;
constexpr auto kPageTimeout = 30s;
constexpr auto kPollInterval = 100ms;
constexpr std::string_view kExpectedLine = "Server says: Echo: Hello WebSocket";
constexpr std::string_view kTlsLine = "https://127.0.0.1:";

// Runs `expression` in the page; the JSON answer.
std::string evaluate(DevTools& devtools, const std::string& session,
                     const std::string& expression) {
  return devtools.call("Runtime.evaluate",
                       R"({"expression":")" + expression + R"(","returnByValue":true})", session);
}

TEST(Ch23_BrowserTls, PageOverHttpsShowsTheEchoOverWss) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "Chromium not installed: apt-get install chromium";
  const std::string binary = built_program("echo_server");
  if (!is_executable(binary)) GTEST_SKIP() << "no echo server at " << binary << ": run make";
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  TempDir temp("openpipe-ch23-browser");
  ASSERT_FALSE(temp.path.empty());

  // The server, with TLS on a free port.
  TestCa& ca = process_ca();
  const PemPair& cert = process_server_cert();
  const std::string spki = ca.last_spki_hash();
  Pipe server_out;
  Child server;
  const fs::path server_log = temp.path / "server.log";
  ASSERT_TRUE(server.start(
      {binary, "--port", "0", "--tls-port", "0", "--tls-cert", cert.cert, "--tls-key", cert.key},
      {{server_out.write, STDOUT_FILENO}}, server_log.string()));
  server_out.close_write();
  std::string said;
  const auto start_deadline = Clock::now() + kServerStartTimeout;
  while (said.find("(wss://)") == std::string::npos &&
         read_some(server_out.read, said, start_deadline)) {
  }
  const size_t at = said.find(kTlsLine);
  ASSERT_NE(at, std::string::npos) << "no https line from the server:\n"
                                   << said << tail_of_log(server_log);
  const int port = std::atoi(said.c_str() + at + kTlsLine.size());
  const std::string url = "https://localhost:" + std::to_string(port) + "/";

  //> browser-tls.start-chromium
  // Trust exactly one public key (the server certificate's), not "any error".
  Pipe to_browser, from_browser;
  Child browser;
  const fs::path log = temp.path / "chromium.log";
  ASSERT_TRUE(browser.start(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--ignore-certificate-errors-spki-list=" + spki,
       "--user-data-dir=" + (temp.path / "profile").string(), "--remote-debugging-pipe"},
      {{to_browser.read, 3}, {from_browser.write, 4}}, log.string()));
  //< browser-tls.start-chromium
  to_browser.close_read();
  from_browser.close_write();
  DevTools devtools(to_browser.write, from_browser.read);

  const std::string target =
      json_string(devtools.call("Target.createTarget", R"({"url":"about:blank"})"), "targetId");
  ASSERT_FALSE(target.empty()) << "Chromium did not answer:\n" << tail_of_log(log);
  const std::string session = json_string(
      devtools.call("Target.attachToTarget", R"({"targetId":")" + target + R"(","flatten":true})"),
      "sessionId");
  ASSERT_FALSE(session.empty());
  ASSERT_NE(devtools.call("Runtime.enable", "{}", session), "");
  const std::string navigated =
      devtools.call("Page.navigate", R"({"url":")" + url + R"("})", session);
  ASSERT_EQ(json_string(navigated, "errorText"), "")
      << "loading " << url
      << " (a certificate error here means the SPKI flag was ignored): " << navigated;

  const std::string shows_reply =
      "Array.from(document.querySelectorAll('#log > *')).some((line) => line.textContent === '" +
      std::string(kExpectedLine) + "')";
  const auto deadline = Clock::now() + kPageTimeout;
  bool shown = false;
  while (!shown && Clock::now() < deadline) {
    const std::string answer = evaluate(devtools, session, shows_reply);
    if (answer.empty()) break;
    shown = answer.find(R"("value":true)") != std::string::npos;
    if (!shown) std::this_thread::sleep_for(kPollInterval);
  }
  const std::string page_text = evaluate(devtools, session, "document.body.innerText");
  EXPECT_TRUE(shown) << "the page at " << url << " never showed \"" << kExpectedLine
                     << "\". It shows:\n"
                     << page_text << "\nChromium:\n"
                     << tail_of_log(log) << "\nserver:\n"
                     << tail_of_log(server_log);
  const std::string socket_url = json_string(evaluate(devtools, session, "ws.url"), "value");
  EXPECT_EQ(socket_url, "wss://localhost:" + std::to_string(port) + "/ws")
      << "a page served over https: must open wss:// (mixed content rules)";
}

}  // namespace
}  // namespace ws
