// Chapter 08, the connection before the upgrade: plain HTTP requests one
// after another on one connection (keep-alive, pipelining: RFC 9112 §9.3),
// bodies read whole before the handler sees the request, answers in request
// order, and an upgrade after them. Bytes in, bytes out, split at every byte.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "openpipe/protocol/connection.h"
#include "support/recorder.h"

namespace ws {
namespace {

using test::to_bytes;

// Answers every plain request with "<method> <path> <body>"; upgrades
// requests that ask for one. Records what it saw.
class Answerer : public ConnectionHandler {
 public:
  std::vector<std::string> seen;
  uint64_t body_limit = 1 << 20;
  size_t streamed_size = 0;  // > 0: answer GET /file with a streamed body of this size

  uint64_t on_request_head(Connection&, const HttpRequest&) override { return body_limit; }
  void on_request(Connection& c, const HttpRequest& request) override {
    seen.push_back(request.method + " " + std::string(request.path()) + " [" + request.body + "]");
    if (is_websocket_upgrade(request)) {
      c.accept();
    } else if (streamed_size > 0 && request.path() == "/file") {
      c.reply_streamed(HttpReply::text(200, ""), std::make_unique<Sized>(streamed_size));
    } else {
      c.reply(HttpReply::text(
          200, request.method + " " + std::string(request.path()) + " " + request.body));
    }
  }
  void on_open(Connection&) override { seen.push_back("open"); }
  void on_text(Connection&, std::string_view text) override {
    seen.push_back("text:" + std::string(text));
  }
  void on_error(Connection&, Error error) override {
    seen.push_back("error:" + std::string(to_string(error)));
  }

