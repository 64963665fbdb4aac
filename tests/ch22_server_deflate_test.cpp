// Chapter 22 — permessage-deflate through a real server and a real client:
// the library's Client against a ws::Server on loopback, and a decompression
// bomb against the server, whose memory must not follow the bomb.
// Run: make test CH=22
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "openpipe/io/client.h"
#include "support/raw_ws.h"
#include "support/test_server.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::RawClient;
using test::TestServer;

// The server's first answer is a close frame with `code`. (The server may
// reset TCP afterwards: the rest of the bomb is never read, RFC 6455 §7.1.7.)
::testing::AssertionResult closes_with(RawClient& client, uint16_t code) {
  std::optional<test::RawMessage> reply = client.read_message(30s);
  if (!reply) return ::testing::AssertionFailure() << "no answer within 30 s";
  if (reply->opcode != 8) return ::testing::AssertionFailure() << "opcode " << int(reply->opcode);
  const uint16_t got =
      reply->payload.size() >= 2
          ? static_cast<uint16_t>(uint8_t(reply->payload[0]) << 8 | uint8_t(reply->payload[1]))
          : 1005;
  if (got != code) return ::testing::AssertionFailure() << "close " << got << ", expected " << code;
  return ::testing::AssertionSuccess();
}

// This process's resident memory (the server runs in a thread of it).
double resident_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024;
  }
  return -1;
}

TEST(Ch22_Client, NegotiatesAndEchoesThroughTheServer) {
  TestServer server;
  ClientConfig config;
  config.deflate.enabled = true;
  Client client(config);
  ASSERT_TRUE(
      client.connect("ws://127.0.0.1:" + std::to_string(server.port()) + "/echo", 5000ms).ok());
  ASSERT_NE(client.deflate(), nullptr) << "the client offers, the server accepts (RFC 7692 §5)";
  EXPECT_TRUE(client.deflate()->server_no_context_takeover);
  const std::string text = "{\"text\":\"" + std::string(500, 'w') + "\"}";
  ASSERT_TRUE(client.send_text(text).ok());
  ClientEvent event = client.receive(5000ms);
  EXPECT_EQ(event.type, ClientEventType::kText);
  EXPECT_EQ(event.data, text);
  EXPECT_TRUE(client.close().ok());
}

TEST(Ch22_Client, OffersNothingUnlessAsked) {
  TestServer server;
  Client client;  // ClientConfig::deflate is off by default
  ASSERT_TRUE(
      client.connect("ws://127.0.0.1:" + std::to_string(server.port()) + "/echo", 5000ms).ok());
  EXPECT_EQ(client.deflate(), nullptr);
  client.close();
}

// build/ws_client (or $OPENPIPE_BUILD/ws_client, as make test sets it).
std::string ws_client_path() {
  std::string build = OPENPIPE_SOURCE_DIR "/build";
  if (const char* env = std::getenv("OPENPIPE_BUILD"); env != nullptr && *env != '\0') {
    build = env[0] == '/' ? std::string(env) : std::string(OPENPIPE_SOURCE_DIR "/") + env;
  }
  return build + "/ws_client";
}

TEST(Ch22_Client, WsClientDeflateFlag) {
  const std::string binary = ws_client_path();
  if (access(binary.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << binary << ": run make";
  TestServer server;
  const std::string message = "{\"text\":\"" + std::string(100, 'c') + "\"}";
  const std::string command = binary + " --deflate --send '" + message +
                              "' ws://127.0.0.1:" + std::to_string(server.port()) + "/echo 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[512];
  while (size_t n = fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("(permessage-deflate: accepted)"), std::string::npos) << output;
  EXPECT_NE(output.find(message), std::string::npos) << "the echo, printed\n" << output;
}

TEST(Ch22_Server, DeclinesWhenDisabled) {
  ServerConfig config = test::test_config();
  config.deflate.enabled = false;
  TestServer server(config);
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  const std::string head =
      client.handshake("/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  ASSERT_TRUE(head.starts_with("HTTP/1.1 101")) << head;
  EXPECT_EQ(head.find("Sec-WebSocket-Extensions"), std::string::npos) << head;
}

// Raw DEFLATE of `size` zero bytes with Z_RLE (about 1000:1), tail removed.
std::string zeros_deflated(uint64_t size) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_RLE);
  std::vector<uint8_t> zeros(1 << 20, 0);
  std::string out;
  char chunk[1 << 16];
  for (uint64_t done = 0; done < size; done += zeros.size()) {
    const bool last = done + zeros.size() >= size;
    z.next_in = zeros.data();
    z.avail_in = static_cast<uInt>(std::min<uint64_t>(zeros.size(), size - done));
    do {
      z.next_out = reinterpret_cast<Bytef*>(chunk);
      z.avail_out = sizeof chunk;
      deflate(&z, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      out.append(chunk, sizeof chunk - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  out.resize(out.size() - 4);
  return out;
}

TEST(Ch22_Bomb, OneGibibyteBombGets1009AndMemoryStaysFlat) {
  ServerConfig config = test::test_config();
  config.limits.max_message_size = 4 << 20;  // 4 MiB: the frame itself is allowed
  TestServer server(config);
  const std::string bomb = zeros_deflated(uint64_t{1} << 30);  // 1 GiB of zeros
  ASSERT_LT(bomb.size(), 2u << 20) << "about 1 MiB on the wire claims 1 GiB";
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  ASSERT_TRUE(client.handshake("/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
                  .starts_with("HTTP/1.1 101"));
  const double before = resident_mib();
  ASSERT_TRUE(client.send_raw(RawClient::encode(2, bomb, true, true, /*rsv=*/4)));
  EXPECT_TRUE(closes_with(client, 1009))
      << "chapter 22: max_message_size counts inflated bytes, checked while inflating";
  const double growth = resident_mib() - before;
  EXPECT_LT(growth, 64.0) << "the server inflated " << growth
                          << " MiB: RSS must stay near the 4 MiB limit, not follow the 1 GiB bomb";
  std::printf("bomb: %zu bytes on the wire claim 1 GiB; RSS %.1f MiB before, %+.1f MiB after\n",
              bomb.size(), before, growth);
}

TEST(Ch22_Bomb, OneKibibyteFrameGets1009) {
  ServerConfig config = test::test_config();
  config.limits.max_message_size = 64 * 1024;
  TestServer server(config);
  const std::string bomb = zeros_deflated(1 << 20);  // 1 MiB of zeros
  ASSERT_LT(bomb.size(), 1200u) << "about 1 KiB on the wire";
  RawClient client;
  ASSERT_TRUE(client.connect(server.port()));
  ASSERT_TRUE(client.handshake("/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
                  .starts_with("HTTP/1.1 101"));
  ASSERT_TRUE(client.send_raw(RawClient::encode(2, bomb, true, true, /*rsv=*/4)));
  EXPECT_TRUE(test::expect_close(client, {1009}, /*reply=*/true, 10s))
      << "a 1 KiB frame that inflates to 1 MiB, over a 64 KiB limit";
}

}  // namespace
}  // namespace ws
