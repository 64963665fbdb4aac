// A deliberately minimal WebSocket client for integration tests: blocking
// loopback sockets with timeouts, and its OWN frame writer and reader,
// independent of src/protocol, so that one bug cannot hide itself by being on
// both sides of the wire. Header-only; namespace ws::test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ws::test {

struct RawFrame {
  bool fin = true;
  uint8_t rsv = 0;     // the three RSV bits, as a number 0-7
  uint8_t opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  bool masked = false;
  std::string payload;

  uint16_t close_code() const {
    return payload.size() >= 2 ? static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]))
                               : 1005;
  }
  std::string close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }
};

class RawClient {
 public:
  RawClient() = default;
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  RawClient(RawClient&& other) noexcept : fd_(other.fd_), pending_(std::move(other.pending_)) {
    other.fd_ = -1;
  }
  ~RawClient() { close_socket(); }

  // Connects to 127.0.0.1:port (blocking). False on failure.
  bool connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }

  // Sends a standard upgrade request for `path`; returns the response head
  // ("" on timeout). Bytes after the head stay buffered for read_frame().
  std::string handshake(std::string_view path = "/echo", std::string_view extra_headers = "") {
    std::string request = "GET " + std::string(path) +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n" +
                          std::string(extra_headers) + "\r\n";
    send_raw(request);
    return read_head();
  }

  bool open(uint16_t port, std::string_view path = "/echo") {
    return connect(port) && handshake(path).starts_with("HTTP/1.1 101");
  }

  // Reads an HTTP response head (up to the blank line).
  std::string read_head(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    while (true) {
      size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = pending_.substr(0, end + 4);
        pending_.erase(0, end + 4);
        return head;
      }
      if (!fill(timeout)) return "";
    }
  }

  // Reads everything until the server closes TCP (a full HTTP response).
  std::string read_all(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    while (fill(timeout)) {
    }
    std::string all = std::move(pending_);
    pending_.clear();
    return all;
  }

  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Writes one frame the way a client must (masked), unless told otherwise.
  static std::string encode(uint8_t opcode, std::string_view payload, bool fin = true, bool mask = true,
                            uint8_t rsv = 0) {
    std::string frame;
    frame += static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode);
    uint8_t mask_bit = mask ? 0x80 : 0;
    if (payload.size() < 126) {
      frame += static_cast<char>(mask_bit | payload.size());
    } else if (payload.size() <= 0xffff) {
      frame += static_cast<char>(mask_bit | 126);
      frame += static_cast<char>(payload.size() >> 8);
      frame += static_cast<char>(payload.size() & 0xff);
    } else {
      frame += static_cast<char>(mask_bit | 127);
      for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((payload.size() >> shift) & 0xff);
    }
    const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask) frame.append(reinterpret_cast<const char*>(key), 4);
    size_t start = frame.size();
    frame += payload;
    if (mask) {
      for (size_t i = 0; i < payload.size(); ++i) frame[start + i] ^= static_cast<char>(key[i % 4]);
    }
    return frame;
  }

  bool send_frame(uint8_t opcode, std::string_view payload, bool fin = true, bool mask = true,
                  uint8_t rsv = 0) {
    return send_raw(encode(opcode, payload, fin, mask, rsv));
  }
  bool send_text(std::string_view text) { return send_frame(1, text); }
  bool send_binary(std::string_view data) { return send_frame(2, data); }
  bool send_close(uint16_t code, std::string_view reason = "") {
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xff);
    payload += reason;
    return send_frame(8, payload);
  }

  // The next frame, or nothing on timeout or end of stream.
  std::optional<RawFrame> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    while (true) {
      if (std::optional<RawFrame> frame = parse_frame()) return frame;
      if (!fill(timeout)) return std::nullopt;
    }
  }

  // True if the server closed TCP (EOF or reset) within the timeout, after
  // any frames still in flight.
  bool wait_for_eof(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    pending_.clear();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!fill(timeout)) return eof_;
      pending_.clear();
    }
    return false;
  }

  bool eof() const { return eof_; }
  int fd() const { return fd_; }
  void close_socket() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // Reads more bytes into pending_; false on timeout or end of stream.
  bool fill(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready <= 0) return false;
    char buffer[65536];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  std::optional<RawFrame> parse_frame() {
    if (pending_.size() < 2) return std::nullopt;
    const auto* p = reinterpret_cast<const uint8_t*>(pending_.data());
    RawFrame frame;
    frame.fin = p[0] & 0x80;
    frame.rsv = (p[0] >> 4) & 7;
    frame.opcode = p[0] & 0x0f;
    frame.masked = p[1] & 0x80;
    uint64_t length = p[1] & 0x7f;
    size_t offset = 2;
    if (length == 126) {
      if (pending_.size() < 4) return std::nullopt;
      length = (uint64_t{p[2]} << 8) | p[3];
      offset = 4;
    } else if (length == 127) {
      if (pending_.size() < 10) return std::nullopt;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      offset = 10;
    }
    if (frame.masked) offset += 4;
    if (pending_.size() < offset + length) return std::nullopt;
    frame.payload = pending_.substr(offset, length);
    pending_.erase(0, offset + length);
    return frame;
  }

  int fd_ = -1;
  std::string pending_;  // bytes received and not yet parsed
  bool eof_ = false;
};

}  // namespace ws::test
