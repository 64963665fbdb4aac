// A deliberately minimal WebSocket client for integration tests: blocking
// loopback sockets with timeouts, and its OWN frame writer and reader,
// independent of src/protocol, so that one bug cannot hide itself by being on
// both sides of the wire. Header-only; namespace ws::test.
// Also the checks the conformance suite (chapter 15) shares: "the next thing
// the server sends is this message / this pong / this close, then EOF".
// With OPENPIPE_TEST_TLS=1 (test_tls.h) it speaks TLS, through OpenSSL's own
// socket BIO (SSL_set_fd): again independent of the server's memory-BIO
// layer in src/protocol/tls.cpp, so the two cannot share a bug.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test_tls.h"

namespace ws::test {

struct RawFrame {
  bool fin = true;
  uint8_t rsv = 0;     // the three RSV bits, as a number 0-7
  uint8_t opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  bool masked = false;
  bool minimal_length = true;  // §5.2: the length used the fewest bytes possible
  std::string payload;

  uint16_t close_code() const {
    return payload.size() >= 2
               ? static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]))
               : 1005;
  }
  std::string close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }
};

// A message as the server sent it, reassembled from however many frames it
// chose (RFC 6455 §5.4: any fragmentation is allowed). A control frame is a
// "message" of one frame. `error` is set if the frames broke a rule.
struct RawMessage {
  uint8_t opcode = 0;  // of the first frame: 1, 2, or a control opcode
  std::string payload;
  size_t frames = 0;  // how many frames carried it
  std::string error;  // empty if the server's frames were well formed
};

// A different masking key for every call: a deterministic sequence
// (xorshift32), so a failure can be replayed, that still visits every byte
// value in every key position -- a server that unmasks with the wrong key
// phase, or only works for some keys, cannot pass.
inline std::array<uint8_t, 4> varied_mask_key() {
  static thread_local uint32_t state = 0x9E3779B9;
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return {uint8_t(state >> 24), uint8_t(state >> 16), uint8_t(state >> 8), uint8_t(state)};
}

class RawClient {
 public:
  RawClient() = default;
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  RawClient(RawClient&& other) noexcept
      : fd_(other.fd_),
        pending_(std::move(other.pending_)),
        start_(other.start_),
        eof_(other.eof_),
        reset_(other.reset_),
        held_(std::move(other.held_)),
        ssl_(other.ssl_),
        tls_closed_(other.tls_closed_),
        close_notify_(other.close_notify_) {
    other.fd_ = -1;
    other.ssl_ = nullptr;
  }
  ~RawClient() { close_socket(); }

