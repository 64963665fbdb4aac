// Plain HTTP on the WebSocket port: GET and HEAD serve files from a web root
// (the browser client page) with the right Content-Type, validators (ETag,
// Last-Modified) answered 304 when the browser's copy is current, and large
// files sent with sendfile() instead of being read into memory.
// Owns: the file descriptor of a file being sent. Refuses anything that is
// not a regular file inside the root. RFC 9110 §9.3.1-2 (GET, HEAD), §13
// (conditional requests), §8.8 (validators); RFC 9111 §5.2 (Cache-Control).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "openpipe/io/fd.h"
#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/http_parser.h"

namespace ws {

// Files up to this size are read and sent with their head in one write (a
// page, a script); larger ones are streamed from the page cache by sendfile().
inline constexpr size_t kMaxInlineFileSize = 64 * 1024;

// "text/html; charset=utf-8" for "index.html", ... ; a default for the rest.
std::string_view content_type_for(std::string_view path);

// The file path under `web_root` that the decoded request path names ("/"
// is "/index.html"), or "" if the path is unsafe: a ".." segment, a NUL, a
// backslash, or no leading "/". The path is NOT decoded again (the parser
// did it once: decoding twice is how "%252e%252e" becomes "..").
std::string safe_file_path(std::string_view web_root, std::string_view decoded_path);

//> static.file-body
// A regular file opened for one response, sent with sendfile(2): the kernel
// copies from the page cache to the socket, never through our memory.
class StaticFile final : public ReplyBody {
 public:
  StaticFile(Fd fd, uint64_t size) : fd_(std::move(fd)), size_(size) {}
  uint64_t size() const override { return size_; }
  // Sends what the socket takes now. Returns what sendfile() returns (< 0:
  // see errno, EAGAIN means wait for EPOLLOUT; 0: the file shrank).
  ssize_t send_to(int socket_fd);
  bool done() const { return static_cast<uint64_t>(offset_) == size_; }
  // The whole file as bytes ("" if it cannot be read whole): for a TLS
  // connection, where sendfile() would put plaintext on the wire (chapter 23).
  std::string read_all();

 private:
  Fd fd_;             // the open file, closed with this object
  uint64_t size_;     // bytes promised in Content-Length
  off_t offset_ = 0;  // bytes sent so far
};
//< static.file-body

// The answer to a plain GET/HEAD: `reply` (200 with the body, 304, 403, 404,
// 405), and for a file over kMaxInlineFileSize the `file` to stream after
// the head (Connection::reply_streamed()).
struct StaticAnswer {
  HttpReply reply;
  std::unique_ptr<StaticFile> file;
};
StaticAnswer serve_static_file(std::string_view web_root, const HttpRequest& request);

}  // namespace ws
