// Plain HTTP on the WebSocket port: GET serves files from a web root (the
// browser client page), with the right Content-Type and Content-Length.
// Owns nothing; reads files. Refuses path traversal ("/../") and anything
// that is not a regular file inside the root. RFC 7231 §4.3.1 (GET).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "openpipe/protocol/http_parser.h"

namespace ws {

// Files larger than this are not served (this is not a general web server).
inline constexpr size_t kMaxStaticFileSize = 16 << 20;

// "text/html; charset=utf-8" for "index.html", ... ; a default for the rest.
std::string_view content_type_for(std::string_view path);

// The file path under `web_root` that `target_path` names ("/" is
// "/index.html"), or "" if the path is unsafe: "..", a NUL, a backslash, or
// percent-encoding that hides one of them.
std::string safe_file_path(std::string_view web_root, std::string_view target_path);

// The complete HTTP response for a plain (non-WebSocket) request: 200 with
// the file, 404, 403 for an unsafe path, 405 for methods other than GET/HEAD.
std::string static_file_response(std::string_view web_root, const HttpRequest& request);

}  // namespace ws
