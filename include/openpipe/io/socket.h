// TCP sockets for the server and the client: listen, accept, connect, names,
// and sending without SIGPIPE. Start-up calls (listen_tcp) throw
// std::system_error; everything used inside the event loop returns what the
// kernel returns (-1 or an empty Fd, with errno set) and never throws.
// Does not own the event loop or any protocol state. RFC 6455 §1.7, §4.1
// (a WebSocket is a TCP connection), §7.1.1 (who closes TCP first).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "openpipe/io/fd.h"

namespace ws {

// The kernel queue of connections that completed the TCP handshake but were
// not accepted yet. 511 is what Redis and nginx use; Linux silently caps it
// at net.core.somaxconn.
inline constexpr int kDefaultBacklog = 511;

// A bound, listening, non-blocking socket and where it listens.
struct Listener {
  Fd fd;                // owned: closing it stops listening
  uint16_t port = 0;    // the bound port: the kernel's choice when 0 was asked
  std::string address;  // "127.0.0.1:8000" or "[::1]:8000"
};

// Binds and listens on `host` (a numeric address such as "127.0.0.1", "::1",
// "0.0.0.0", "::", or the name "localhost") and `port` (0: any free port).
// The socket has SO_REUSEADDR, is IPv6-only for IPv6 addresses, and is
// non-blocking and close-on-exec. Throws std::system_error if the host does
// not resolve or no address can be bound (start-up only: STYLE.md, Errors).
Listener listen_tcp(const std::string& host, uint16_t port, int backlog = kDefaultBacklog);

// The same with more choices (chapter 20's workers).
struct ListenOptions {
  int backlog = kDefaultBacklog;  // see kDefaultBacklog
  bool reuse_port = false;        // SO_REUSEPORT: other sockets may bind this port too
  bool listen = true;             // false: bind only (reserves the port, takes no connection)
};
Listener listen_tcp(const std::string& host, uint16_t port, const ListenOptions& options);

// One accept4() on a listening socket. The new socket is already
// non-blocking and close-on-exec. Returns an empty Fd with errno set on
// failure; the caller decides:
//   EAGAIN/EWOULDBLOCK  no connection is waiting: back to the event loop
//   EINTR, ECONNABORTED a signal, or the client gave up: try again
//   EMFILE, ENFILE      out of descriptors: see Acceptor (acceptor.h)
//   ENOBUFS, ENOMEM     out of kernel memory: try again later
// Linux also reports errors pending on the new connection (ENETDOWN,
// EPROTO, EHOSTUNREACH...): treat them like ECONNABORTED.
Fd accept_connection(int listen_fd);

// Connects to host:port (numeric address or "localhost"), then makes the
// socket non-blocking. The connect() itself BLOCKS until the TCP handshake
// completes or fails: fine at start-up, in tests and in a command-line
// client, not inside a running event loop (there: a non-blocking connect
// returns EINPROGRESS, wait for EPOLLOUT, then read SO_ERROR). Returns an
// empty Fd with errno set on failure (EINVAL if the host does not resolve).
Fd connect_tcp(const std::string& host, uint16_t port);

// The non-blocking form, for use inside the event loop (the broker link of
// chapter 20): starts connecting and returns at once. The socket is
// non-blocking and close-on-exec; wait for EPOLLOUT, then connect_result()
// says how it went (0: connected, else an errno such as ECONNREFUSED).
// An empty Fd with errno set if it failed at once.
Fd start_connect_tcp(const std::string& host, uint16_t port);
int connect_result(int fd);

// A connected pair of non-blocking, close-on-exec AF_UNIX stream sockets:
// a TCP connection in miniature, for tests. 0, or -1 with errno.
int make_socketpair(Fd& a, Fd& b);

// Disables Nagle's algorithm (TCP_NODELAY): small frames leave at once
// instead of waiting for the previous segment's ACK. 0, or -1 with errno.
int set_nodelay(int fd, bool on = true);

// The other end's address, "127.0.0.1:54321" or "[::1]:54321"; "" on error.
std::string peer_name(int fd);
// This end's address, in the same form; "" on error.
std::string local_name(int fd);

// send(2) with MSG_NOSIGNAL: writing to a connection the peer has closed
// returns -1/EPIPE instead of killing the process with SIGPIPE.
ssize_t send_nosignal(int fd, std::span<const uint8_t> bytes);
ssize_t send_nosignal(int fd, std::string_view text);
// The same for two pieces in one call (sendmsg with two iovecs): a frame's
// header and its payload, each from where it lies. Returns the bytes taken
// from `first` then `second`, or -1.
ssize_t send_two_nosignal(int fd, std::span<const uint8_t> first, std::span<const uint8_t> second);

// Sets SIGPIPE to "ignore" for the whole process: a second guard for calls
// that take no MSG_NOSIGNAL flag (write, writev, sendfile). 0, or -1.
int ignore_sigpipe();

}  // namespace ws