  // Connects to 127.0.0.1:port (blocking). False on failure. A
  // `receive_buffer` (bytes) makes a slow reader: set before connect(), it
  // keeps the window the client offers small, so the server's sends meet a
  // full socket (chapter 16's direct sends).
  bool connect(uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (receive_buffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return false;
    return !tls_mode() || start_tls();
  }

  // With OPENPIPE_TEST_TLS=1: the TLS handshake, checking the server's
  // certificate against the test CA and 127.0.0.1. The socket becomes
  // non-blocking: every TLS wait goes through poll() with a deadline.
  bool start_tls(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    static SSL_CTX* ctx = [] {
      SSL_CTX* c = SSL_CTX_new(TLS_client_method());
      SSL_CTX_load_verify_locations(c, process_ca().ca_file().c_str(), nullptr);
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
      SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
      return c;
    }();
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    SSL_set_connect_state(ssl_);
    for (;;) {
      int rc = SSL_do_handshake(ssl_);
      if (rc == 1) return true;
      if (!tls_wait(SSL_get_error(ssl_, rc), timeout)) return false;
    }
  }
  bool tls() const { return ssl_ != nullptr; }
  // The server's close_notify arrived (before its TCP FIN, as it should).
  bool close_notify_received() const { return close_notify_; }

  // The upgrade request the handshake() below sends (a test may alter it).
  static std::string upgrade_request(std::string_view path = "/echo",
                                     std::string_view extra_headers = "") {
    return "GET " + std::string(path) +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n" +
           std::string(extra_headers) + "\r\n";
  }

  // Sends a standard upgrade request for `path`; returns the response head
  // ("" on timeout). Bytes after the head stay buffered for read_frame().
  std::string handshake(std::string_view path = "/echo", std::string_view extra_headers = "") {
    send_raw(upgrade_request(path, extra_headers));
    return read_head();
  }

  bool open(uint16_t port, std::string_view path = "/echo") {
    return connect(port) && handshake(path).starts_with("HTTP/1.1 101");
  }

  // Reads an HTTP response head (up to the blank line).
  std::string read_head(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    while (true) {
      size_t end = pending().find("\r\n\r\n");
      if (end != std::string_view::npos) {
        std::string head(pending().substr(0, end + 4));
        consume(end + 4);
        return head;
      }
      if (!fill(timeout)) return "";
    }
  }

  // Reads one HTTP response: its head, then as many body bytes as its
  // Content-Length says (none if it has none: a 304, or a HEAD's answer when
  // `head_only`). Bytes after it stay buffered: the next pipelined answer.
  // "" on timeout. For keep-alive, where the server does not close TCP.
  std::string read_response(bool head_only = false,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string head = read_head(timeout);
    if (head.empty() || head_only) return head;
    size_t at = head.find("\r\nContent-Length: ");
    if (at == std::string::npos) return head;
    size_t length = std::stoul(head.substr(at + 18));
    while (pending().size() < length) {
      if (!fill(timeout)) return "";
    }
    std::string body(pending().substr(0, length));
    consume(length);
    return head + body;
  }

  // Reads everything until the server closes TCP (a full HTTP response), or
  // until nothing arrives for `timeout`; eof() tells which.
  std::string read_all(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    while (fill(timeout)) {
    }
    std::string all(pending());
    consume(all.size());
    return all;
  }

  bool send_raw(std::string_view bytes) {
    if (ssl_) return tls_send(bytes, std::chrono::seconds(10), false);
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Sends `bytes` in writes of `chunk` bytes (TCP_NODELAY is on, so each is
  // its own segment), pausing `pause` between them: the server must cope
  // with a frame that arrives in pieces.
  bool send_chunked(std::string_view bytes, size_t chunk,
                    std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
    while (!bytes.empty()) {
      size_t n = std::min(chunk, bytes.size());
      if (!send_raw(bytes.substr(0, n))) return false;
      bytes.remove_prefix(n);
      if (pause.count() > 0 && !bytes.empty()) std::this_thread::sleep_for(pause);
    }
    return true;
  }

  // Sends `bytes` while storing whatever the server sends meanwhile, so that
  // a long stream of messages cannot deadlock: the server stops reading a
  // client that does not read its echoes (backpressure), and a plain
  // blocking send would then wait forever.
  bool send_streaming(std::string_view bytes,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (ssl_) return tls_send(bytes, timeout, true);
    while (!bytes.empty()) {
      pollfd p{fd_, POLLIN | POLLOUT, 0};
      int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;  // stuck for `timeout`
      if (p.revents & POLLIN) {
        if (!receive_some()) return false;
      }
      if (p.revents & (POLLOUT | POLLERR | POLLHUP)) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(n));
      }
    }
    return true;
  }

  // Writes one frame the way a client must (masked), unless told otherwise.
  // `rsv` is the three RSV bits as a number: 4 = RSV1, 2 = RSV2, 1 = RSV3.
  // `key` is the masking key (§5.3); the default is fixed, varied_mask_key()
  // gives a different one for every frame, as a real client's CSPRNG would.
  static std::string encode(uint8_t opcode, std::string_view payload, bool fin = true,
                            bool mask = true, uint8_t rsv = 0,
                            std::array<uint8_t, 4> key = {0x12, 0x34, 0x56, 0x78}) {
    std::string frame;
    frame.reserve(payload.size() + 14);
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
      for (int shift = 56; shift >= 0; shift -= 8)
        frame += static_cast<char>((payload.size() >> shift) & 0xff);
    }
    if (mask) frame.append(reinterpret_cast<const char*>(key.data()), 4);
    size_t start = frame.size();
    frame += payload;
    if (mask) {
      for (size_t i = 0; i < payload.size(); ++i) frame[start + i] ^= static_cast<char>(key[i % 4]);
    }
    return frame;
  }

