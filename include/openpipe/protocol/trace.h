// The trace: what crosses one connection, as annotated text for a reader. It
// is fed copies of the raw bytes each way and prints the HTTP head line by line,
// then every frame decoded field by field. Owns its own decoders and a bounded
// preview of each payload. Does no I/O: it appends text to a string the caller
// prints. RFC 6455 §4.1/§4.2 (handshake), §5.2 (frame fields), §5.5.1 (close).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "openpipe/protocol/deflate.h"
#include "openpipe/protocol/frame.h"

namespace ws {

//> trace.limits
// How much of each thing the trace keeps and shows: a 1 GiB payload costs
// the trace no more memory than a 5-byte one.
inline constexpr size_t kTraceTextPreview = 60;   // bytes of a text payload shown
inline constexpr size_t kTraceHexPreview = 24;    // bytes of a binary payload shown, in hex
inline constexpr size_t kTraceKeptPayload = 125;  // bytes kept per frame (a whole close frame)
inline constexpr size_t kTraceLineLimit = 1024;   // bytes shown of one HTTP head line
inline constexpr size_t kTraceCopyChunk = 4096;   // bytes copied at a time for decoding
//< trace.limits

struct TraceOptions {
  Role role = Role::kServer;  // our end: a server receives masked frames (§5.1)
  bool colour = false;        // ANSI colours; the caller decides (e.g. isatty)
  std::string label;          // put before every line, e.g. "[7] " (empty: none)
};

//> trace.stream
// One direction of the connection. The request side's head is followed by
// frames if it asked for an upgrade; the response side's if it answered 101.
// Anything else is plain HTTP: a head, maybe a body, maybe another head.
class TraceStream {
 public:
  // `outgoing`: we send these bytes. `carries_requests`: the HTTP requests go
  // this way. `receiver`: the role of the end that receives these bytes.
  TraceStream(bool outgoing, bool carries_requests, Role receiver);

  // Appends the text for `bytes` (which it copies, never changes) to `out`.
  void feed(std::span<const uint8_t> bytes, const TraceOptions& options, std::string& out);
  // The transport closed: reports a line, a body or a frame that was cut short.
  void finish(const TraceOptions& options, std::string& out);
  // A response head that accepted permessage-deflate (RFC 7692) was seen:
  // true once, with what was agreed.
  bool take_agreed_deflate(DeflateParams& params);
  // From now on frames may carry RSV1 and compressed messages are inflated
  // (with a window of our own) to show their size and text.
  void enable_deflate(const DeflateParams& params);

 private:
  enum class Phase : uint8_t {
    kHead,    // HTTP start line and headers, until the empty line
    kBody,    // an HTTP body: body_left_ bytes, or until the close
    kFrames,  // WebSocket frames, after the upgrade
    kFailed,  // a frame was invalid (or the connection closed): nothing more is decoded
  };
  //< trace.stream
  static constexpr uint64_t kUnknownLength = std::numeric_limits<uint64_t>::max();

  size_t feed_head(std::span<const uint8_t> bytes, const TraceOptions& o, std::string& out);
  void end_of_line(const TraceOptions& o, std::string& out);
  void end_of_head();
  static uint64_t parse_length(std::string_view value);
  size_t feed_body(std::span<const uint8_t> bytes, const TraceOptions& o, std::string& out);
  void feed_frames(std::span<uint8_t> copy, const TraceOptions& o, std::string& out);
  void start_frame();
  void print_frame(const TraceOptions& o, std::string& out, std::string_view note,
                   std::string_view inflated = {}) const;
  std::string preview(const FrameHeader& header) const;
  std::string close_preview(std::span<const uint8_t> kept) const;
  void inflate_piece(std::span<const uint8_t> piece, bool message_ends);
  std::string deflate_note(bool message_ends) const;

  bool outgoing_;          // we sent these bytes ("->") rather than received them ("<-")
  bool carries_requests_;  // requests go this way (server: received; client: sent)
  Phase phase_ = Phase::kHead;

  // HTTP head and body
  std::string line_;                          // the current line, at most kTraceLineLimit bytes
  uint64_t line_dropped_ = 0;                 // bytes of the current line beyond line_
  bool first_line_ = true;                    // the next line is a request or status line
  int status_ = 0;                            // a response's status code (101, 200...)
  bool upgrade_ = false;                      // after this head, frames follow
  uint64_t content_length_ = kUnknownLength;  // the head's Content-Length, if any
  bool chunked_ = false;                      // Transfer-Encoding: the length is unknown
  bool body_until_close_ = false;             // a response body without a length
  uint64_t body_left_ = 0;                    // bytes of the current body still to come
  uint64_t body_seen_ = 0;                    // bytes of the current body so far

  // frames
  FrameDecoder decoder_;
  std::array<uint8_t, kMaxFrameHeaderSize> header_raw_{};  // the current header's bytes
  size_t header_size_ = 0;                                 // how many of them have arrived
  std::string kept_;              // the first kTraceKeptPayload bytes of the payload
  uint64_t payload_seen_ = 0;     // payload bytes of the current frame so far
  bool in_frame_ = false;         // a header was decoded, the payload is not complete
  bool message_is_text_ = false;  // the current message began with a text frame
  uint64_t ignored_ = 0;          // bytes after an invalid frame (never decoded)

  // permessage-deflate (chapter 22)
  std::string extensions_;              // a response head's Sec-WebSocket-Extensions
  bool deflate_agreed_ = false;         // that header accepted permessage-deflate
  DeflateParams agreed_;                // ... with these parameters
  bool deflate_ = false;                // frames here may be compressed
  bool keeps_context_ = false;          // the sender keeps its window between messages
  bool compressed_ = false;             // the current message has RSV1
  std::unique_ptr<Inflater> inflater_;  // created at the first compressed message
  std::string inflated_kept_;           // its first kTraceKeptPayload inflated bytes
  uint64_t inflated_size_ = 0;          // inflated bytes of the current message
  uint64_t compressed_size_ = 0;        // payload bytes of the current message
  bool inflate_failed_ = false;         // not DEFLATE data: shown, not fatal for the trace
};

//> trace.tracer
// One per connection. The server calls on_received() with exactly the bytes
// it read and on_sent() with exactly the bytes it wrote, and prints `sink`
// (to stderr) whenever it likes, clearing it after. Lines look like this
// (the real ones are padded into columns):
//
//   <- GET /ws HTTP/1.1
//   ...
//   <- frame  FIN=1 RSV=000 opcode=0x1 (text)  MASK=1 key=37fa213d  len=5 (7-bit)  "Hello"
//   -> frame  FIN=1 RSV=000 opcode=0x1 (text)  MASK=0  len=11 (7-bit)  "Echo: Hello"
class Tracer {
 public:
  Tracer(std::string& sink, TraceOptions options);

  void on_received(std::span<const uint8_t> bytes);
  void on_sent(std::span<const uint8_t> bytes);
  // The TCP connection closed: reports whatever was cut short.
  void on_closed();
  // A line of the caller's own (who connected, why we closed) in the same layout.
  void note(std::string_view text);

 private:
  void share_deflate();  // the response agreed on deflate: both directions learn it
  std::string* sink_;    // where lines go; not owned
  TraceOptions options_;
  TraceStream received_;
  TraceStream sent_;
};
//< trace.tracer

}  // namespace ws
