// Chapter 23 — behind nginx, for real. The test takes the nginx configuration
// from docs/deployment.md (between the nginx-config markers), points it at
// free loopback ports, test certificates and a temporary directory, starts
// Debian's nginx with it (daemon off, master_process off: one process, ours
// to stop), and talks wss:// to nginx, which talks plain HTTP to the server.
// A second nginx server block forgets the Upgrade lines: the server's answer
// must say so. Skipped if nginx is not installed (apt-get install nginx-light).
// Run: make test CH=23   or   ./build/tests/ch23_nginx_test
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "openpipe/io/client.h"
#include "support/child_process.h"
#include "support/raw_ws.h"
#include "support/test_server.h"
#include "support/test_tls.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::Clock;

constexpr auto kTimeout = 15s;  // nginx start, one reply: generous on a loaded machine

std::string find_nginx() {
  for (const char* path : {"/usr/sbin/nginx", "/usr/local/sbin/nginx"}) {
    if (test::is_executable(path)) return path;
  }
  return test::find_program("nginx");
}

// A port no one listens on now (the kernel's choice; free again once closed).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// The block between <!-- nginx-config --> and <!-- /nginx-config --> in
// docs/deployment.md, without the ``` fences.
std::string documented_config() {
  std::ifstream in(OPENPIPE_SOURCE_DIR "/docs/deployment.md");
  std::stringstream text;
  text << in.rdbuf();
  std::string doc = text.str();
  size_t begin = doc.find("<!-- nginx-config -->");
  size_t end = doc.find("<!-- /nginx-config -->");
  if (begin == std::string::npos || end == std::string::npos) return "";
  std::string block = doc.substr(begin, end - begin);
  block = block.substr(block.find("```nginx") + 8);
  return block.substr(0, block.rfind("```"));
}

// `text` with every `from` replaced by `to`; false in `ok` if there was none.
std::string replace_all(std::string text, const std::string& from, const std::string& to,
                        bool& ok) {
  size_t at = text.find(from);
  ok = ok && at != std::string::npos;
  for (; at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

struct Nginx {
  test::TempDir dir{"openpipe-nginx"};
  test::Child process;
  uint16_t tls_port = 0;    // the documented server block: wss:// here
  uint16_t plain_port = 0;  // a block WITHOUT the upgrade lines: the classic mistake
  std::string error;

  bool start(uint16_t upstream, const test::PemPair& cert) {
    std::string nginx = find_nginx();
    std::string site = documented_config();
    if (site.empty()) return fail("no nginx-config block in docs/deployment.md");
    tls_port = free_port();
    plain_port = free_port();
    bool ok = true;
    site = replace_all(site, "listen 443 ssl;",
                       "listen 127.0.0.1:" + std::to_string(tls_port) + " ssl;", ok);
    site = replace_all(site, "server 127.0.0.1:8000;",
                       "server 127.0.0.1:" + std::to_string(upstream) + ";", ok);
    site = replace_all(site, "/etc/ssl/example.org/fullchain.pem", cert.cert, ok);
    site = replace_all(site, "/etc/ssl/example.org/privkey.pem", cert.key, ok);
    if (!ok) return fail("docs/deployment.md's configuration changed shape: update this test");
    std::string root = dir.path.string();
    std::ofstream(dir.path / "nginx.conf")
        << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        << "pid " << root << "/nginx.pid;\nerror_log " << root << "/error.log info;\n"
        << "events { worker_connections 256; }\n"
        << "http {\n  access_log " << root << "/access.log;\n"
        << "  client_body_temp_path " << root << "/body;\n  proxy_temp_path " << root
        << "/proxy;\n  fastcgi_temp_path " << root << "/fastcgi;\n  uwsgi_temp_path " << root
        << "/uwsgi;\n  scgi_temp_path " << root << "/scgi;\n"
        << site << "  # The mistake: proxy_pass alone, HTTP/1.0, Upgrade and Connection dropped.\n"
        << "  server {\n    listen 127.0.0.1:" << plain_port << ";\n"
        << "    location / { proxy_pass http://openpipe; }\n  }\n}\n";
    if (!process.start({nginx, "-e", root + "/error.log", "-p", root, "-c", root + "/nginx.conf"},
                       {}, root + "/stderr.log")) {
      return fail("cannot start " + nginx);
    }
    // Ready when both ports accept.
    const auto deadline = Clock::now() + kTimeout;
    for (uint16_t port : {tls_port, plain_port}) {
      test::RawClient probe;
      while (!probe.connect(port)) {
        if (process.exited() || Clock::now() > deadline) return fail("nginx did not start");
        probe.close_socket();
        std::this_thread::sleep_for(50ms);
      }
    }
    return true;
  }
  bool fail(const std::string& why) {
    error = why + "\n" + test::tail_of_log(dir.path / "error.log") +
            test::tail_of_log(dir.path / "stderr.log");
    return false;
  }
};

struct LogLines {
  std::mutex mutex;
  std::string text;
};

class Ch23_Nginx : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_nginx().empty()) GTEST_SKIP() << "nginx not installed (apt-get install nginx-light)";
    ServerConfig config = test::test_config();
    config.trusted_proxies = {"127.0.0.1"};
    config.log = [this](std::string_view line) {
      std::lock_guard lock(log_.mutex);
      log_.text.append(line).append("\n");
    };
    server_ = std::make_unique<test::TestServer>(config);
    ASSERT_TRUE(nginx_.start(server_->server().port(), test::process_server_cert()))
        << nginx_.error;
  }
  std::string url(const std::string& path) {
    return "wss://localhost:" + std::to_string(nginx_.tls_port) + path;
  }
  std::string log() {
    std::lock_guard lock(log_.mutex);
    return log_.text;
  }

  LogLines log_;
  std::unique_ptr<test::TestServer> server_;
  Nginx nginx_;  // declared last: stopped first
};

