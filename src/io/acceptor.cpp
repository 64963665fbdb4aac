// Acceptor and the reserve-descriptor technique. See include/openpipe/io/acceptor.h.
#include "openpipe/io/acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include "openpipe/io/socket.h"

namespace ws {
namespace {

Fd open_reserve() {
  return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace

Acceptor::Acceptor(int listen_fd) : listen_fd_(listen_fd), reserve_(open_reserve()) {
  if (!reserve_) {
    throw std::system_error(errno, std::generic_category(), "Acceptor: open(/dev/null)");
  }
}

//> acceptor.accept
Fd Acceptor::accept() {
  if (!reserve_) reserve_ = open_reserve();  // lost earlier: try again
  Fd connection = accept_connection(listen_fd_);
  if (!connection && (errno == EMFILE || errno == ENFILE)) {
    int saved_errno = errno;
    drop_one();
    errno = saved_errno;  // the caller still learns why it got no connection
  }
  return connection;
}

void Acceptor::drop_one() {
  if (!reserve_) return;  // nothing to free: the connection stays queued
  reserve_.reset();       // one descriptor free again...
  // ...which the waiting connection takes. Closing it at once sends the
  // client a FIN (it reads end-of-file) and empties the queue slot, so the
  // listening socket is no longer readable because of this connection.
  Fd doomed(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC));
  if (doomed) ++dropped_;
  doomed.reset();
  reserve_ = open_reserve();
}
//< acceptor.accept

}  // namespace ws
