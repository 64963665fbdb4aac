// Acceptor: accepts connections on a listening socket and survives running
// out of file descriptors (EMFILE/ENFILE) with a reserve descriptor.
// Owns the reserve descriptor; does not own the listening socket, and does
// not register anything with the event loop (the server does). RFC 6455
// §4.1 notes servers may refuse connections under load: this is the floor.
#pragma once

#include <cstdint>

#include "openpipe/io/fd.h"

namespace ws {

//> acceptor.class
// A level-triggered loop reports the listening socket readable for as long as
// a connection waits in the kernel's queue. If accept() fails with EMFILE the
// connection stays queued, the socket stays readable, and the loop spins at
// 100% CPU without making progress. The Acceptor keeps one spare descriptor
// open on /dev/null; on EMFILE it closes the spare, accepts the waiting
// connection into the freed slot, closes it at once (the client sees the
// connection end), and reopens the spare.
class Acceptor {
 public:
  // Opens the reserve descriptor. Throws std::system_error if it cannot
  // (start-up only). `listen_fd` must outlive the Acceptor.
  explicit Acceptor(int listen_fd);

  // One accept. A new non-blocking, close-on-exec connection, or an empty Fd
  // with errno set, as accept_connection() (socket.h) documents. On EMFILE
  // and ENFILE, errno is kept but the waiting connection has been dropped:
  // the caller may simply call accept() again until EAGAIN.
  Fd accept();

  int listen_fd() const { return listen_fd_; }
  // Connections dropped for lack of descriptors since construction.
  uint64_t dropped() const { return dropped_; }
  // False if the spare could not be reopened (it is retried on every
  // accept()); while false, EMFILE cannot be handled and the loop may spin.
  bool has_reserve() const { return reserve_.valid(); }

 private:
  void drop_one();

  int listen_fd_;         // not owned
  Fd reserve_;            // the spare descriptor, on /dev/null
  uint64_t dropped_ = 0;  // see dropped()
};
//< acceptor.class

}  // namespace ws
