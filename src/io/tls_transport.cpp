// Moving bytes through TLS. See include/openpipe/io/tls_transport.h.
#include "openpipe/io/tls_transport.h"

#include <algorithm>

namespace ws {

//> tls-transport.receive
TlsStatus TlsTransport::receive(std::span<uint8_t> buffer, size_t n, Connection& connection,
                                ConnectionHandler& handler, Tracer* tracer) {
  session_.receive_ciphertext(buffer.first(n));
  for (;;) {
    TlsRead read = session_.read_plaintext(buffer);
    if (read.status != TlsStatus::kOk) return read.status;
    std::span<uint8_t> plaintext = buffer.first(read.size);
    if (tracer) tracer->on_received(plaintext);
    connection.receive_data(plaintext, handler);
  }
}
//< tls-transport.receive

//> tls-transport.output
std::span<const uint8_t> TlsTransport::output(Connection& connection, Tracer* tracer) {
  while (session_.buffered_amount() < kTlsOutputHighWater && connection.buffered_amount() > 0 &&
         !session_.write_blocked() && !session_.failed()) {
    std::span<const uint8_t> plaintext = connection.pending_output();
    size_t taken =
        session_.write_plaintext(plaintext.first(std::min(plaintext.size(), kTlsOutputHighWater)));
    if (taken == 0) break;  // blocked until the peer speaks, or failed
    if (tracer) tracer->on_sent(plaintext.first(taken));
    connection.mark_sent(taken);
  }
  if (connection.wants_close_transport() && connection.buffered_amount() == 0) session_.close();
  return session_.pending_output();
}
//< tls-transport.output

}  // namespace ws
