// Chapter 08 — the connection state machine: CONNECTING, OPEN, CLOSING,
// CLOSED, for the server and the client role. Bytes in, events and bytes out
// (RFC 6455 §4, §5.5, §7). No sockets: every test is a conversation of bytes.
#include <gtest/gtest.h>

#include <cstring>

#include "openpipe/protocol/connection.h"
#include "support/recorder.h"

namespace ws {
namespace {

using test::client_frame;
using test::concat;
using test::drain;
using test::feed;
using test::frames_in;
using test::Recorder;
using test::server_frame;

using Events = std::vector<std::string>;

// A deterministic "CSPRNG" for client tests: 0x01 0x02 0x03 ...
ClientOptions test_client_options() {
  ClientOptions options;
  options.host = "localhost:8000";
  options.resource = "/ws";
  options.random_bytes = [counter = uint8_t{0}](std::span<uint8_t> out) mutable {
    for (uint8_t& b : out) b = ++counter;
  };
  return options;
}

// ---- server: the opening handshake -------------------------------------------

TEST(Ch08_Connection, ServerStartsConnecting) {
  Connection c;
  EXPECT_EQ(c.state(), State::kConnecting);
  EXPECT_EQ(c.role(), Role::kServer);
  EXPECT_EQ(c.buffered_amount(), 0u) << "a server says nothing before the request";
}

TEST(Ch08_Connection, AcceptedRequestOpensAndAnswers101) {
  Recorder r;
  Connection c;
  feed(c, r, test::kRfcRequest);
  EXPECT_EQ(r.events, (Events{"request:GET /chat", "open"}));
  EXPECT_EQ(c.state(), State::kOpen);
  std::string answer = drain(c);
  EXPECT_EQ(answer.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            std::string::npos)
      << "RFC 6455 §1.3: the accept key for the RFC's sample nonce";
}

TEST(Ch08_Connection, RequestSplitAtEveryByteGivesTheSameAnswer) {
  for (size_t split = 0; split <= test::kRfcRequest.size(); ++split) {
    Recorder r;
    Connection c;
    feed(c, r, test::kRfcRequest.substr(0, split));
    feed(c, r, test::kRfcRequest.substr(split));
    ASSERT_EQ(c.state(), State::kOpen) << "request split at byte " << split;
    ASSERT_EQ(r.events, (Events{"request:GET /chat", "open"})) << "split at byte " << split;
  }
}

TEST(Ch08_Connection, FrameInTheSameSegmentAsTheRequestIsKept) {
  Recorder r;
  Connection c;
  std::vector<uint8_t> wire =
      concat({test::to_bytes(test::kRfcRequest), client_frame(Opcode::kText, "hi")});
  feed(c, r, wire);
  EXPECT_EQ(r.events, (Events{"request:GET /chat", "open", "text:hi"}))
      << "bytes after the blank line are the first frame, not garbage to drop";
}

TEST(Ch08_Connection, BadRequestGets400AndCloses) {
  Recorder r;
  Connection c;
  feed(c, r,
       "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(drain(c).rfind("HTTP/1.1 400 ", 0), 0u) << "RFC 6455 §4.2.1: a bad key is a 400";
  EXPECT_TRUE(c.wants_close_transport());
}

TEST(Ch08_Connection, WrongVersionGets426WithTheVersionWeSpeak) {
  Recorder r;
  Connection c;
  std::string request(test::kRfcRequest);
  request.replace(request.find("Version: 13"), 11, "Version: 8");
  feed(c, r, request);
  std::string answer = drain(c);
  EXPECT_EQ(answer.rfind("HTTP/1.1 426 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos)
      << "RFC 6455 §4.4: the 426 names the version the server supports";
}

TEST(Ch08_Connection, MalformedHttpGetsItsStatusAndAnError) {
  Recorder r;
  Connection c;
  feed(c, r, "\x16\x03\x01 this is not HTTP\r\n\r\n");
  EXPECT_EQ(drain(c).rfind("HTTP/1.1 400 ", 0), 0u);
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.front().rfind("error:http-", 0), 0u) << r.events.front();
  EXPECT_EQ(c.state(), State::kClosed);
}

TEST(Ch08_Connection, DefaultHandlerAnswers404) {
  ConnectionHandler handler;  // routes nothing
  Connection c;
  feed(c, handler, test::kRfcRequest);
  EXPECT_EQ(drain(c).rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(c.state(), State::kClosed);
}

TEST(Ch08_Connection, BytesAfterARejectedRequestAreIgnored) {
  Recorder r;
  r.accept_requests = false;
  Connection c;
  feed(c, r, concat({test::to_bytes(test::kRfcRequest), client_frame(Opcode::kText, "hi")}));
  EXPECT_EQ(r.events, Events{"request:GET /chat"}) << "no WebSocket, so no frames";
}

// ---- server: OPEN -------------------------------------------------------------------

TEST(Ch08_Connection, PingIsAnsweredWithPongCarryingTheSamePayload) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kPing, "Hello"));
  EXPECT_EQ(r.events, Events{"ping:Hello"});
  std::string out = drain(c);
  EXPECT_EQ(test::hex_of(test::to_bytes(out)), "8a 05 48 65 6c 6c 6f")
      << "RFC 6455 §5.5.2/§5.7: an unmasked Pong with the Ping's \"Hello\"";
}

TEST(Ch08_Connection, ControlFramesSplitAcrossReadsAreKeptApart) {
  Recorder r;
  Connection c = test::open_server(r);
  for (std::string_view payload : {"first ping", "second"}) {
    std::vector<uint8_t> frame = client_frame(Opcode::kPing, payload);
    size_t half = frame.size() - 3;  // the header and part of the payload, then the rest
    feed(c, r, std::span<const uint8_t>(frame).first(half));
    feed(c, r, std::span<const uint8_t>(frame).subspan(half));
  }
  EXPECT_EQ(r.events, (Events{"ping:first ping", "ping:second"}))
      << "a control payload that arrives in pieces is gathered, then forgotten";
  EXPECT_EQ(frames_in(drain(c)), (Events{"pong:first ping", "pong:second"}));
}

TEST(Ch08_Connection, PongIsReportedAndNotAnswered) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kPong, "x"));
  EXPECT_EQ(r.events, Events{"pong:x"});
  EXPECT_EQ(c.buffered_amount(), 0u) << "RFC 6455 §5.5.3: a Pong needs no answer";
}

