// Chapter 09: descriptors and TCP sockets. Fd ownership, listening on IPv4
// and IPv6 loopback, accept and connect, the flags every socket must carry,
// SO_REUSEADDR, EPIPE instead of SIGPIPE, and surviving EMFILE.
// RFC 6455 §1.7 and §4.1: a WebSocket is a TCP connection; §7.1.1: the
// server closes TCP first and so holds TIME_WAIT.
// Run: make test CH=09   or   ./build/tests/ch09_socket_test --gtest_filter='Ch09_Socket.*'
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "openpipe/io/acceptor.h"
#include "openpipe/io/fd.h"
#include "openpipe/io/socket.h"

namespace ws {
namespace {

// A generous bound so a broken build fails instead of hanging; nothing is
// asserted about how long anything takes.
constexpr int kPollLimitMs = 5000;

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

// poll() for `events` with the bound above: true if the fd became ready.
bool wait_for(int fd, short events, int timeout_ms = kPollLimitMs) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

bool readable_now(int fd) {
  return wait_for(fd, POLLIN, 0);
}

// Reads once from a socket the peer is expected to have closed: 0 (FIN) or
// -1/ECONNRESET both mean "the connection ended".
bool sees_end_of_connection(int fd) {
  if (!wait_for(fd, POLLIN)) return false;
  uint8_t byte;
  ssize_t n = read_some(fd, {&byte, 1});
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

std::optional<Listener> try_listen_ipv6_loopback() {
  try {
    return listen_tcp("::1", 0);
  } catch (const std::system_error&) {
    return std::nullopt;
  }
}

// A loopback connection: the listener, the client end and the server end.
struct TcpPair {
  Listener listener;
  Fd client;
  Fd server;
};

TcpPair connect_pair(const std::string& host) {
  TcpPair pair{listen_tcp(host, 0), Fd(), Fd()};
  pair.client = connect_tcp(host, pair.listener.port);
  // connect() returned: the handshake is done and the connection waits in
  // the listener's queue, but poll first to be independent of that detail.
  if (wait_for(pair.listener.fd.get(), POLLIN)) {
    pair.server = accept_connection(pair.listener.fd.get());
  }
  return pair;
}

// Lowers the soft RLIMIT_NOFILE and opens /dev/null until open() fails with
// EMFILE, so the next descriptor anyone asks for is refused. The destructor
// closes the fillers and restores the limit.
class DescriptorExhaustion {
 public:
  DescriptorExhaustion() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      highest = std::max(highest, std::stoi(entry.path().filename().string()));
    }
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(highest + 16);  // a few free slots to fill
    ::setrlimit(RLIMIT_NOFILE, &low);
    for (;;) {
      Fd filler(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!filler) break;
      fillers_.push_back(std::move(filler));
    }
    open_errno_ = errno;
  }
  ~DescriptorExhaustion() {
    fillers_.clear();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  int open_errno() const { return open_errno_; }
  void release_all() { fillers_.clear(); }

 private:
  rlimit saved_{};
  std::vector<Fd> fillers_;
  int open_errno_ = 0;
};

// Counts SIGPIPE instead of dying of it, for as long as it lives.
class SigpipeCounter {
 public:
  SigpipeCounter() {
    count_ = 0;
    struct sigaction action {};
    action.sa_handler = [](int) { count_ = count_ + 1; };
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGPIPE, &action, &saved_);
  }
  ~SigpipeCounter() { ::sigaction(SIGPIPE, &saved_, nullptr); }
  int count() const { return count_; }

 private:
  static inline volatile sig_atomic_t count_ = 0;
  struct sigaction saved_ {};
};

// ---- basic: Fd ----------------------------------------------------------

TEST(Ch09_Socket, FdClosesOnDestruction) {
  int raw = -1;
  {
    Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw)) << "Fd::~Fd must close the descriptor it owns (fd.reset)";
}

