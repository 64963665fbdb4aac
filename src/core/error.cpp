// The table behind to_string(), http_status() and close_code(): one row per
// error, so a new error cannot be added without saying what it answers.
#include "openpipe/core/error.h"

#include <ostream>

namespace ws {
namespace {

struct ErrorInfo {
  std::string_view name;  // readable, stable: used in logs and close reasons
  int http_status;        // before the upgrade (0 if not applicable)
  uint16_t close_code;    // after the upgrade (0 if not applicable)
};

//> core.error-table
ErrorInfo info(Error error) {
  switch (error) {
    case Error::kNone: return {"none", 0, 0};
    case Error::kHttpMalformed: return {"http-malformed", 400, 0};
    case Error::kHttpBadHeaderByte: return {"http-bad-header-byte", 400, 0};
    case Error::kHttpRequestLineTooLong: return {"http-request-line-too-long", 414, 0};
    case Error::kHttpHeaderTooLarge: return {"http-header-too-large", 431, 0};
    case Error::kHttpTooManyHeaders: return {"http-too-many-headers", 431, 0};
    case Error::kHttpRequestTooLarge: return {"http-request-too-large", 431, 0};
    case Error::kHttpObsFold: return {"http-obs-fold", 400, 0};
    case Error::kHttpBadTarget: return {"http-bad-target", 400, 0};
    case Error::kHttpBadPath: return {"http-bad-path", 400, 0};
    case Error::kHttpBadHost: return {"http-bad-host", 400, 0};
    case Error::kHttpBadContentLength: return {"http-bad-content-length", 400, 0};
    case Error::kHttpLengthAndChunked: return {"http-length-and-chunked", 400, 0};
    case Error::kHttpBadTransferEncoding: return {"http-bad-transfer-encoding", 400, 0};
    case Error::kHttpUnknownCoding: return {"http-unknown-coding", 501, 0};
    case Error::kHttpBadChunk: return {"http-bad-chunk", 400, 0};
    case Error::kHttpTrailerTooLarge: return {"http-trailer-too-large", 431, 0};
    case Error::kHttpBodyTooLarge: return {"http-body-too-large", 413, 0};
    case Error::kHttpLengthRequired: return {"http-length-required", 411, 0};
    case Error::kHttpConnectRefused: return {"http-connect-refused", 501, 0};
    case Error::kHttpVersionNotSupported: return {"http-version-not-supported", 505, 0};
    case Error::kHandshakeMethodNotGet: return {"handshake-method-not-get", 405, 0};
    case Error::kHandshakeHttpVersion: return {"handshake-http-version", 400, 0};
    case Error::kHandshakeMissingHost: return {"handshake-missing-host", 400, 0};
    case Error::kHandshakeBadUpgrade: return {"handshake-bad-upgrade", 400, 0};
    case Error::kHandshakeBadConnection: return {"handshake-bad-connection", 400, 0};
    case Error::kHandshakeBadKey: return {"handshake-bad-key", 400, 0};
    case Error::kHandshakeBadVersion: return {"handshake-bad-version", 426, 0};
    case Error::kHandshakeHasBody: return {"handshake-has-body", 400, 0};
    case Error::kHandshakeBadResponse: return {"handshake-bad-response", 0, 0};
    case Error::kHandshakeBadAccept: return {"handshake-bad-accept", 0, 0};
    case Error::kFrameReservedBits: return {"frame-reserved-bits", 0, 1002};
    case Error::kFrameUnknownOpcode: return {"frame-unknown-opcode", 0, 1002};
    case Error::kFrameNotMasked: return {"frame-not-masked", 0, 1002};
    case Error::kFrameMasked: return {"frame-masked", 0, 1002};
    case Error::kFrameLengthTopBit: return {"frame-length-top-bit", 0, 1002};
    case Error::kFrameControlTooLong: return {"frame-control-too-long", 0, 1002};
    case Error::kFrameControlFragmented: return {"frame-control-fragmented", 0, 1002};
    case Error::kFrameTooLarge: return {"frame-too-large", 0, 1009};
    case Error::kMessageUnexpectedContinuation: return {"message-unexpected-continuation", 0, 1002};
    case Error::kMessageExpectedContinuation: return {"message-expected-continuation", 0, 1002};
    case Error::kMessageTooLarge: return {"message-too-large", 0, 1009};
    case Error::kMessageInvalidUtf8: return {"message-invalid-utf8", 0, 1007};
    case Error::kCloseOneByteBody: return {"close-one-byte-body", 0, 1002};
    case Error::kCloseInvalidCode: return {"close-invalid-code", 0, 1002};
    case Error::kCloseInvalidUtf8: return {"close-invalid-utf8", 0, 1007};
    case Error::kDeflateMisplacedRsv1: return {"deflate-misplaced-rsv1", 0, 1002};
    case Error::kDeflateBadData: return {"deflate-bad-data", 0, 1007};
  }
  return {"unknown", 500, 1011};
}
//< core.error-table

}  // namespace

std::string_view to_string(Error error) {
  return info(error).name;
}
int http_status(Error error) {
  return info(error).http_status;
}
uint16_t close_code(Error error) {
  return info(error).close_code;
}

std::ostream& operator<<(std::ostream& out, Error error) {
  return out << to_string(error);
}

std::string_view to_string(ParseStatus status) {
  switch (status) {
    case ParseStatus::kOk: return "ok";
    case ParseStatus::kNeedMore: return "need-more";
    case ParseStatus::kError: return "error";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, ParseStatus status) {
  return out << to_string(status);
}

}  // namespace ws
