// Test helpers for the connection state machine: a handler that records every
// event as a short readable string, and frame builders that play the peer.
// Header-only; used by the chapter 06 and 08 tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/protocol/connection.h"

namespace ws::test {

inline std::vector<uint8_t> to_bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

inline std::string hex_of(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    if (!out.empty()) out += ' ';
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// Records events as "text:Hello", "binary:01 02", "ping:..", "pong:..",
// "close:1000:bye", "error:frame-not-masked", "open", "request:GET /ws".
// By default it accepts every request (on_request calls accept()).
class Recorder : public ConnectionHandler {
 public:
  std::vector<std::string> events;
  bool accept_requests = true;
  bool echo = false;  // answer text/binary with the same message, like /echo

  void on_request(Connection& c, const HttpRequest& request) override {
    events.push_back("request:" + request.method + " " + request.target);
    if (accept_requests) {
      c.accept();
    } else {
      ConnectionHandler::on_request(c, request);  // 404
    }
  }
  void on_open(Connection&) override { events.push_back("open"); }
  void on_text(Connection& c, std::string_view text) override {
    events.push_back("text:" + std::string(text));
    if (echo) c.send_text(text);
  }
  void on_binary(Connection& c, std::span<const uint8_t> data) override {
    events.push_back("binary:" + hex_of(data));
    if (echo) c.send_binary(data);
  }
  void on_ping(Connection&, std::span<const uint8_t> data) override {
    events.push_back("ping:" + std::string(data.begin(), data.end()));
  }
  void on_pong(Connection&, std::span<const uint8_t> data) override {
    events.push_back("pong:" + std::string(data.begin(), data.end()));
  }
  void on_close(Connection&, uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }
  void on_error(Connection&, Error error) override {
    events.push_back("error:" + std::string(to_string(error)));
  }
};

// A frame as a client sends it: masked with a fixed key (tests are
// deterministic; real clients use a CSPRNG).
inline std::vector<uint8_t> client_frame(Opcode opcode, std::string_view payload, bool fin = true,
                                         MaskKey key = {0x37, 0xfa, 0x21, 0x3d}) {
  Buffer out;
  append_frame(out, opcode, fin, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()},
               &key);
  return {out.readable().begin(), out.readable().end()};
}

// A frame as a server sends it: unmasked.
inline std::vector<uint8_t> server_frame(Opcode opcode, std::string_view payload, bool fin = true) {
  Buffer out;
  append_frame(out, opcode, fin,
               {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  return {out.readable().begin(), out.readable().end()};
}

inline std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> all;
  for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// A valid opening request from RFC 6455 §1.2.
inline constexpr std::string_view kRfcRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// Takes everything the connection wants to send.
inline std::string drain(Connection& c) {
  std::span<const uint8_t> out = c.pending_output();
  std::string bytes(out.begin(), out.end());
  c.mark_sent(out.size());
  return bytes;
}

// Feeds bytes (copied: the connection may unmask in place).
inline void feed(Connection& c, ConnectionHandler& h, std::span<const uint8_t> bytes) {
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  c.receive_data(copy, h);
}
inline void feed(Connection& c, ConnectionHandler& h, std::string_view text) {
  feed(c, h, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// A server connection that has accepted kRfcRequest; its 101 is drained.
inline Connection open_server(Recorder& recorder, const ConnectionLimits& limits = {}) {
  Connection c(limits);
  feed(c, recorder, kRfcRequest);
  drain(c);
  recorder.events.clear();
  return c;
}

// Decodes the frames a server wrote (unmasked) into "opcode:payload" strings,
// close payloads as "close:CODE:reason".
inline std::vector<std::string> frames_in(std::string_view bytes) {
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  std::span<uint8_t> rest(copy);
  FrameDecoder decoder(Role::kClient, uint64_t{1} << 40);
  std::vector<std::string> frames;
  std::string payload;
  while (!rest.empty()) {
    DecodeResult r = decoder.decode(rest);
    rest = rest.subspan(r.consumed);
    if (r.status != DecodeStatus::kPayload) break;
    if (r.frame_start) payload.clear();
    payload.append(r.payload.begin(), r.payload.end());
    if (!r.frame_end) continue;
    Opcode op = decoder.header().opcode;
    std::string name = to_string(op);
    if (!decoder.header().fin) name += "(more)";
    if (op == Opcode::kClose && payload.size() >= 2) {
      uint16_t code = static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]));
      frames.push_back(name + ":" + std::to_string(code) + ":" + payload.substr(2));
    } else {
      frames.push_back(name + ":" + payload);
    }
  }
  return frames;
}

}  // namespace ws::test