TEST(Ch09_Socket, FdMoveTransfersOwnership) {
  Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int raw = a.get();
  Fd b = std::move(a);
  EXPECT_FALSE(a.valid()) << "a moved-from Fd is empty, so it will not close the descriptor";
  EXPECT_EQ(b.get(), raw);
  EXPECT_TRUE(is_open(raw)) << "moving must not close the descriptor";
}

TEST(Ch09_Socket, FdMoveAssignmentClosesTheOldDescriptor) {
  Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd b(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int old_b = b.get();
  b = std::move(a);
  EXPECT_FALSE(is_open(old_b)) << "b's previous descriptor has no owner left: it must be closed";
}

TEST(Ch09_Socket, FdReleaseGivesUpOwnership) {
  int raw = -1;
  {
    Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw = fd.release();
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_TRUE(is_open(raw)) << "after release() the caller owns the descriptor";
  ::close(raw);
}

TEST(Ch09_Socket, FdDestructionKeepsErrno) {
  errno = 0;
  { Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }
  errno = EAGAIN;
  { Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }
  EXPECT_EQ(errno, EAGAIN) << "an Fd destroyed on an error path must not overwrite errno";
}

TEST(Ch09_Socket, PipeEndsAreNonBlockingAndCloseOnExec) {
  Fd r, w;
  ASSERT_EQ(make_pipe(r, w), 0) << std::strerror(errno);
  EXPECT_TRUE(is_nonblocking(r.get()) && is_nonblocking(w.get()));
  EXPECT_TRUE(is_cloexec(r.get()) && is_cloexec(w.get()));
  uint8_t byte;
  EXPECT_EQ(read_some(r.get(), {&byte, 1}), -1);
  EXPECT_EQ(errno, EAGAIN) << "an empty non-blocking pipe says EAGAIN instead of waiting";
}

// ---- basic: listen, connect, accept ---------------------------------------

TEST(Ch09_Socket, ListensOnIpv4EphemeralPort) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.fd.valid());
  EXPECT_NE(listener.port, 0) << "port 0 asks the kernel for a free port: report the one chosen";
  EXPECT_EQ(listener.address, "127.0.0.1:" + std::to_string(listener.port));
}

TEST(Ch09_Socket, ListensOnIpv6EphemeralPort) {
  std::optional<Listener> listener = try_listen_ipv6_loopback();
  if (!listener) GTEST_SKIP() << "IPv6 loopback (::1) is not available on this machine";
  EXPECT_NE(listener->port, 0);
  EXPECT_EQ(listener->address, "[::1]:" + std::to_string(listener->port));
}

TEST(Ch09_Socket, ListensOnLocalhost) {
  Listener listener = listen_tcp("localhost", 0);
  EXPECT_TRUE(listener.address == "127.0.0.1:" + std::to_string(listener.port) ||
              listener.address == "[::1]:" + std::to_string(listener.port))
      << "\"localhost\" is the one name listen_tcp resolves; got " << listener.address;
}

TEST(Ch09_Socket, AcceptsAConnectionOnIpv4) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.client.valid()) << "connect_tcp: " << std::strerror(errno);
  ASSERT_TRUE(pair.server.valid()) << "accept_connection: " << std::strerror(errno);
  EXPECT_EQ(peer_name(pair.server.get()), local_name(pair.client.get()))
      << "the server's peer is the client's local end";
}

TEST(Ch09_Socket, AcceptsAConnectionOnIpv6) {
  if (!try_listen_ipv6_loopback()) GTEST_SKIP() << "IPv6 loopback (::1) is not available";
  TcpPair pair = connect_pair("::1");
  ASSERT_TRUE(pair.client.valid()) << "connect_tcp: " << std::strerror(errno);
  ASSERT_TRUE(pair.server.valid()) << "accept_connection: " << std::strerror(errno);
  EXPECT_EQ(peer_name(pair.server.get()), local_name(pair.client.get()));
}