 private:
  struct Sized : ReplyBody {
    explicit Sized(uint64_t size) : size_(size) {}
    uint64_t size() const override { return size_; }
    uint64_t size_;
  };
};

std::string output_of(Connection& c) {
  std::span<const uint8_t> out = c.pending_output();
  std::string text(out.begin(), out.end());
  c.mark_sent(out.size());
  return text;
}

void feed(Connection& c, std::string_view text, ConnectionHandler& handler) {
  std::vector<uint8_t> data = to_bytes(text);
  c.receive_data(data, handler);
}

constexpr std::string_view kPipeline =
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
    "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    "HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n";

constexpr std::string_view kPipelineAnswers =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 7\r\n\r\n"
    "GET /a "
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\n"
    "POST /b xyz"
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\n\r\n"
    "POST /c hi"
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 8\r\n\r\n";

const std::vector<std::string> kPipelineSeen = {"GET /a []", "POST /b [xyz]", "POST /c [hi]",
                                                "HEAD /d []"};

TEST(Ch08_KeepAlive, PipelinedRequestsAreAnsweredInOrder) {
  Connection c;
  Answerer a;
  feed(c, kPipeline, a);
  EXPECT_EQ(a.seen, kPipelineSeen) << "one on_request per request, bodies read whole";
  EXPECT_EQ(output_of(c), kPipelineAnswers)
      << "RFC 9112 §9.3.2: answers in request order; HEAD has the length and no body";
  EXPECT_EQ(c.state(), State::kConnecting) << "HTTP/1.1 persists: waiting for the next request";
  EXPECT_TRUE(c.idle_between_requests());
}

TEST(Ch08_KeepAlive, SameAnswersAtEverySplitPoint) {
  for (size_t split = 0; split <= kPipeline.size(); ++split) {
    Connection c;
    Answerer a;
    feed(c, kPipeline.substr(0, split), a);
    feed(c, kPipeline.substr(split), a);
    EXPECT_EQ(a.seen, kPipelineSeen) << "split before byte " << split;
    EXPECT_EQ(output_of(c), kPipelineAnswers) << "split before byte " << split;
  }
}

TEST(Ch08_KeepAlive, SameAnswersOneByteAtATime) {
  Connection c;
  Answerer a;
  for (char byte : kPipeline) feed(c, std::string_view(&byte, 1), a);
  EXPECT_EQ(a.seen, kPipelineSeen);
  EXPECT_EQ(output_of(c), kPipelineAnswers);
}

TEST(Ch08_KeepAlive, ConnectionCloseIsTheLastAnswer) {
  Connection c;
  Answerer a;
  feed(c,
       "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
       a);
  EXPECT_EQ(a.seen, std::vector<std::string>{"GET /a []"}) << "nothing is read after close";
  EXPECT_NE(output_of(c).find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(c.wants_close_transport());
}

TEST(Ch08_KeepAlive, Http10ClosesUnlessItAsksForKeepAlive) {
  Connection old;
  Answerer a;
  feed(old, "GET / HTTP/1.0\r\n\r\n", a);
  EXPECT_TRUE(old.wants_close_transport()) << "RFC 9112 §9.3: HTTP/1.0 closes by default";
  Connection asks;
  feed(asks, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", a);
  EXPECT_EQ(asks.state(), State::kConnecting);
  EXPECT_NE(output_of(asks).find("Connection: keep-alive\r\n"), std::string::npos)
      << "an HTTP/1.0 client is told the connection persists";
}

TEST(Ch08_KeepAlive, MaxRequestsClosesAfterTheLastOne) {
  ConnectionLimits limits;
  limits.max_requests = 2;
  Connection c(limits);
  Answerer a;
  feed(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\n",
       a);
  EXPECT_EQ(a.seen.size(), 2u);
  std::string out = output_of(c);
  EXPECT_EQ(out.find("Connection: close"), out.rfind("Connection: close"))
      << "only the second (last) answer says close";
  EXPECT_TRUE(c.wants_close_transport());
}

TEST(Ch08_KeepAlive, UpgradeAfterPlainRequestsWithFrameInTheSameRead) {
  Connection c;
  Answerer a;
  std::vector<uint8_t> frame = test::client_frame(Opcode::kText, "hi");
  std::string bytes =
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
      std::string(frame.begin(), frame.end());
  feed(c, bytes, a);
  EXPECT_EQ(a.seen, (std::vector<std::string>{"GET / []", "GET /ws []", "open", "text:hi"}))
      << "a page, then its WebSocket, then the first frame: all on one connection";
  EXPECT_EQ(c.state(), State::kOpen);
}

TEST(Ch08_KeepAlive, UpgradeWithABodyIsRefusedAtItsHead) {
  Connection c;
  Answerer a;
  feed(c,
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
       "Content-Length: 6\r\n\r\n\x81\x80\x00\x00\x00\x00",
       a);
  EXPECT_EQ(a.seen, std::vector<std::string>{"error:handshake-has-body"})
      << "RFC 9112 §6: refused before anything reads the body, as HTTP or as frames";
  EXPECT_TRUE(output_of(c).starts_with("HTTP/1.1 400 "));
  EXPECT_TRUE(c.wants_close_transport());
}

TEST(Ch08_KeepAlive, FramingErrorAnswersAndCloses) {
  Connection c;
  Answerer a;
  feed(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nGET / HTTP/1.1\r\n\r\n", a);
  EXPECT_EQ(a.seen, std::vector<std::string>{"error:http-bad-content-length"});
  EXPECT_TRUE(output_of(c).starts_with("HTTP/1.1 400 "));
  EXPECT_TRUE(c.wants_close_transport()) << "where the next request starts is unknown: close";
}

TEST(Ch08_KeepAlive, BodyOverTheHandlersLimitIs413) {
  Connection c;
  Answerer a;
  a.body_limit = 4;
  feed(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", a);
  EXPECT_EQ(a.seen, std::vector<std::string>{"error:http-body-too-large"});
  EXPECT_TRUE(output_of(c).starts_with("HTTP/1.1 413 "));
}

TEST(Ch08_KeepAlive, StreamedBodyHoldsPipelinedRequestsUntilSent) {
  Connection c;
  Answerer a;
  a.streamed_size = 1000;
  feed(c, "GET /file HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n", a);
  EXPECT_EQ(a.seen, std::vector<std::string>{"GET /file []"})
      << "the next request waits: its answer must not overtake the file";
  std::string head = output_of(c);
  EXPECT_NE(head.find("Content-Length: 1000\r\n"), std::string::npos) << head;
  ASSERT_NE(c.streamed_body(), nullptr) << "the I/O layer sends the 1000 bytes now";
  EXPECT_FALSE(c.idle_between_requests());
  c.streamed_body_sent(a);
  EXPECT_EQ(a.seen, (std::vector<std::string>{"GET /file []", "GET /next []"}))
      << "then the held request is read";
  EXPECT_EQ(c.streamed_body(), nullptr);
}

TEST(Ch08_KeepAlive, StreamedBodyIsDroppedForHead) {
  Connection c;
  Answerer a;
  a.streamed_size = 1000;
  feed(c, "HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n", a);
  EXPECT_EQ(c.streamed_body(), nullptr) << "RFC 9110 §9.3.2: HEAD gets the head only";
  EXPECT_NE(output_of(c).find("Content-Length: 1000\r\n"), std::string::npos);
}

TEST(Ch08_KeepAlive, CloseIdleEndsOnlyAnIdleConnection) {
  Connection c;
  Answerer a;
  feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /half", a);
  EXPECT_FALSE(c.idle_between_requests()) << "half a request has come: not idle";
  c.close_idle();
  EXPECT_EQ(c.state(), State::kConnecting);
  Connection idle;
  feed(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", a);
  idle.close_idle();
  EXPECT_TRUE(idle.wants_close_transport()) << "RFC 9112 §9.8: closed quietly when idle";
}

}  // namespace
}  // namespace ws
