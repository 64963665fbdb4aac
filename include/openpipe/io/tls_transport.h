// The TLS transport: what sits between a socket and a Connection when the
// connection is wss:// (or https). It moves ciphertext read from the socket
// into a TlsSession and the plaintext out of it into the Connection, and the
// Connection's output the other way. Owns the TlsSession; does not own the
// socket or the Connection, and makes no system call itself (the server and
// the client read and write; this only says what to write). The protocol
// layer does not change: the Connection sees the same bytes as without TLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/tls.h"
#include "openpipe/protocol/trace.h"

namespace ws {

//> tls-transport.class
class TlsTransport {
 public:
  TlsTransport(const TlsContext& context, std::string_view host = {},
               std::shared_ptr<TlsSavedSession> resume = nullptr)
      : session_(context, host, std::move(resume)) {}

  // `buffer` holds `n` bytes of ciphertext just read. They are copied into
  // the session, so the same buffer then receives the plaintext, record by
  // record, and each piece goes to connection.receive_data(). kNeedMore
  // when everything was used; kClosed (close_notify) and kError end it.
  TlsStatus receive(std::span<uint8_t> buffer, size_t n, Connection& connection,
                    ConnectionHandler& handler, Tracer* tracer = nullptr);

  // The ciphertext to write now. Encrypts the Connection's output first
  // (only while little ciphertext waits: the rest stays in the Connection),
  // then, once the Connection is CLOSED and everything is out, our
  // close_notify: the order is WebSocket close, close_notify, TCP FIN.
  std::span<const uint8_t> output(Connection& connection, Tracer* tracer = nullptr);
  void mark_sent(size_t n) { session_.mark_sent(n); }

  // Ciphertext not yet written.
  size_t buffered_amount() const { return session_.buffered_amount(); }
  // Worth waiting for EPOLLOUT: ciphertext waits, or plaintext that TLS can
  // take. Not while a write waits for the peer's bytes (write_blocked):
  // a writable socket would wake the loop for nothing, over and over.
  bool wants_write(const Connection& connection) const {
    return session_.buffered_amount() > 0 ||
           (connection.buffered_amount() > 0 && !session_.write_blocked());
  }

  TlsSession& session() { return session_; }
  const TlsSession& session() const { return session_; }

 private:
  TlsSession session_;
};
//< tls-transport.class

}  // namespace ws