TEST(Ch09_Socket, PeerNameFormatsIpv4) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.server.valid());
  std::string name = peer_name(pair.server.get());
  EXPECT_EQ(name.rfind("127.0.0.1:", 0), 0u) << name;
  EXPECT_NE(name, "127.0.0.1:0") << "the client's port must be in the name";
  EXPECT_EQ(peer_name(pair.client.get()), pair.listener.address);
}

TEST(Ch09_Socket, PeerNameBracketsIpv6) {
  if (!try_listen_ipv6_loopback()) GTEST_SKIP() << "IPv6 loopback (::1) is not available";
  TcpPair pair = connect_pair("::1");
  ASSERT_TRUE(pair.server.valid());
  EXPECT_EQ(peer_name(pair.server.get()).rfind("[::1]:", 0), 0u)
      << "IPv6 addresses contain ':' themselves: brackets keep the port apart (RFC 3986 §3.2.2)";
}

TEST(Ch09_Socket, PeerNameOfAListenerIsEmpty) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  EXPECT_EQ(peer_name(listener.fd.get()), "") << "a listening socket has no peer";
}

TEST(Ch09_Socket, BytesTravelBothWays) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.server.valid());
  ASSERT_EQ(send_nosignal(pair.client.get(), "ping"), 4);
  ASSERT_TRUE(wait_for(pair.server.get(), POLLIN));
  uint8_t buffer[16];
  ASSERT_EQ(read_some(pair.server.get(), buffer), 4);
  EXPECT_EQ(std::string(buffer, buffer + 4), "ping");
  ASSERT_EQ(send_nosignal(pair.server.get(), "pong"), 4);
  ASSERT_TRUE(wait_for(pair.client.get(), POLLIN));
  ASSERT_EQ(read_some(pair.client.get(), buffer), 4);
  EXPECT_EQ(std::string(buffer, buffer + 4), "pong");
}

TEST(Ch09_Socket, SetNodelayTurnsOffNagle) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.server.valid());
  ASSERT_EQ(set_nodelay(pair.server.get()), 0) << std::strerror(errno);
  int value = 0;
  socklen_t length = sizeof value;
  ::getsockopt(pair.server.get(), IPPROTO_TCP, TCP_NODELAY, &value, &length);
  EXPECT_EQ(value, 1);
}

// ---- edge: flags, options, start-up errors ---------------------------------

TEST(Ch09_Socket, ListenerIsNonBlockingAndCloseOnExec) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  EXPECT_TRUE(is_nonblocking(listener.fd.get()))
      << "a blocking listener would stall the whole loop in accept() if a client vanished "
         "between the readable event and the accept";
  EXPECT_TRUE(is_cloexec(listener.fd.get())) << "a child process must not inherit the port";
}

TEST(Ch09_Socket, AcceptedSocketIsNonBlockingAndCloseOnExec) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.server.valid());
  EXPECT_TRUE(is_nonblocking(pair.server.get())) << "accept4 must be given SOCK_NONBLOCK";
  EXPECT_TRUE(is_cloexec(pair.server.get())) << "accept4 must be given SOCK_CLOEXEC";
}

TEST(Ch09_Socket, ConnectedSocketIsNonBlockingAndCloseOnExec) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.client.valid());
  EXPECT_TRUE(is_nonblocking(pair.client.get())) << "connect_tcp sets O_NONBLOCK after connecting";
  EXPECT_TRUE(is_cloexec(pair.client.get()));
}

TEST(Ch09_Socket, AcceptWithNothingWaitingGivesEagain) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  // Checked first: accept() on a blocking listener would wait here forever.
  ASSERT_TRUE(is_nonblocking(listener.fd.get())) << "the listener must be non-blocking";
  Fd none = accept_connection(listener.fd.get());
  EXPECT_FALSE(none.valid());
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK)
      << "non-blocking accept with an empty queue returns at once: the loop waits instead";
}

