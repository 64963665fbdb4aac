// The benchmark's yardstick (chapter 16): a plain TCP echo server, written as
// simply as an epoll server can be. Every byte read is written straight back;
// what the kernel does not take is queued and EPOLLOUT waits for room. No
// protocol, no parsing, no timers: whatever openpipe's echo server costs
// beyond this is the price of WebSocket, and build/bench reports the ratio.
//
//   build/tcp_echo_server --port 0     prints "tcp echo server listening on 127.0.0.1:PORT"
//
// Same shape as the WebSocket server, to compare like with like: one
// level-triggered epoll loop, one 256 KiB read buffer shared by every
// connection, one read() per readiness event, TCP_NODELAY.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "openpipe/io/socket.h"

namespace {

constexpr size_t kReadBufferSize = 256 * 1024;  // the same as the WebSocket server's
constexpr int kMaxEvents = 256;                 // events taken per epoll_wait

// One client: its socket and the bytes the kernel has not taken yet.
struct Client {
  ws::Fd fd;                    // owned
  std::vector<uint8_t> unsent;  // echo bytes waiting for EPOLLOUT (usually empty)
};

// Descriptor -> client; null where no client lives.
std::vector<std::unique_ptr<Client>> clients;
int epoll_fd = -1;
volatile std::sig_atomic_t stop = 0;

void watch(int fd, uint32_t events, int op) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  ::epoll_ctl(epoll_fd, op, fd, &event);
}

void drop(int fd) {
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
  clients[fd].reset();  // closes the socket
}

// Sends what it can of `bytes`; keeps the rest in `unsent`. False if the
// connection is broken.
//> tcp-echo.send
bool send_or_queue(Client& client, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    ssize_t n = ws::send_nosignal(client.fd.get(), bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;  // the kernel is full: queue the rest
    if (n < 0) return false;
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  client.unsent.insert(client.unsent.end(), bytes.begin(), bytes.end());
  return true;
}
//< tcp-echo.send

//> tcp-echo.on-event
void on_client_event(int fd, uint32_t events, std::vector<uint8_t>& buffer) {
  Client& client = *clients[fd];
  if (events & EPOLLOUT) {  // room again: send the queue
    std::vector<uint8_t> queued;
    queued.swap(client.unsent);
    if (!send_or_queue(client, queued)) return drop(fd);
    if (client.unsent.empty()) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || !client.unsent.empty()) return;
  ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return drop(fd);  // the client closed, or an error
  if (!send_or_queue(client, {buffer.data(), static_cast<size_t>(n)})) return drop(fd);
  // While echo bytes wait, stop reading this client: it is not reading us.
  if (!client.unsent.empty()) watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
}
//< tcp-echo.on-event

void on_listener(int listen_fd) {
  for (;;) {
    ws::Fd fd = ws::accept_connection(listen_fd);
    if (!fd.valid()) return;  // EAGAIN (nothing waits), or out of descriptors
    ws::set_nodelay(fd.get());
    const int raw = fd.get();
    if (clients.size() <= static_cast<size_t>(raw)) clients.resize(raw + 1);
    clients[raw] = std::make_unique<Client>(Client{std::move(fd), {}});
    watch(raw, EPOLLIN, EPOLL_CTL_ADD);
  }
}

uint16_t parse_port(int argc, char** argv) {
  unsigned long port = 9000;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--port" && i + 1 < argc) {
      port = std::strtoul(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: tcp_echo_server [--port N]   (0: any free port)\n");
      std::exit(flag == "--help" ? 0 : 2);
    }
  }
  if (port > 65535) {
    std::fprintf(stderr, "tcp_echo_server: --port: at most 65535\n");
    std::exit(2);
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

int main(int argc, char** argv) {
  const uint16_t port = parse_port(argc, argv);
  ws::ignore_sigpipe();
  std::signal(SIGTERM, [](int) { stop = 1; });
  std::signal(SIGINT, [](int) { stop = 1; });
  try {
    ws::Listener listener = ws::listen_tcp("127.0.0.1", port);
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    watch(listener.fd.get(), EPOLLIN, EPOLL_CTL_ADD);
    std::printf("tcp echo server listening on %s\n", listener.address.c_str());
    std::fflush(stdout);

    std::vector<uint8_t> buffer(kReadBufferSize);
    epoll_event events[kMaxEvents];
    while (!stop) {
      int ready = ::epoll_wait(epoll_fd, events, kMaxEvents, -1);
      for (int i = 0; i < ready; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener.fd.get()) {
          on_listener(fd);
        } else if (static_cast<size_t>(fd) < clients.size() && clients[fd]) {
          on_client_event(fd, events[i].events, buffer);  // (skips a client dropped this turn)
        }
      }
    }
    ::close(epoll_fd);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tcp_echo_server: cannot start: %s\n", error.what());
    return 1;
  }
}
