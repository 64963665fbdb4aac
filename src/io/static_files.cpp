// Static files for plain GET requests (see static_files.h).
#include "openpipe/io/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <array>

#include "openpipe/io/fd.h"
#include "openpipe/protocol/handshake.h"

namespace ws {
namespace {

struct ContentType {
  std::string_view extension;
  std::string_view type;
};

constexpr std::array kContentTypes = {
    ContentType{".html", "text/html; charset=utf-8"},
    ContentType{".htm", "text/html; charset=utf-8"},
    ContentType{".js", "text/javascript; charset=utf-8"},
    ContentType{".css", "text/css; charset=utf-8"},
    ContentType{".json", "application/json"},
    ContentType{".txt", "text/plain; charset=utf-8"},
    ContentType{".md", "text/markdown; charset=utf-8"},
    ContentType{".svg", "image/svg+xml"},
    ContentType{".png", "image/png"},
    ContentType{".jpg", "image/jpeg"},
    ContentType{".ico", "image/x-icon"},
    ContentType{".wasm", "application/wasm"},
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; false on a broken escape.
bool percent_decode(std::string_view in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int high = hex_value(in[i + 1]), low = hex_value(in[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

bool read_file(const std::string& path, std::string& contents) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (!fd.valid() || fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
  if (static_cast<size_t>(info.st_size) > kMaxStaticFileSize) return false;
  contents.resize(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = read_some(
        fd.get(), {reinterpret_cast<uint8_t*>(contents.data()) + done, contents.size() - done});
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string_view content_type_for(std::string_view path) {
  for (const ContentType& entry : kContentTypes) {
    if (path.ends_with(entry.extension)) return entry.type;
  }
  return "application/octet-stream";
}

//> static.safe-path
std::string safe_file_path(std::string_view web_root, std::string_view target_path) {
  std::string path;
  if (web_root.empty() || !target_path.starts_with('/') || !percent_decode(target_path, path)) {
    return "";
  }
  // Refuse every way out of the root: a ".." segment, a NUL that would cut
  // the name short, a backslash some systems treat as a separator.
  if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos) return "";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return "";
    start = end + 1;
  }
  if (path.ends_with('/')) path += "index.html";
  return std::string(web_root) + path;
}
//< static.safe-path

//> static.response
std::string static_file_response(std::string_view web_root, const HttpRequest& request) {
  bool head = request.method == "HEAD";
  if (request.method != "GET" && !head) {
    return build_http_response(405, "text/plain; charset=utf-8", "Only GET is served here.\n",
                               "Allow: GET, HEAD\r\n");
  }
  std::string file = safe_file_path(web_root, request.path());
  if (file.empty()) {
    return build_http_response(403, "text/plain; charset=utf-8", "Forbidden path.\n");
  }
  std::string contents;
  if (!read_file(file, contents)) {
    return build_http_response(404, "text/plain; charset=utf-8", "Not Found\n");
  }
  std::string response = build_http_response(200, content_type_for(file), contents);
  if (head) response.resize(response.find("\r\n\r\n") + 4);  // headers only
  return response;
}
//< static.response

}  // namespace ws