TEST(Ch09_Socket, Ipv6ListenerIsIpv6Only) {
  std::optional<Listener> listener = try_listen_ipv6_loopback();
  if (!listener) GTEST_SKIP() << "IPv6 loopback (::1) is not available";
  int value = 0;
  socklen_t length = sizeof value;
  ::getsockopt(listener->fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &value, &length);
  // Linux sets the option by itself when a socket binds a specific IPv6
  // address such as ::1; listen_tcp sets it for "::" too, where it matters
  // (a wildcard bind is not tested here: tests stay on loopback).
  EXPECT_EQ(value, 1) << "without IPV6_V6ONLY a listener on :: also takes IPv4 and collides "
                         "with a second listener on 0.0.0.0";
}

TEST(Ch09_Socket, ReuseAddrAllowsImmediateRebind) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.server.valid());
  uint16_t port = pair.listener.port;
  // RFC 6455 §7.1.1: the server closes the TCP connection first...
  pair.server.reset();
  ASSERT_TRUE(sees_end_of_connection(pair.client.get()));
  pair.client.reset();
  // ...so the server's end of it now sits in TIME_WAIT on `port`.
  pair.listener.fd.reset();
  try {
    Listener again = listen_tcp("127.0.0.1", port);
    EXPECT_EQ(again.port, port);
  } catch (const std::system_error& e) {
    ADD_FAILURE() << e.what()
                  << ": SO_REUSEADDR is what lets a restarted server bind while old "
                     "connections are still in TIME_WAIT";
  }
}

TEST(Ch09_Socket, ListenOnAPortInUseThrows) {
  Listener first = listen_tcp("127.0.0.1", 0);
  try {
    Listener second = listen_tcp("127.0.0.1", first.port);
    ADD_FAILURE() << "two listeners on one port: SO_REUSEADDR must not allow that";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE) << e.what();
  }
}

TEST(Ch09_Socket, ListenOnAHostNameThrows) {
  EXPECT_THROW(listen_tcp("example.invalid", 0), std::system_error)
      << "listen_tcp takes numeric addresses (and \"localhost\"): no DNS at start-up";
}

TEST(Ch09_Socket, ConnectToAClosedPortGivesEconnrefused) {
  uint16_t port = 0;
  {
    Listener listener = listen_tcp("127.0.0.1", 0);
    port = listener.port;
  }  // closed: nobody listens there now
  Fd fd = connect_tcp("127.0.0.1", port);
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(errno, ECONNREFUSED) << "connect_tcp reports the kernel's errno: "
                                 << std::strerror(errno);
}

// ---- adversarial: a vanished peer, running out of descriptors ---------------

TEST(Ch09_Socket, SendToClosedPeerGivesEpipeNotSigpipe) {
  Fd a, b;
  ASSERT_EQ(make_socketpair(a, b), 0);
  b.reset();  // the peer is gone
  SigpipeCounter sigpipes;
  ssize_t n = send_nosignal(a.get(), "hello");
  int error = errno;
  EXPECT_EQ(n, -1);
  EXPECT_EQ(error, EPIPE) << "writing to a closed connection fails with EPIPE";
  EXPECT_EQ(sigpipes.count(), 0)
      << "MSG_NOSIGNAL must suppress SIGPIPE: its default action would kill the server";
}