  // A close frame's payload: the code in network byte order, then the reason.
  static std::string close_payload(uint16_t code, std::string_view reason = "") {
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xff);
    payload += reason;
    return payload;
  }

  // Like a real client, a new masking key for every frame (§5.3).
  bool send_frame(uint8_t opcode, std::string_view payload, bool fin = true, bool mask = true,
                  uint8_t rsv = 0) {
    return send_raw(encode(opcode, payload, fin, mask, rsv, varied_mask_key()));
  }
  bool send_text(std::string_view text) { return send_frame(1, text); }
  bool send_binary(std::string_view data) { return send_frame(2, data); }
  bool send_close(uint16_t code, std::string_view reason = "") {
    return send_frame(8, close_payload(code, reason));
  }

  // The next frame, or nothing on timeout or end of stream.
  std::optional<RawFrame> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    if (!held_.empty()) {
      RawFrame frame = std::move(held_.front());
      held_.pop_front();
      return frame;
    }
    while (true) {
      if (std::optional<RawFrame> frame = parse_frame()) return frame;
      if (!fill(timeout)) return std::nullopt;
    }
  }

  // The next message, reassembled from its frames, or a control frame. A
  // control frame that arrives between two fragments (§5.4 allows it) is
  // kept and returned by the next call, so the order of replies stays visible
  // at message granularity.
  std::optional<RawMessage> read_message(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::optional<RawFrame> first = read_frame(timeout);
    if (!first) return std::nullopt;
    RawMessage message{first->opcode, std::move(first->payload), 1, frame_error(*first)};
    if (first->opcode >= 8) return message;
    if (first->opcode == 0) message.error += "continuation frame with no message started; ";
    bool fin = first->fin;
    std::deque<RawFrame> controls;
    while (!fin) {
      std::optional<RawFrame> next;
      while (true) {  // parse what is buffered before reading more
        next = parse_frame();
        if (next || !fill(timeout)) break;
      }
      if (!next) {
        message.error += "message cut short; ";
        break;
      }
      message.error += frame_error(*next);
      if (next->opcode >= 8) {
        controls.push_back(std::move(*next));
        continue;
      }
      if (next->opcode != 0) message.error += "new data frame inside a fragmented message; ";
      message.payload += next->payload;
      ++message.frames;
      fin = next->fin;
    }
    for (RawFrame& control : controls) held_.push_back(std::move(control));
    return message;
  }

  // True if the server closed TCP (EOF or reset) within the timeout, after
  // any frames still in flight.
  bool wait_for_eof(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    held_.clear();
    consume(pending().size());
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!fill(timeout)) return eof_;
      consume(pending().size());
    }
    return false;
  }

  bool eof() const { return eof_; }
  // The connection ended with a RST rather than a FIN: data we had not read
  // yet may have been destroyed (RFC 6455 §7.1.1 asks for a clean TCP close).
  bool reset() const { return reset_; }
  int fd() const { return fd_; }
  // Bytes received and not parsed yet, plus frames held by read_message().
  bool has_buffered() const { return start_ < pending_.size() || !held_.empty(); }
  void close_socket() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  std::string_view pending() const { return std::string_view(pending_).substr(start_); }
  void consume(size_t n) {
    start_ += n;
    if (start_ == pending_.size()) {
      pending_.clear();
      start_ = 0;
    }
  }

  // SSL_ERROR_WANT_READ/WRITE: poll() for that direction. False on any
  // other error or at the deadline.
  bool tls_wait(int ssl_error, std::chrono::milliseconds timeout) {
    short events = ssl_error == SSL_ERROR_WANT_READ    ? POLLIN
                   : ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                       : 0;
    if (events == 0) return false;
    pollfd p{fd_, events, 0};
    int ready;
    do ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (ready < 0 && errno == EINTR);
    return ready > 0;
  }

  // Writes all of `bytes` through TLS. With `streaming`, what the server
  // sends meanwhile is read and kept (see send_streaming()).
  bool tls_send(std::string_view bytes, std::chrono::milliseconds timeout, bool streaming) {
    while (!bytes.empty()) {
      int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_WANT_WRITE && streaming) {
        pollfd p{fd_, POLLIN | POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
        if ((p.revents & POLLIN) && !receive_some()) return false;
        continue;
      }
      if (!tls_wait(error, timeout)) return false;
    }
    return true;
  }

  // Reads whatever is available now; false at end of stream.
  bool receive_some() {
    if (start_ > 0 && start_ >= pending_.size() / 2) {  // compact: keeps reads O(n) overall
      pending_.erase(0, start_);
      start_ = 0;
    }
    size_t old_size = pending_.size();
    pending_.resize(old_size + kReadChunk);
    ssize_t n;
    if (ssl_ && !tls_closed_) {
      int got = SSL_read(ssl_, pending_.data() + old_size, static_cast<int>(kReadChunk));
      int error = got > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, got);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        pending_.resize(old_size);  // a ticket, or half a record: nothing yet
        return true;
      }
      if (error == SSL_ERROR_ZERO_RETURN) {
        // close_notify (or EOF with none: SSL_OP_IGNORE_UNEXPECTED_EOF).
        // From here on, read TCP itself, to see its FIN.
        close_notify_ = (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
        tls_closed_ = true;
        pending_.resize(old_size);
        return true;
      }
      n = got > 0 ? got : -1;
      if (got <= 0 && error != SSL_ERROR_SYSCALL) errno = EPROTO;
    } else {
      do n = ::recv(fd_, pending_.data() + old_size, kReadChunk, 0);
      while (n < 0 && errno == EINTR);
      if (n < 0 && errno == EAGAIN) {
        pending_.resize(old_size);
        return true;
      }
    }
    pending_.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n <= 0) {
      eof_ = true;
      reset_ = reset_ || (n < 0 && errno == ECONNRESET);
      return false;
    }
    return true;
  }

  // Reads more bytes into pending_; false on timeout or end of stream.
  bool fill(std::chrono::milliseconds timeout) {
    // TLS may hold a decrypted record the socket no longer shows.
    if (ssl_ && !tls_closed_ && SSL_has_pending(ssl_)) return receive_some();
    pollfd p{fd_, POLLIN, 0};
    int ready;
    do ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (ready < 0 && errno == EINTR);
    if (ready <= 0) return false;
    return receive_some();
  }

  // What is wrong with a frame from a server, "" if nothing.
  static std::string frame_error(const RawFrame& frame) {
    std::string error;
    if (frame.masked) error += "RFC 6455 §5.1: a server MUST NOT mask its frames; ";
    if (frame.rsv != 0) error += "RFC 6455 §5.2: RSV bits set with no extension negotiated; ";
    if (!frame.minimal_length) {
      error += "RFC 6455 §5.2: \"the minimal number of bytes MUST be used to encode the length\"; ";
    }
    if (frame.opcode >= 8 && (!frame.fin || frame.payload.size() > 125)) {
      error += "RFC 6455 §5.5: a control frame is never fragmented and carries <= 125 bytes; ";
    }
    if ((frame.opcode > 2 && frame.opcode < 8) || frame.opcode > 10) {
      error += "RFC 6455 §5.2: a reserved opcode; ";
    }
    return error;
  }

  std::optional<RawFrame> parse_frame() {
    std::string_view data = pending();
    if (data.size() < 2) return std::nullopt;
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    RawFrame frame;
    frame.fin = p[0] & 0x80;
    frame.rsv = (p[0] >> 4) & 7;
    frame.opcode = p[0] & 0x0f;
    frame.masked = p[1] & 0x80;
    uint64_t length = p[1] & 0x7f;
    size_t offset = 2;
    if (length == 126) {
      if (data.size() < 4) return std::nullopt;
      length = (uint64_t{p[2]} << 8) | p[3];
      offset = 4;
      frame.minimal_length = length >= 126;
    } else if (length == 127) {
      if (data.size() < 10) return std::nullopt;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      offset = 10;
      frame.minimal_length = length > 0xffff;
    }
    if (frame.masked) offset += 4;
    if (data.size() < offset || data.size() - offset < length) return std::nullopt;
    frame.payload = std::string(data.substr(offset, length));
    if (frame.masked) {  // unmask, so that a test can still show what was sent
      for (size_t i = 0; i < frame.payload.size(); ++i)
        frame.payload[i] ^= data[offset - 4 + i % 4];
    }
    consume(offset + length);
    return frame;
  }

  static constexpr size_t kReadChunk = 256 * 1024;

  int fd_ = -1;
  std::string pending_;  // bytes received; those before start_ are already parsed
  size_t start_ = 0;
  bool eof_ = false;
  bool reset_ = false;
  std::deque<RawFrame> held_;  // control frames read_message() passed over
  SSL* ssl_ = nullptr;         // OPENPIPE_TEST_TLS=1 only
  bool tls_closed_ = false;    // TLS ended: what follows is read as plain TCP
  bool close_notify_ = false;  // it ended with the server's close_notify
};

