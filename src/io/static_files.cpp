// Static files for plain GET and HEAD requests (see static_files.h).
#include "openpipe/io/static_files.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace ws {
namespace {

struct ContentType {
  std::string_view extension;
  std::string_view type;
};

//> static.content-types
constexpr std::array kContentTypes = {
    ContentType{".html", "text/html; charset=utf-8"},
    ContentType{".htm", "text/html; charset=utf-8"},
    ContentType{".js", "text/javascript; charset=utf-8"},
    ContentType{".mjs", "text/javascript; charset=utf-8"},
    ContentType{".css", "text/css; charset=utf-8"},
    ContentType{".json", "application/json"},
    ContentType{".txt", "text/plain; charset=utf-8"},
    ContentType{".md", "text/markdown; charset=utf-8"},
    ContentType{".svg", "image/svg+xml"},
    ContentType{".png", "image/png"},
    ContentType{".jpg", "image/jpeg"},
    ContentType{".ico", "image/x-icon"},
    ContentType{".wasm", "application/wasm"},  // needed by WebAssembly.instantiateStreaming()
};
//< static.content-types

// RFC 9110 §5.6.7: IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(time_t when) {
  struct tm parts {};
  gmtime_r(&when, &parts);
  char text[40];
  size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return std::string(text, n);
}

// The inverse; false for anything else (RFC 9110 §13.1.3: an invalid date
// in If-Modified-Since is ignored).
bool parse_http_date(const std::string& text, time_t& when) {
  struct tm parts {};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
  if (!end || *end != '\0') return false;
  when = timegm(&parts);
  return true;
}

//> static.validators
// RFC 9110 §8.8.3: an ETag changes whenever the file does. Size and the
// modification time in nanoseconds are enough here (nginx uses the same two).
std::string etag_of(const struct stat& info) {
  char text[48];
  uint64_t mtime_ns = static_cast<uint64_t>(info.st_mtim.tv_sec) * 1000000000u +
                      static_cast<uint64_t>(info.st_mtim.tv_nsec);
  std::snprintf(text, sizeof text, "\"%" PRIx64 "-%" PRIx64 "\"", mtime_ns,
                static_cast<uint64_t>(info.st_size));
  return text;
}

// RFC 9110 §13.1.2: If-None-Match is "*" or a list of entity tags, compared
// weakly (W/"x" matches "x").
bool none_match_hits(std::string_view list, std::string_view etag) {
  for (std::string_view tag : split_list(list)) {
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

// RFC 9110 §13.2.2: If-None-Match decides when present; only without it does
// If-Modified-Since count (§13.1.3), and only for GET and HEAD.
bool not_modified(const HttpRequest& request, const struct stat& info, std::string_view etag) {
  if (const std::string* none_match = request.header("If-None-Match")) {
    return none_match_hits(*none_match, etag);
  }
  const std::string* since = request.header("If-Modified-Since");
  time_t when = 0;
  return since && parse_http_date(*since, when) && info.st_mtim.tv_sec <= when;
}
//< static.validators

bool read_whole(int fd, std::string& contents) {
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n =
        read_some(fd, {reinterpret_cast<uint8_t*>(contents.data()) + done, contents.size() - done});
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

HttpReply text_reply(int status, std::string body) {
  return HttpReply::text(status, std::move(body));
}

}  // namespace

std::string_view content_type_for(std::string_view path) {
  for (const ContentType& entry : kContentTypes) {
    if (path.ends_with(entry.extension)) return entry.type;
  }
  return "application/octet-stream";
}

//> static.safe-path
std::string safe_file_path(std::string_view web_root, std::string_view decoded_path) {
  if (web_root.empty() || !decoded_path.starts_with('/')) return "";
  std::string path(decoded_path);
  // The parser already refused ".." and NUL; this is the second lock on the
  // same door, for a caller that built its request by hand. A backslash is
  // a separator on some systems.
  if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos) return "";
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    if (path.compare(start, end - start, "..") == 0) return "";
    start = end + 1;
  }
  if (path.ends_with('/')) path += "index.html";
  return std::string(web_root) + path;
}
//< static.safe-path

//> static.send-file
ssize_t StaticFile::send_to(int socket_fd) {
  // At most 1 MiB per call, so one large file does not hold the loop.
  uint64_t left = size_ - static_cast<uint64_t>(offset_);
  size_t count = static_cast<size_t>(std::min<uint64_t>(left, 1 << 20));
  return ::sendfile(socket_fd, fd_.get(), &offset_, count);
}
//< static.send-file

std::string StaticFile::read_all() {
  std::string bytes(size_, '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::pread(fd_.get(), bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {};
    got += static_cast<size_t>(n);
  }
  return bytes;
}

//> static.response
StaticAnswer serve_static_file(std::string_view web_root, const HttpRequest& request) {
  StaticAnswer answer;
  if (request.method != "GET" && request.method != "HEAD") {
    answer.reply = text_reply(405, "Only GET and HEAD are served here.\n");
    answer.reply.headers = "Allow: GET, HEAD\r\n";  // RFC 9110 §15.5.6: a 405 MUST say
    return answer;
  }
  std::string path = safe_file_path(web_root, request.path());
  if (path.empty()) {
    answer.reply = text_reply(403, "Forbidden path.\n");
    return answer;
  }
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (!fd.valid() || fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    answer.reply = text_reply(404, "Not Found\n");
    return answer;
  }
  std::string etag = etag_of(info);
  HttpReply& reply = answer.reply;
  // RFC 9111 §5.2.2.4: no-cache lets the browser keep the page but ask each
  // time whether it is still current: the answer is usually a 304 of ~150
  // bytes, and a changed page is never shown stale.
  reply.headers = "ETag: " + etag + "\r\nLast-Modified: " + http_date(info.st_mtim.tv_sec) +
                  "\r\nCache-Control: no-cache\r\n";
  if (not_modified(request, info, etag)) {
    reply.status = 304;  // RFC 9110 §15.4.5: the validators again, no content
    reply.content_type.clear();
    return answer;
  }
  reply.content_type = content_type_for(path);
  auto size = static_cast<uint64_t>(info.st_size);
  if (size > kMaxInlineFileSize) {
    answer.file = std::make_unique<StaticFile>(std::move(fd), size);
    return answer;
  }
  reply.body.resize(static_cast<size_t>(size));
  if (request.method == "GET" && !read_whole(fd.get(), reply.body)) {
    answer.reply = text_reply(500, "The file could not be read.\n");
  }
  return answer;
}
//< static.response

}  // namespace ws