TEST(Ch09_Socket, SendAfterShutdownGivesEpipeOnTcp) {
  TcpPair pair = connect_pair("127.0.0.1");
  ASSERT_TRUE(pair.server.valid());
  ::shutdown(pair.server.get(), SHUT_WR);  // our sending side is closed
  SigpipeCounter sigpipes;
  EXPECT_EQ(send_nosignal(pair.server.get(), "late"), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(sigpipes.count(), 0) << "MSG_NOSIGNAL: EPIPE, but no SIGPIPE";
}

TEST(Ch09_Socket, IgnoreSigpipeMakesPlainWriteReturnEpipe) {
  struct sigaction saved {};
  ::sigaction(SIGPIPE, nullptr, &saved);
  ASSERT_EQ(ignore_sigpipe(), 0);
  struct sigaction now {};
  ::sigaction(SIGPIPE, nullptr, &now);
  ASSERT_EQ(now.sa_handler, SIG_IGN) << "ignore_sigpipe must set SIGPIPE to SIG_IGN";
  Fd r, w;
  ASSERT_EQ(make_pipe(r, w), 0);
  r.reset();
  const uint8_t byte = 'x';
  EXPECT_EQ(write_some(w.get(), {&byte, 1}), -1);
  EXPECT_EQ(errno, EPIPE) << "write() has no MSG_NOSIGNAL: only SIG_IGN saves it";
  ::sigaction(SIGPIPE, &saved, nullptr);
}

TEST(Ch09_Socket, PlainAcceptOnEmfileLeavesTheConnectionQueued) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  Fd client = connect_tcp("127.0.0.1", listener.port);
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(wait_for(listener.fd.get(), POLLIN));
  DescriptorExhaustion full;
  ASSERT_EQ(full.open_errno(), EMFILE);
  Fd fd = accept_connection(listener.fd.get());
  int error = errno;
  bool still_readable = readable_now(listener.fd.get());
  full.release_all();
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(error, EMFILE);
  EXPECT_TRUE(still_readable)
      << "the trap: the connection is still queued, so a level-triggered loop is woken "
         "again at once, fails again, and spins at 100% CPU";
}

TEST(Ch09_Socket, AcceptorDropsTheConnectionOnEmfile) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  Acceptor acceptor(listener.fd.get());
  Fd client = connect_tcp("127.0.0.1", listener.port);
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(wait_for(listener.fd.get(), POLLIN));
  DescriptorExhaustion full;
  ASSERT_EQ(full.open_errno(), EMFILE);
  Fd fd = acceptor.accept();
  int error = errno;
  bool still_readable = readable_now(listener.fd.get());
  full.release_all();
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(error, EMFILE) << "the caller still learns why there is no connection";
  EXPECT_EQ(acceptor.dropped(), 1u);
  EXPECT_FALSE(still_readable)
      << "the reserve descriptor made room to accept and close the connection, so the "
         "listener is no longer readable: no spinning";
  EXPECT_TRUE(sees_end_of_connection(client.get()))
      << "the dropped client must see its connection end, not hang";
}

TEST(Ch09_Socket, AcceptorKeepsItsReserveAfterADrop) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  Acceptor acceptor(listener.fd.get());
  Fd client = connect_tcp("127.0.0.1", listener.port);
  ASSERT_TRUE(wait_for(listener.fd.get(), POLLIN));
  bool reserve_after_drop = false;
  {
    DescriptorExhaustion full;
    acceptor.accept();
    reserve_after_drop = acceptor.has_reserve();
  }
  EXPECT_TRUE(reserve_after_drop)
      << "the slot freed by closing the dropped connection is the one the spare reopens into";
}

TEST(Ch09_Socket, AcceptorAcceptsAgainOnceDescriptorsAreFree) {
  Listener listener = listen_tcp("127.0.0.1", 0);
  Acceptor acceptor(listener.fd.get());
  Fd first = connect_tcp("127.0.0.1", listener.port);
  ASSERT_TRUE(wait_for(listener.fd.get(), POLLIN));
  {
    DescriptorExhaustion full;
    EXPECT_FALSE(acceptor.accept().valid());
  }  // descriptors free again
  Fd second = connect_tcp("127.0.0.1", listener.port);
  ASSERT_TRUE(second.valid());
  ASSERT_TRUE(wait_for(listener.fd.get(), POLLIN));
  Fd accepted = acceptor.accept();
  ASSERT_TRUE(accepted.valid()) << "the server keeps serving after the shortage: "
                                << std::strerror(errno);
  EXPECT_EQ(peer_name(accepted.get()), local_name(second.get()))
      << "the first client was dropped, the second one is accepted";
}

}  // namespace
}  // namespace ws
