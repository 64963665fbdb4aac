// Chapter 11 — plain HTTP on the WebSocket port, tested against a real
// ws::Server over loopback sockets: keep-alive and pipelining (RFC 9112 §9),
// request bodies for HTTP routes, the framing rules of chapter 02 seen from
// the wire, and static files (HEAD, 304, Content-Type, sendfile()).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "openpipe/io/static_files.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::RawClient;
using test::TestServer;

// The echo server's routes, and a webhook-like POST route at /hook that
// answers with what it received.
void routes_with_hook(Server& server) {
  test::add_echo_routes(server);
  HttpRoute hook;
  hook.methods = {"POST"};
  hook.max_body = 64;
  hook.on_request = [](const HttpRequest& request) {
    return HttpReply::text(200, "got " + std::to_string(request.body.size()) + ": " + request.body +
                                    " at " + std::string(request.path()));
  };
  server.handle("/hook", hook);
  HttpRoute strict = hook;
  strict.length_required = true;
  server.handle("/strict", strict);
  HttpRoute health;
  health.on_request = [](const HttpRequest&) { return HttpReply::text(200, "ok\n"); };
  server.handle("/health", health);
}

std::string body_of(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

bool has_header(const std::string& response, std::string_view line) {
  std::string head = response.substr(0, response.find("\r\n\r\n") + 2);
  return head.find(std::string(line) + "\r\n") != std::string::npos;
}

std::string header_value(const std::string& response, std::string_view name) {
  size_t at = response.find("\r\n" + std::string(name) + ": ");
  if (at == std::string::npos) return "";
  at += name.size() + 4;
  return response.substr(at, response.find("\r\n", at) - at);
}

// Sends `request` on a fresh connection and reads until the server closes.
std::string exchange(uint16_t port, std::string_view request) {
  RawClient client;
  if (!client.connect(port)) return "";
  client.send_raw(request);
  return client.read_all();
}

// ---- HTTP routes with request bodies ----------------------------------------------

TEST(Ch11_HttpRoute, PostBodyReachesTheRoute) {
  TestServer server(test::test_config(), routes_with_hook);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("POST /hook/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  std::string response = client.read_response();
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 ")) << response;
  EXPECT_EQ(body_of(response), "got 5: hello at /hook/alerts")
      << "the route sees the whole body and the path below its prefix";
}

TEST(Ch11_HttpRoute, ChunkedBodyIsDecodedForTheRoute) {
  TestServer server(test::test_config(), routes_with_hook);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw(
      "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(body_of(client.read_response()), "got 5: abcde at /hook");
}

TEST(Ch11_HttpRoute, BodyArrivingByteByByteIsReadWhole) {
  TestServer server(test::test_config(), routes_with_hook);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_chunked("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 1,
                      1ms);
  EXPECT_EQ(body_of(client.read_response()), "got 10: 0123456789 at /hook")
      << "the body is read across as many segments as it takes";
}

TEST(Ch11_HttpRoute, BodyOverMaxBodyIs413AtTheHead) {
  TestServer server(test::test_config(), routes_with_hook);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n");
  std::string response = client.read_all();
  EXPECT_TRUE(response.starts_with("HTTP/1.1 413 "))
      << "max_body is 64: refused from the Content-Length, before the body is sent\n"
      << response;
  EXPECT_TRUE(client.eof()) << "the unread body would be taken for the next request: close";
}

TEST(Ch11_HttpRoute, ChunkedBodyOverMaxBodyIs413) {
  TestServer server(test::test_config(), routes_with_hook);
  std::string response = exchange(server.port(),
                                  "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                  "\r\n40\r\n" +
                                      std::string(64, 'a') + "\r\n1\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 413 ")) << response;
}

TEST(Ch11_HttpRoute, LengthRequiredRouteAnswers411) {
  TestServer server(test::test_config(), routes_with_hook);
  EXPECT_TRUE(exchange(server.port(),
                       "POST /strict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                  .starts_with("HTTP/1.1 411 "))
      << "RFC 9110 §15.5.12: a chunked body where Content-Length is required";
  EXPECT_TRUE(
      exchange(server.port(), "POST /strict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
          .starts_with("HTTP/1.1 411 "))
      << "and no body at all";
}

TEST(Ch11_HttpRoute, OtherMethodsAre405WithAllow) {
  TestServer server(test::test_config(), routes_with_hook);
  std::string response =
      exchange(server.port(), "GET /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 405 ")) << response;
  EXPECT_TRUE(has_header(response, "Allow: POST")) << "RFC 9110 §15.5.6: a 405 MUST carry Allow";
}

TEST(Ch11_HttpRoute, PrefixStopsAtASegment) {
  TestServer server(test::test_config(), routes_with_hook);
  EXPECT_TRUE(
      exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
          .starts_with("HTTP/1.1 404 "))
      << "\"/health\" does not take \"/healthz\"";
  EXPECT_TRUE(
      exchange(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
          .starts_with("HTTP/1.1 200 "));
}

TEST(Ch11_HttpRoute, BodyToAPathWithoutRouteIs413) {
  TestServer server;
  EXPECT_TRUE(exchange(server.port(), "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
                  .starts_with("HTTP/1.1 413 "))
      << "a body only HTTP routes take; the static files do not";
}

TEST(Ch11_HttpRoute, PostWithABodyToAStaticPathIs405WithAllow) {
  TestServer server;
  std::string response = exchange(
      server.port(), "POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 405 "))
      << "RFC 9110 §15.5.6: the method is what is wrong, body or not:\n"
      << response;
  EXPECT_NE(response.find("Allow: GET, HEAD\r\n"), std::string::npos) << "a 405 MUST carry Allow";
}

// ---- framing, seen from the wire ------------------------------------------------------

TEST(Ch11_Framing, UpgradeWithABodyIs400) {
  TestServer server;
  for (std::string_view framing : {"Content-Length: 6\r\n", "Transfer-Encoding: chunked\r\n"}) {
    std::string request = RawClient::upgrade_request("/echo", framing);
    std::string response = exchange(server.port(), request + "\x81\x80\x00\x00\x00\x00");
    EXPECT_TRUE(response.starts_with("HTTP/1.1 400 "))
        << "RFC 9112 §6: the WebSocket starts only where the HTTP message ends: " << framing
        << response;
  }
}

TEST(Ch11_Framing, ContentLengthAndChunkedTogetherIs400) {
  TestServer server(test::test_config(), routes_with_hook);
  EXPECT_TRUE(exchange(server.port(),
                       "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                  .starts_with("HTTP/1.1 400 "))
      << "RFC 9112 §6.3 item 3: request smuggling's classic shape";
}

TEST(Ch11_Framing, BadContentLengthIs400) {
  TestServer server(test::test_config(), routes_with_hook);
  for (std::string_view value : {"+3", "3, 4", "abc"}) {
    EXPECT_TRUE(exchange(server.port(), "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                            std::string(value) + "\r\n\r\nabc")
                    .starts_with("HTTP/1.1 400 "))
        << value;
  }
}

TEST(Ch11_Framing, UnknownTransferCodingIs501) {
  TestServer server(test::test_config(), routes_with_hook);
  EXPECT_TRUE(exchange(server.port(),
                       "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
                  .starts_with("HTTP/1.1 501 "));
}

TEST(Ch11_Framing, DuplicateOrMissingHostIs400) {
  TestServer server;
  EXPECT_TRUE(exchange(server.port(), "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
                  .starts_with("HTTP/1.1 400 "))
      << "RFC 9112 §3.2: two Host lines";
  EXPECT_TRUE(exchange(server.port(), "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400 "))
      << "RFC 9112 §3.2: no Host in HTTP/1.1";
}

TEST(Ch11_Framing, ObsFoldIs400AndBareLfIsServed) {
  TestServer server;
  std::string folded = exchange(server.port(), "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n");
  EXPECT_TRUE(folded.starts_with("HTTP/1.1 400 ")) << folded;
  EXPECT_NE(folded.find("folding"), std::string::npos) << "the 400 says why (RFC 9112 §5.2)";
  EXPECT_TRUE(exchange(server.port(), "GET / HTTP/1.1\nHost: a\nConnection: close\n\n")
                  .starts_with("HTTP/1.1 200 "))
      << "RFC 9112 §2.2: a bare LF ends a line of the head";
}

// ---- request targets, seen from the wire ----------------------------------------------

TEST(Ch11_Target, AbsoluteFormServesThePath) {
  TestServer server;
  std::string response =
      exchange(server.port(),
               "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 ")) << response.substr(0, 200);
  EXPECT_NE(response.find("new WebSocket"), std::string::npos);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  EXPECT_TRUE(client.handshake("http://127.0.0.1/echo").starts_with("HTTP/1.1 101"))
      << "an upgrade in absolute-form routes by its path too";
}

TEST(Ch11_Target, OptionsAsteriskListsTheMethods) {
  TestServer server;
  std::string response =
      exchange(server.port(), "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 ")) << response;
  EXPECT_TRUE(has_header(response, "Allow: GET, HEAD, OPTIONS, POST")) << response;
}

TEST(Ch11_Target, ConnectIsRefusedWith501) {
  TestServer server;
  std::string response = exchange(server.port(),
                                  "CONNECT example.com:443 HTTP/1.1\r\n"
                                  "Host: example.com:443\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 501 ")) << response;
  EXPECT_NE(response.find("not a proxy"), std::string::npos) << "refused clearly";
}

TEST(Ch11_Target, HttpTwoInAnHttpOneRequestLineIs505) {
  TestServer server;
  std::string response = exchange(server.port(), "GET / HTTP/2.0\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 505 ")) << "RFC 9110 §15.6.6:\n" << response;
  std::string upgrade = exchange(server.port(),
                                 "GET /echo HTTP/2.0\r\nHost: x\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_TRUE(upgrade.starts_with("HTTP/1.1 505 "))
      << "no WebSocket opens over a request line that is not HTTP/1.x:\n"
      << upgrade;
}

TEST(Ch11_Target, EncodedTraversalIs400AndDoubleEncodingIsJustAName) {
  TestServer server;
  for (std::string_view path :
       {"/%2e%2e/Makefile", "/..%2fMakefile", "/web/%2E%2E/%2e%2e/Makefile"}) {
    EXPECT_TRUE(exchange(server.port(), "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n")
                    .starts_with("HTTP/1.1 400 "))
        << path;
  }
  EXPECT_TRUE(exchange(server.port(),
                       "GET /%252e%252e/Makefile HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 404 "))
      << "decoded once to a name \"%2e%2e\" that does not exist: 404, not the Makefile";
  EXPECT_TRUE(exchange(server.port(),
                       "GET /index%2ehtml HTTP/1.1\r\nHost: x\r\nConnection: "
                       "close\r\n\r\n")
                  .starts_with("HTTP/1.1 200 "))
      << "an encoded dot inside a name is just a dot";
}

// ---- keep-alive and pipelining ----------------------------------------------------------

TEST(Ch11_KeepAlive, Http11ConnectionsPersistByDefault) {
  TestServer server(test::test_config(), routes_with_hook);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  for (int i = 0; i < 5; ++i) {
    client.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string response = client.read_response();
    ASSERT_TRUE(response.starts_with("HTTP/1.1 200 ")) << "request " << i << ": " << response;
    EXPECT_FALSE(has_header(response, "Connection: close"))
        << "RFC 9112 §9.3: HTTP/1.1 defaults to persistent connections";
  }
  EXPECT_EQ(server.server().connection_count(), 1u) << "five requests, one TCP connection";
}

TEST(Ch11_KeepAlive, PipelinedRequestsAreAnsweredInOrder) {
  TestServer server(test::test_config(), routes_with_hook);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw(
      "POST /hook/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
      "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /hook/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n"
      "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(body_of(client.read_response()), "got 1: a at /hook/1");
  EXPECT_TRUE(client.read_response().starts_with("HTTP/1.1 404 "));
  EXPECT_EQ(body_of(client.read_response()), "got 1: c at /hook/3");
  EXPECT_TRUE(client.read_response(true).starts_with("HTTP/1.1 200 ")) << "HEAD: head only";
  std::string last = client.read_response();
  EXPECT_EQ(body_of(last), "ok\n") << "RFC 9112 §9.3.2: responses in the order of the requests";
  EXPECT_TRUE(has_header(last, "Connection: close"));
  EXPECT_EQ(client.read_all(), "") << "nothing after the last answer, then EOF";
  EXPECT_TRUE(client.eof());
}

TEST(Ch11_KeepAlive, ConnectionCloseAndHttp10EndTheConnection) {
  TestServer server;
  RawClient close;
  ASSERT_TRUE(close.connect(server.port()));
  close.send_raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(has_header(close.read_all(), "Connection: close"));
  EXPECT_TRUE(close.eof());
  RawClient old;
  ASSERT_TRUE(old.connect(server.port()));
  old.send_raw("GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(old.read_all().starts_with("HTTP/1.1 200 "));
  EXPECT_TRUE(old.eof()) << "RFC 9112 §9.3: HTTP/1.0 persists only if it asks for keep-alive";
  RawClient asks;
  ASSERT_TRUE(asks.connect(server.port()));
  asks.send_raw("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(has_header(asks.read_response(), "Connection: keep-alive"));
}

TEST(Ch11_KeepAlive, IdleConnectionIsClosedAfterTheTimeout) {
  ServerConfig config = test::test_config();
  config.keep_alive_timeout = 200ms;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.read_response().starts_with("HTTP/1.1 200 "));
  EXPECT_EQ(client.read_all(10s), "") << "RFC 9112 §9.8: an idle connection is closed quietly";
  EXPECT_TRUE(client.eof()) << "keep_alive_timeout must close it (generous test deadline: 10 s)";
}

TEST(Ch11_KeepAlive, MaxRequestsPerConnection) {
  ServerConfig config = test::test_config();
  config.limits.max_requests = 3;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  for (int i = 1; i <= 3; ++i) {
    client.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string response = client.read_response();
    ASSERT_TRUE(response.starts_with("HTTP/1.1 200 ")) << i;
    EXPECT_EQ(has_header(response, "Connection: close"), i == 3)
        << "request " << i << " of max_requests 3: the last one says close";
  }
  EXPECT_EQ(client.read_all(), "");
  EXPECT_TRUE(client.eof());
}

TEST(Ch11_KeepAlive, UpgradeMayFollowPlainRequests) {
  TestServer server;
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.read_response().starts_with("HTTP/1.1 200 "));
  ASSERT_TRUE(client.read_response(true).starts_with("HTTP/1.1 200 "));
  ASSERT_TRUE(client.handshake("/ws").starts_with("HTTP/1.1 101"))
      << "the page, then its WebSocket, on one connection";
  client.send_text("again");
  std::optional<test::RawFrame> reply = client.read_frame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload, "Echo: again");
}

// ---- static files -----------------------------------------------------------------------

// A temporary web root with one file per content type and a large file.
class WebRoot {
 public:
  WebRoot() {
    char pattern[] = "/tmp/openpipe-web-XXXXXX";
    dir_ = mkdtemp(pattern);
    for (const char* name : {"a.html", "a.js", "a.css", "a.svg", "a.png", "a.json", "a.wasm"}) {
      write(name, std::string("content of ") + name);
    }
  }
  ~WebRoot() {
    std::string command = "rm -rf '" + dir_ + "'";
    [[maybe_unused]] int rc = std::system(command.c_str());
  }
  void write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << data;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

ServerConfig config_for(const WebRoot& root) {
  ServerConfig config = test::test_config();
  config.web_root = root.dir();
  return config;
}

TEST(Ch11_StaticFiles, ContentTypeForEveryWebExtension) {
  WebRoot root;
  TestServer server(config_for(root));
  const std::pair<const char*, const char*> expected[] = {
      {"a.html", "text/html; charset=utf-8"},
      {"a.js", "text/javascript; charset=utf-8"},
      {"a.css", "text/css; charset=utf-8"},
      {"a.svg", "image/svg+xml"},
      {"a.png", "image/png"},
      {"a.json", "application/json"},
      {"a.wasm", "application/wasm"},
  };
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  for (auto [name, type] : expected) {
    client.send_raw(std::string("GET /") + name + " HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string response = client.read_response();
    EXPECT_EQ(header_value(response, "Content-Type"), type) << name;
    EXPECT_EQ(body_of(response), std::string("content of ") + name);
    EXPECT_EQ(header_value(response, "Cache-Control"), "no-cache")
        << "pages are kept but revalidated (RFC 9111 §5.2.2.4)";
  }
}

TEST(Ch11_StaticFiles, HeadHasTheLengthButNoBody) {
  WebRoot root;
  TestServer server(config_for(root));
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("HEAD /a.html HTTP/1.1\r\nHost: x\r\n\r\nGET /a.js HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = client.read_response(true);
  EXPECT_EQ(header_value(head, "Content-Length"),
            std::to_string(std::string("content of a.html").size()))
      << "RFC 9110 §9.3.2: HEAD answers the GET's headers";
  std::string next = client.read_response();
  EXPECT_TRUE(next.starts_with("HTTP/1.1 200 "))
      << "no body after the HEAD's head: the next bytes are the next answer\n"
      << next;
  EXPECT_EQ(body_of(next), "content of a.js");
}

TEST(Ch11_StaticFiles, IfNoneMatchGets304) {
  WebRoot root;
  TestServer server(config_for(root));
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET /a.css HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first = client.read_response();
  std::string etag = header_value(first, "ETag");
  ASSERT_FALSE(etag.empty()) << "RFC 9110 §8.8.3: a validator for the browser to send back";
  client.send_raw("GET /a.css HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\", " + etag +
                  "\r\n\r\n");
  std::string second = client.read_response();
  EXPECT_TRUE(second.starts_with("HTTP/1.1 304 ")) << second;
  EXPECT_EQ(body_of(second), "") << "a 304 has no content";
  EXPECT_EQ(header_value(second, "ETag"), etag);
  client.send_raw("GET /a.css HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"stale\"\r\n\r\n");
  EXPECT_TRUE(client.read_response().starts_with("HTTP/1.1 200 ")) << "another tag: the file";
}

TEST(Ch11_StaticFiles, IfModifiedSinceGets304) {
  WebRoot root;
  TestServer server(config_for(root));
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET /a.js HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string modified = header_value(client.read_response(), "Last-Modified");
  ASSERT_TRUE(modified.ends_with(" GMT")) << "RFC 9110 §5.6.7 IMF-fixdate: " << modified;
  client.send_raw("GET /a.js HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + modified + "\r\n\r\n");
  EXPECT_TRUE(client.read_response().starts_with("HTTP/1.1 304 "));
  client.send_raw(
      "GET /a.js HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n");
  EXPECT_TRUE(client.read_response().starts_with("HTTP/1.1 200 ")) << "changed since 2000";
  client.send_raw("GET /a.js HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: yesterday\r\n\r\n");
  EXPECT_TRUE(client.read_response().starts_with("HTTP/1.1 200 "))
      << "RFC 9110 §13.1.3: an invalid date is ignored";
}

TEST(Ch11_StaticFiles, LargeFileIsStreamedWholeAndPipelinedAnswersWait) {
  WebRoot root;
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7) % 26);
  root.write("big.bin", big);
  TestServer server(config_for(root));
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw(
      "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.json HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string response = client.read_response(false, 30s);
  EXPECT_EQ(header_value(response, "Content-Length"), std::to_string(big.size()));
  EXPECT_TRUE(body_of(response) == big) << "every byte of the 5 MiB file, in order (sendfile())";
  EXPECT_EQ(body_of(client.read_response()), "content of a.json")
      << "the pipelined answer comes after the whole file, not inside it";
}

// The parser refuses ".." before any route sees it (Ch11_Server.PathTraversalIsRefused);
// safe_file_path() is the second lock, for a caller that builds a path by hand.
TEST(Ch11_StaticFiles, SafePathRefusesDotDotOnItsOwn) {
  for (const char* path : {"/../Makefile", "/a/../../Makefile", "/..", "/a/.."}) {
    EXPECT_EQ(safe_file_path("/srv/web", path), "")
        << path << ": a \"..\" segment would leave the web root";
  }
  EXPECT_EQ(safe_file_path("/srv/web", "/a..b/c.txt"), "/srv/web/a..b/c.txt")
      << "only a whole \"..\" segment climbs; a name that contains two dots is a name";
  EXPECT_EQ(safe_file_path("/srv/web", "/docs/"), "/srv/web/docs/index.html");
}

TEST(Ch11_StaticFiles, HalfClosedClientStillGetsEveryAnswer) {
  WebRoot root;
  std::string big(3 << 20, 'b');
  root.write("big.bin", big);
  TestServer server(config_for(root));
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.css HTTP/1.1\r\nHost: x\r\n\r\n");
  ::shutdown(client.fd(), SHUT_WR);  // requests and FIN together, like `printf ... | nc`
  std::string response = client.read_response(false, 30s);
  EXPECT_EQ(body_of(response).size(), big.size())
      << "the client's FIN ends the requests, not the answers already owed";
  EXPECT_EQ(body_of(client.read_response()), "content of a.css");
  EXPECT_EQ(client.read_all(10s), "");
  EXPECT_TRUE(client.eof()) << "then the server closes";
}

TEST(Ch11_StaticFiles, HeadOfALargeFileSendsNoBody) {
  WebRoot root;
  root.write("big.bin", std::string(1 << 20, 'x'));
  TestServer server(config_for(root));
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  client.send_raw(
      "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.png HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(header_value(client.read_response(true), "Content-Length"), "1048576");
  EXPECT_EQ(body_of(client.read_response()), "content of a.png");
}

}  // namespace
}  // namespace ws