ClientConfig trusting_test_ca() {
  ClientConfig config;
  config.tls.ca_file = test::process_ca().ca_file();
  return config;
}

TEST_F(Ch23_Nginx, EchoThroughNginxWithTlsAtTheProxy) {
  Client client(trusting_test_ca());
  ClientStatus status = client.connect(url("/ws"), kTimeout);
  ASSERT_TRUE(status.ok()) << status.error << "\n" << nginx_.fail("");
  ASSERT_TRUE(client.send_text("through nginx").ok());
  ClientEvent event = client.receive(kTimeout);
  EXPECT_EQ(event.data, "Echo: through nginx");
  EXPECT_TRUE(client.close().ok());
  EXPECT_NE(log().find(" via 127.0.0.1 /ws"), std::string::npos)
      << "X-Forwarded-For from the trusted proxy: the log names the client and the proxy:\n"
      << log();
}

//> ch23.nginx-thousand
TEST_F(Ch23_Nginx, ThousandMessagesThroughNginx) {
  Client client(trusting_test_ca());
  ASSERT_TRUE(client.connect(url("/echo"), kTimeout).ok());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(client.send_text("message " + std::to_string(i)).ok()) << i;
  }
  for (int i = 0; i < 1000; ++i) {
    ClientEvent event = client.receive(kTimeout);
    ASSERT_EQ(event.type, ClientEventType::kText) << "message " << i << ": " << event.data;
    ASSERT_EQ(event.data, "message " + std::to_string(i)) << "in order, none lost";
  }
  EXPECT_TRUE(client.close().ok()) << "the closing handshake crosses the proxy too";
}
//< ch23.nginx-thousand

TEST_F(Ch23_Nginx, ForgottenUpgradeHeadersAreNamedInTheAnswer) {
  test::RawClient client;
  ASSERT_TRUE(client.connect(nginx_.plain_port));
  client.send_raw(test::RawClient::upgrade_request("/ws"));
  std::string answer = client.read_all(kTimeout);
  EXPECT_NE(answer.find(" 426 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("'Upgrade: websocket' and 'Connection: Upgrade' headers are missing"),
            std::string::npos)
      << "through a proxy that dropped the hop-by-hop headers, the answer names them:\n"
      << answer;
  EXPECT_NE(answer.find("proxy_http_version 1.1;"), std::string::npos) << answer;
}

}  // namespace
}  // namespace ws