TEST(Ch08_Connection, ServerFramesAreNotMasked) {
  Recorder r;
  Connection c = test::open_server(r);
  ASSERT_TRUE(c.send_text("Hello"));
  EXPECT_EQ(test::hex_of(test::to_bytes(drain(c))), "81 05 48 65 6c 6c 6f")
      << "RFC 6455 §5.1: \"A server MUST NOT mask any frames\"";
}

TEST(Ch08_Connection, UnmaskedClientFrameFailsWith1002) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, server_frame(Opcode::kText, "Hello"));  // a client frame without a mask
  EXPECT_EQ(r.events, (Events{"error:frame-not-masked", "close:1002:frame-not-masked"}));
  EXPECT_EQ(frames_in(drain(c)), Events{"close:1002:frame-not-masked"})
      << "RFC 6455 §5.1: a server MUST close the connection upon an unmasked frame";
  EXPECT_TRUE(c.wants_close_transport());
}

TEST(Ch08_Connection, MessageBeforeABadFrameIsAnsweredFirst) {
  Recorder r;
  r.echo = true;
  Connection c = test::open_server(r);
  std::vector<uint8_t> bad = {0xf1, 0x80, 1, 2, 3, 4};  // RSV1-3 set: protocol error
  feed(c, r, concat({client_frame(Opcode::kText, "first"), bad}));
  EXPECT_EQ(frames_in(drain(c)), (Events{"text:first", "close:1002:frame-reserved-bits"}))
      << "frames are handled strictly in order";
}

TEST(Ch08_Connection, NothingIsProcessedAfterAFailure) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, server_frame(Opcode::kText, "unmasked"));
  drain(c);
  r.events.clear();
  feed(c, r, client_frame(Opcode::kText, "late"));
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(c.buffered_amount(), 0u);
}

// ---- closing -------------------------------------------------------------------------

TEST(Ch08_Connection, ClientCloseIsEchoedAndTheServerIsClosed) {
  Recorder r;
  Connection c = test::open_server(r);
  std::string payload =
      "\x03\xe8"
      "bye";  // 1000, "bye"
  feed(c, r, client_frame(Opcode::kClose, payload));
  EXPECT_EQ(r.events, Events{"close:1000:bye"});
  EXPECT_EQ(frames_in(drain(c)), Events{"close:1000:"})
      << "RFC 6455 §5.5.1: reply with a Close frame, echoing the status code";
  EXPECT_EQ(c.state(), State::kClosed);
  EXPECT_TRUE(c.wants_close_transport()) << "RFC 6455 §7.1.1: the server closes TCP first";
}