// ---- checks shared by the conformance suite ------------------------------------------
// Each returns an AssertionResult, so a test reads EXPECT_TRUE(expect_...(...))
// and a failure says what came instead.

inline std::string describe_bytes(std::string_view bytes, size_t max = 40) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = std::to_string(bytes.size()) + " bytes";
  if (bytes.empty()) return out;
  out += ": ";
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    if (i > 0) out += ' ';
    out += kDigits[uint8_t(bytes[i]) >> 4];
    out += kDigits[uint8_t(bytes[i]) & 0xF];
  }
  if (bytes.size() > max) out += " ...";
  return out;
}

inline std::string describe(const RawMessage& message) {
  static const char* const kNames[16] = {"continuation", "text", "binary", "op3",  "op4",  "op5",
                                         "op6",          "op7",  "close",  "ping", "pong", "opB",
                                         "opC",          "opD",  "opE",    "opF"};
  std::string out =
      std::string(kNames[message.opcode & 0xF]) + " (" + describe_bytes(message.payload);
  if (message.opcode == 8 && message.payload.size() >= 2) {
    out += ", code " +
           std::to_string((uint8_t(message.payload[0]) << 8) | uint8_t(message.payload[1]));
  }
  return out + ")";
}

// The next message is `opcode` with exactly `payload` (text and binary may
// come in any number of frames).
inline ::testing::AssertionResult expect_message(
    RawClient& client, uint8_t opcode, std::string_view payload,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::optional<RawMessage> message = client.read_message(timeout);
  if (!message) {
    return ::testing::AssertionFailure()
           << "expected " << describe({opcode, std::string(payload.substr(0, 40)), 1, ""})
           << ", got nothing (" << (client.eof() ? "EOF" : "timeout") << ")";
  }
  if (!message->error.empty()) return ::testing::AssertionFailure() << message->error;
  if (message->opcode != opcode) {
    return ::testing::AssertionFailure()
           << "expected opcode " << int(opcode) << ", got " << describe(*message);
  }
  if (message->payload != payload) {
    size_t at = 0;
    while (at < payload.size() && at < message->payload.size() &&
           payload[at] == message->payload[at]) {
      ++at;
    }
    return ::testing::AssertionFailure()
           << "payload differs at byte " << at << ": expected "
           << describe_bytes(payload.substr(std::min(at, payload.size()))) << ", got "
           << describe_bytes(std::string_view(message->payload).substr(at));
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult expect_pong(RawClient& client, std::string_view payload) {
  return expect_message(client, 10, payload);
}

// The server ends the connection: the next frame is a close with one of
// `codes` (1005: an empty close), nothing follows it, and TCP closes within
// `timeout`. With `reply`, we answer the close first, as a client must
// (§5.5.1), like the Autobahn client does.
inline ::testing::AssertionResult expect_close(
    RawClient& client, std::initializer_list<uint16_t> codes, bool reply = true,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(1500)) {
  std::optional<RawMessage> message = client.read_message(timeout);
  if (!message) {
    return ::testing::AssertionFailure() << "expected a close frame, got nothing ("
                                         << (client.eof() ? "EOF: TCP dropped" : "timeout") << ")";
  }
  if (!message->error.empty()) return ::testing::AssertionFailure() << message->error;
  if (message->opcode != 8) {
    return ::testing::AssertionFailure() << "expected a close frame, got " << describe(*message);
  }
  uint16_t code = 1005;
  if (message->payload.size() == 1) {
    return ::testing::AssertionFailure() << "RFC 6455 §5.5.1: a close body is 0 or >= 2 bytes";
  }
  if (message->payload.size() >= 2) {
    code =
        static_cast<uint16_t>((uint8_t(message->payload[0]) << 8) | uint8_t(message->payload[1]));
  }
  if (message->payload.size() >= 2 && (code == 1005 || code == 1006 || code == 1015)) {
    return ::testing::AssertionFailure()
           << "RFC 6455 §7.4.1: " << code << " MUST NOT be set as a status code in a Close frame";
  }
  bool known = false;
  for (uint16_t expected : codes) known = known || expected == code;
  if (!known) {
    std::string list;
    for (uint16_t expected : codes) list += std::to_string(expected) + " ";
    return ::testing::AssertionFailure() << "close code " << code << ", expected one of " << list;
  }
  if (reply) client.send_close(code == 1005 ? 1000 : code);
  std::string after = client.read_all(timeout);
  if (client.has_buffered() || !after.empty()) {
    return ::testing::AssertionFailure()
           << "RFC 6455 §5.5.1: nothing may follow a close frame, got " << describe_bytes(after);
  }
  if (!client.eof()) {
    return ::testing::AssertionFailure()
           << "RFC 6455 §7.1.1: the server should close TCP after the closing handshake";
  }
  if (client.tls() && !client.close_notify_received()) {
    return ::testing::AssertionFailure()
           << "RFC 8446 §6.1: over TLS the close frame is followed by close_notify, then TCP's "
              "FIN; the server closed TCP without close_notify";
  }
  if (client.reset()) {
    return ::testing::AssertionFailure()
           << "RFC 6455 §7.1.1: TCP was reset, not closed cleanly (\"a method that cleanly closes "
              "the TCP connection\")";
  }
  return ::testing::AssertionSuccess();
}

// The client starts the closing handshake with `code`: the server must
// answer with a close (RFC 6455 §5.5.1: "typically echoing the status code
// it received"), then close TCP.
inline ::testing::AssertionResult close_handshake(RawClient& client, uint16_t code = 1000) {
  client.send_close(code);
  return expect_close(client, {code}, /*reply=*/false);
}

}  // namespace ws::test
