// TCP socket helpers. See include/openpipe/io/socket.h.
#include "openpipe/io/socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>

namespace ws {
namespace {

// getaddrinfo() results, freed on scope exit.
struct AddrInfoDeleter {
  void operator()(addrinfo* list) const { ::freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;

// Resolves a numeric address or "localhost" (never DNS: a server that
// starts must not hang on a name server). 0, or a getaddrinfo error code.
int resolve(const std::string& host, uint16_t port, int flags, AddrInfoList& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // IPv4 or IPv6, whichever the address is
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags | (host == "localhost" ? 0 : AI_NUMERICHOST);
  std::string service = std::to_string(port);
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  out.reset(list);
  return rc;
}

std::string format_address(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    // Brackets, as in a URI (RFC 3986 §3.2.2): "::1:80" would be ambiguous.
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  return {};
}

uint16_t port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return 0;
}

//> socket.bind-one
// One candidate address: socket, options, bind, listen. An empty Fd (errno
// set, `step` naming the call that failed) if any of them fails.
Fd bind_and_listen(const addrinfo& ai, const ListenOptions& options, const char*& step) {
  step = "socket";
  Fd fd(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
  if (!fd) return fd;
  int one = 1;
  // Without SO_REUSEADDR a restarted server cannot bind its port while old
  // connections linger in TIME_WAIT (RFC 6455 §7.1.1: the server closes
  // first, so the server is the side that holds TIME_WAIT).
  step = "setsockopt(SO_REUSEADDR)";
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return Fd();
  // An IPv6 socket on "::" would also take IPv4 connections (as ::ffff:a.b.c.d)
  // and collide with a second listener on 0.0.0.0. IPv6 means IPv6 only.
  step = "setsockopt(IPV6_V6ONLY)";
  if (ai.ai_family == AF_INET6 &&
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    return Fd();
  }
  // SO_REUSEPORT: several sockets (one per worker process, chapter 20) bind
  // the same port, and the kernel spreads new connections among them.
  step = "setsockopt(SO_REUSEPORT)";
  if (options.reuse_port &&
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return Fd();
  }
  step = "bind";
  if (::bind(fd.get(), ai.ai_addr, ai.ai_addrlen) != 0) return Fd();
  step = "listen";
  if (options.listen && ::listen(fd.get(), options.backlog) != 0) return Fd();
  return fd;
}
//< socket.bind-one

}  // namespace

Listener listen_tcp(const std::string& host, uint16_t port, int backlog) {
  ListenOptions options;
  options.backlog = backlog;
  return listen_tcp(host, port, options);
}

Listener listen_tcp(const std::string& host, uint16_t port, const ListenOptions& options) {
  std::string where = host + " port " + std::to_string(port);
  AddrInfoList list;
  int rc = resolve(host, port, AI_PASSIVE, list);
  if (rc != 0) {
    throw std::system_error(EINVAL, std::generic_category(),
                            "listen_tcp: cannot use '" + host + "' (" + ::gai_strerror(rc) +
                                "): give a numeric address or \"localhost\"");
  }
  // "localhost" may resolve to ::1 and 127.0.0.1: the first that binds wins.
  int error = EADDRNOTAVAIL;
  const char* step = "getaddrinfo";
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    Listener listener;
    listener.fd = bind_and_listen(*ai, options, step);
    if (!listener.fd) {
      error = errno;
      continue;
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (::getsockname(listener.fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
      error = errno;
      step = "getsockname";
      continue;
    }
    listener.port = port_of(bound);
    listener.address = format_address(bound);
    return listener;
  }
  throw std::system_error(error, std::generic_category(), "listen_tcp " + where + ": " + step);
}

//> socket.accept
Fd accept_connection(int listen_fd) {
  // accept4 sets both flags atomically on the new descriptor: no window in
  // which another thread could fork+exec and leak it, and no extra fcntl.
  return Fd(::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
}
//< socket.accept

Fd connect_tcp(const std::string& host, uint16_t port) {
  AddrInfoList list;
  if (resolve(host, port, 0, list) != 0) {
    errno = EINVAL;
    return Fd();
  }
  int error = ECONNREFUSED;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      error = errno;
      continue;
    }
    // Blocking connect: returns once the three-way handshake is done.
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || set_nonblocking(fd.get()) != 0) {
      error = errno;
      continue;
    }
    return fd;
  }
  errno = error;
  return Fd();
}

//> socket.connect-nonblocking
Fd start_connect_tcp(const std::string& host, uint16_t port) {
  AddrInfoList list;
  if (resolve(host, port, 0, list) != 0 || list == nullptr) {
    errno = EINVAL;
    return Fd();
  }
  // Only the first address: trying the next one needs the first one's
  // answer, which arrives later on the loop. Use a numeric address.
  const addrinfo& ai = *list;
  Fd fd(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
  if (!fd) return fd;
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) != 0 && errno != EINPROGRESS) return Fd();
  return fd;  // connected, or EINPROGRESS: EPOLLOUT will say which
}

int connect_result(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}
//< socket.connect-nonblocking

int make_socketpair(Fd& a, Fd& b) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return -1;
  a.reset(fds[0]);
  b.reset(fds[1]);
  return 0;
}

int set_nodelay(int fd, bool on) {
  int value = on ? 1 : 0;
  return ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof value);
}

std::string peer_name(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return format_address(address);
}

std::string local_name(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return format_address(address);
}

//> socket.send-nosignal
ssize_t send_nosignal(int fd, std::span<const uint8_t> bytes) {
  // A write to a connection whose peer has gone raises SIGPIPE, and
  // SIGPIPE's default action ends the process: one client that disconnects
  // mid-reply would kill the server. MSG_NOSIGNAL turns it into EPIPE.
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}
//< socket.send-nosignal

//> socket.send-two
ssize_t send_two_nosignal(int fd, std::span<const uint8_t> first, std::span<const uint8_t> second) {
  // sendmsg() is writev() with flags: two pieces, one system call, and the
  // kernel copies each from where it lies (no gathering copy in user space).
  iovec pieces[2] = {{const_cast<uint8_t*>(first.data()), first.size()},
                     {const_cast<uint8_t*>(second.data()), second.size()}};
  msghdr message{};
  message.msg_iov = pieces;
  message.msg_iovlen = 2;
  return ::sendmsg(fd, &message, MSG_NOSIGNAL);
}
//< socket.send-two

ssize_t send_nosignal(int fd, std::string_view text) {
  return send_nosignal(fd, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

int ignore_sigpipe() {
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  sigemptyset(&action.sa_mask);
  return ::sigaction(SIGPIPE, &action, nullptr);
}

}  // namespace ws