TEST(Ch08_Connection, EmptyCloseIsAnsweredWithEmptyClose) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kClose, ""));
  EXPECT_EQ(r.events, Events{"close:1005:"})
      << "RFC 6455 §7.1.5: no code received is reported as 1005";
  EXPECT_EQ(test::hex_of(test::to_bytes(drain(c))), "88 00") << "1005 is never sent on the wire";
}

TEST(Ch08_Connection, InvalidCloseCodeFailsWith1002) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kClose, "\x03\xed"));  // 1005 may not be sent
  EXPECT_EQ(frames_in(drain(c)), Events{"close:1002:close-invalid-code"});
}

TEST(Ch08_Connection, OneByteCloseFailsWith1002) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kClose, "\x03"));
  EXPECT_EQ(frames_in(drain(c)), Events{"close:1002:close-one-byte-body"});
}

TEST(Ch08_Connection, InvalidUtf8CloseReasonFailsWith1007) {
  Recorder r;
  Connection c = test::open_server(r);
  feed(c, r, client_frame(Opcode::kClose, "\x03\xe8\xff"));
  EXPECT_EQ(frames_in(drain(c)), Events{"close:1007:close-invalid-utf8"});
}

TEST(Ch08_Connection, ServerCloseWaitsForThePeersClose) {
  Recorder r;
  Connection c = test::open_server(r);
  ASSERT_TRUE(c.close(kCloseGoingAway, "shutting down"));
  EXPECT_EQ(c.state(), State::kClosing);
  EXPECT_EQ(frames_in(drain(c)), Events{"close:1001:shutting down"});
  EXPECT_FALSE(c.wants_close_transport()) << "RFC 6455 §7.1.2: wait for the peer's close frame";
  feed(c, r, client_frame(Opcode::kClose, "\x03\xe9"));
  EXPECT_EQ(c.state(), State::kClosed);
  EXPECT_EQ(c.buffered_amount(), 0u) << "a close is not answered twice";
  EXPECT_EQ(r.events, Events{"close:1001:"});
}

TEST(Ch08_Connection, AfterSendingCloseOnlyThePeersCloseCounts) {
  Recorder r;
  Connection c = test::open_server(r);
  c.close();
  drain(c);
  feed(c, r, concat({client_frame(Opcode::kText, "late"), client_frame(Opcode::kPing, "p")}));
  EXPECT_EQ(r.events, Events{"ping:p"}) << "data after our close is discarded (§5.5.1)";
  EXPECT_EQ(c.buffered_amount(), 0u) << "no pong after our close frame";
  EXPECT_FALSE(c.send_text("more")) << "RFC 6455 §5.5.1: no data frames after a Close";
}

TEST(Ch08_Connection, EofWithoutCloseIsAbnormal1006) {
  Recorder r;
  Connection c = test::open_server(r);
  c.receive_eof(r);
  EXPECT_EQ(r.events, Events{"close:1006:"}) << "RFC 6455 §7.1.5: no close frame means 1006";
  EXPECT_EQ(c.state(), State::kClosed);
}

TEST(Ch08_Connection, CloseWithAnInvalidCodeIsRefused) {
  Recorder r;
  Connection c = test::open_server(r);
  EXPECT_FALSE(c.close(1006)) << "1006 may never appear in a close frame";
  EXPECT_FALSE(c.close(999));
  EXPECT_EQ(c.state(), State::kOpen);
}

// ---- application sends ----------------------------------------------------------------

TEST(Ch08_Connection, FragmentedSendFollowsTheRules) {
  Recorder r;
  Connection c = test::open_server(r);
  std::vector<uint8_t> part = test::to_bytes("ab");
  EXPECT_FALSE(c.send_frame(Opcode::kContinuation, part, true)) << "nothing to continue";
  EXPECT_TRUE(c.send_frame(Opcode::kText, part, false));
  EXPECT_FALSE(c.send_text("x")) << "§5.4: no other message inside a fragmented one";
  EXPECT_TRUE(c.send_ping());
  EXPECT_TRUE(c.send_frame(Opcode::kContinuation, part, true));
  EXPECT_EQ(frames_in(drain(c)), (Events{"text(more):ab", "ping:", "continuation:ab"}));
}

TEST(Ch08_Connection, PingPayloadOver125BytesIsRefused) {
  Recorder r;
  Connection c = test::open_server(r);
  std::vector<uint8_t> big(126, 'x');
  EXPECT_FALSE(c.send_ping(big)) << "RFC 6455 §5.5: control payloads are at most 125 bytes";
}

TEST(Ch08_Connection, SendingBeforeOpenIsRefused) {
  Connection c;
  EXPECT_FALSE(c.send_text("too early"));
  EXPECT_EQ(c.buffered_amount(), 0u);
}

// ---- client role --------------------------------------------------------------------------

TEST(Ch08_Connection, ClientQueuesItsRequestAtOnce) {
  Connection c(test_client_options());
  EXPECT_EQ(c.role(), Role::kClient);
  std::string request = drain(c);
  EXPECT_EQ(request.rfind("GET /ws HTTP/1.1\r\n", 0), 0u) << request;
  // Bytes 01..10 in base64 are the key our fake random source produces.
  EXPECT_NE(request.find("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"), std::string::npos)
      << request;
}

// Runs a client and a server connection against each other in memory.
struct Pair {
  Recorder server_events, client_events;
  Connection server;
  Connection client{test_client_options()};

  // Moves bytes both ways until neither side has anything to send.
  void pump() {
    for (int turn = 0; turn < 100; ++turn) {
      std::string to_server = drain(client);
      std::string to_client = drain(server);
      if (to_server.empty() && to_client.empty()) return;
      if (!to_server.empty()) feed(server, server_events, to_server);
      if (!to_client.empty()) feed(client, client_events, to_client);
    }
  }
};

TEST(Ch08_Connection, ClientAndServerOpenTogether) {
  Pair p;
  p.pump();
  EXPECT_EQ(p.client.state(), State::kOpen);
  EXPECT_EQ(p.server.state(), State::kOpen);
  EXPECT_EQ(p.client_events.events, Events{"open"});
}

TEST(Ch08_Connection, ClientFramesAreMasked) {
  Pair p;
  p.pump();
  ASSERT_TRUE(p.client.send_text("Hello"));
  std::string wire = drain(p.client);
  ASSERT_GE(wire.size(), 2u);
  EXPECT_TRUE(static_cast<uint8_t>(wire[1]) & 0x80)
      << "RFC 6455 §5.3: a client MUST mask every frame it sends";
  EXPECT_NE(wire.find("Hello"), wire.size() - 5) << "the payload must not travel in clear";
  feed(p.server, p.server_events, wire);
  EXPECT_EQ(p.server_events.events.back(), "text:Hello");
}

TEST(Ch08_Connection, TheServersEchoReachesTheClient) {
  Pair p;
  p.server_events.echo = true;
  p.pump();
  p.client.send_text("Hello WebSocket");
  p.pump();
  EXPECT_EQ(p.client_events.events.back(), "text:Hello WebSocket");
}

TEST(Ch08_Connection, ClosingHandshakeFromTheClient) {
  Pair p;
  p.pump();
  ASSERT_TRUE(p.client.close(kCloseNormal, "done"));
  p.pump();
  EXPECT_EQ(p.server.state(), State::kClosed);
  EXPECT_EQ(p.client.state(), State::kClosed);
  EXPECT_EQ(p.server_events.events.back(), "close:1000:done");
  EXPECT_EQ(p.client_events.events.back(), "close:1000:");
}

TEST(Ch08_Connection, ClientRefusesAWrongAcceptKey) {
  Recorder r;
  Connection c(test_client_options());
  drain(c);
  feed(c, r,
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  EXPECT_EQ(r.events, Events{"error:handshake-bad-accept"})
      << "RFC 6455 §4.1: the client MUST fail if the accept key is not the expected one";
  EXPECT_EQ(c.state(), State::kClosed);
}

TEST(Ch08_Connection, ClientRefusesMaskedServerFrames) {
  Pair p;
  p.pump();
  feed(p.client, p.client_events, client_frame(Opcode::kText, "masked"));
  EXPECT_EQ(p.client_events.events.back(), "close:1002:frame-masked")
      << "RFC 6455 §5.1: a client MUST close the connection if it sees a masked frame";
}

TEST(Ch08_Connection, ClientRefusesAnHttpError) {
  Recorder r;
  Connection c(test_client_options());
  drain(c);
  feed(c, r, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.events, Events{"error:handshake-bad-response"});
}

}  // namespace
}  // namespace ws
