// The trace: annotated text for the bytes of one connection. See trace.h for
// the contract; the tutorial is chapter 13 (tutorial/13-browser-and-trace.md).
// Pure formatting: no syscalls, every line goes into a std::string.
#include "openpipe/protocol/trace.h"

#include <algorithm>
#include <limits>

#include "openpipe/protocol/close.h"
#include "openpipe/protocol/http_parser.h"
#include "openpipe/protocol/utf8.h"

namespace ws {
namespace {

// ---- one line of output ---------------------------------------------------------------

enum class Tone : uint8_t { kPlain, kDirection, kDim, kError };

constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kReceivedColour = "\x1b[36m";  // cyan
constexpr std::string_view kSentColour = "\x1b[32m";      // green
constexpr std::string_view kDimColour = "\x1b[2m";
constexpr std::string_view kErrorColour = "\x1b[31m";  // red

// Builds one line: the label, the arrow ("<-" received, "->" sent), then parts
// in tones that become ANSI colours only when options.colour is set. column()
// pads to a column so that the fields of successive frames line up; the
// padding is written only if something follows (no trailing spaces).
class Line {
 public:
  Line(const TraceOptions& options, bool outgoing, std::string& out)
      : options_(options), outgoing_(outgoing), out_(out) {
    if (!options_.label.empty()) put(options_.label, Tone::kDim);
    put(outgoing_ ? "->" : "<-", Tone::kDirection);
    width_ = 0;  // columns count from after the arrow
    pad_ = 1;
  }
  // A note of the caller's own: "--" instead of an arrow.
  Line(const TraceOptions& options, std::string_view text, std::string& out)
      : options_(options), outgoing_(false), out_(out) {
    if (!options_.label.empty()) put(options_.label, Tone::kDim);
    put("--", Tone::kDim);
    pad_ = 1;
    add(text, Tone::kDim);
  }
  ~Line() { out_ += '\n'; }

  Line& add(std::string_view text, Tone tone = Tone::kPlain) {
    out_.append(pad_, ' ');
    width_ += pad_;
    pad_ = 0;
    put(text, tone);
    return *this;
  }
  Line& space(size_t n = 1) {
    pad_ += n;
    return *this;
  }
  Line& column(size_t at) {
    pad_ = width_ + pad_ < at ? at - width_ : 2;  // too wide already: two spaces
    return *this;
  }

 private:
  void put(std::string_view text, Tone tone) {
    const std::string_view colour = colour_of(tone);
    if (options_.colour && !colour.empty()) out_ += colour;
    out_ += text;
    if (options_.colour && !colour.empty()) out_ += kReset;
    // Visible width: UTF-8 continuation bytes (10xxxxxx) take no column.
    for (char c : text) width_ += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  }
  std::string_view colour_of(Tone tone) const {
    switch (tone) {
      case Tone::kDirection: return outgoing_ ? kSentColour : kReceivedColour;
      case Tone::kDim: return kDimColour;
      case Tone::kError: return kErrorColour;
      case Tone::kPlain: break;
    }
    return {};
  }

  const TraceOptions& options_;
  bool outgoing_;
  std::string& out_;
  size_t width_ = 0;  // visible columns written since the arrow
  size_t pad_ = 0;    // spaces owed before the next part
};

// Columns of the frame line, counted from after the arrow: wide enough for
// "opcode=0x0 (continuation)", "MASK=1 key=37fa213d" and "len=65535 (126 + 16-bit)".
constexpr size_t kMaskColumn = 49;
constexpr size_t kLengthColumn = kMaskColumn + 21;
constexpr size_t kPreviewColumn = kLengthColumn + 26;

// ---- escaping ---------------------------------------------------------------------------

constexpr char kHexDigits[] = "0123456789abcdef";

void append_hex_byte(std::string& out, uint8_t byte) {
  out += kHexDigits[byte >> 4];
  out += kHexDigits[byte & 0xF];
}

std::string hex_bytes(std::span<const uint8_t> bytes, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out += separator;
    append_hex_byte(out, bytes[i]);
  }
  return out;
}

// The length of the valid UTF-8 sequence that starts at bytes[i], or 0 if the
// byte starts none (or the sequence does not fit in `bytes`).
size_t utf8_sequence_at(std::span<const uint8_t> bytes, size_t i) {
  const uint8_t lead = bytes[i];
  const size_t length = lead < 0x80    ? 1
                        : lead >= 0xF0 ? 4
                        : lead >= 0xE0 ? 3
                        : lead >= 0xC2 ? 2
                                       : 0;
  if (length == 0 || i + length > bytes.size()) return 0;
  return is_valid_utf8(bytes.subspan(i, length)) ? length : 0;
}

//> trace.escape
// Text as a reader can see it: control characters and bytes that are not
// UTF-8 become escapes (and, inside quotes, quotes and backslashes), so the
// preview of any payload is one printable line. Stops before `limit` bytes,
// never inside a character, and returns how many bytes it showed.
size_t append_escaped(std::string& out, std::span<const uint8_t> bytes, size_t limit,
                      bool quoted = true) {
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t c = bytes[i];
    size_t length = utf8_sequence_at(bytes, i);
    if (length == 0) length = 1;  // not UTF-8: shown as \xNN below
    if (i + length > limit) break;
    if (quoted && (c == '"' || c == '\\')) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && utf8_sequence_at(bytes, i) == 0)) {
      out += "\\x";  // ESC among them: a peer's bytes never drive our terminal
      append_hex_byte(out, c);
    } else if (c == 0xC2 && bytes[i + 1] < 0xA0) {
      out += "\\u00";  // U+0080-U+009F: the C1 controls, shown by number too
      append_hex_byte(out, bytes[i + 1]);
    } else {
      out.append(reinterpret_cast<const char*>(&bytes[i]), length);
    }
    i += length;
  }
  return i;
}
//< trace.escape

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

bool is_printable_ascii(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t c) { return c >= 0x20 && c < 0x7F; });
}

std::string more_bytes(uint64_t n) {
  return "\xE2\x80\xA6(" + std::to_string(n) + " more bytes)";  // "…(N more bytes)"
}

// ---- frame fields -------------------------------------------------------------------------

const char* close_code_name(uint16_t code) {
  switch (code) {
    case kCloseNormal: return "normal closure";
    case kCloseGoingAway: return "going away";
    case kCloseProtocolError: return "protocol error";
    case kCloseUnsupportedData: return "unsupported data";
    case kCloseNoStatus: return "no status";
    case kCloseAbnormal: return "abnormal closure";
    case kCloseInvalidPayload: return "invalid payload data";
    case kClosePolicyViolation: return "policy violation";
    case kCloseMessageTooBig: return "message too big";
    case kCloseMandatoryExtension: return "mandatory extension";
    case kCloseInternalError: return "internal error";
    case kCloseServiceRestart: return "service restart";
    case kCloseTryAgainLater: return "try again later";
    case kCloseBadGateway: return "bad gateway";
    case kCloseTlsHandshake: return "TLS handshake";
  }
  if (code >= 3000 && code <= 3999) return "registered by a library or framework";
  if (code >= 4000 && code <= 4999) return "private use";
  return "unassigned";
}

//> trace.length-form
// §5.2: the 7 length bits hold the length itself (0-125), or 126: "the
// following 2 bytes" hold it, or 127: "the following 8 bytes" do. The form is
// read from the wire, so a sender that ignored "the minimal number of bytes
// MUST be used" is caught in the act.
std::string length_form(uint8_t length7, uint64_t length) {
  if (length7 == 126) return length < 126 ? "126 + 16-bit, not minimal" : "126 + 16-bit";
  if (length7 == 127) return length <= 0xFFFF ? "127 + 64-bit, not minimal" : "127 + 64-bit";
  return "7-bit";
}
//< trace.length-form

// The status code of "HTTP/1.1 101 Switching Protocols", or 0.
int parse_status(std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || line.size() < space + 4) return 0;
  int status = 0;
  for (char c : line.substr(space + 1, 3)) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + (c - '0');
  }
  return status;
}

std::string opcode_field(Opcode opcode) {
  std::string out = "opcode=0x";
  out += kHexDigits[static_cast<uint8_t>(opcode) & 0xF];
  return out;
}

}  // namespace

// ---- one direction ----------------------------------------------------------------------------

TraceStream::TraceStream(bool outgoing, bool carries_requests, Role receiver)
    : outgoing_(outgoing),
      carries_requests_(carries_requests),
      // The trace shows frames of any size: the server enforces its own limit.
      decoder_(receiver, std::numeric_limits<uint64_t>::max()) {}

//> trace.feed
void TraceStream::feed(std::span<const uint8_t> bytes, const TraceOptions& o, std::string& out) {
  while (!bytes.empty()) {
    size_t used = bytes.size();
    switch (phase_) {
      case Phase::kHead: used = feed_head(bytes, o, out); break;
      case Phase::kBody: used = feed_body(bytes, o, out); break;
      case Phase::kFrames: {
        // The decoder unmasks in place: it works on a copy, never on the
        // caller's bytes, a chunk at a time so the copy stays small.
        std::array<uint8_t, kTraceCopyChunk> copy;
        used = std::min(bytes.size(), copy.size());
        std::copy_n(bytes.begin(), used, copy.begin());
        feed_frames({copy.data(), used}, o, out);
        break;
      }
      case Phase::kFailed:
        ignored_ += used;  // reported once, by finish()
        break;
    }
    bytes = bytes.subspan(used);
  }
}
//< trace.feed

// ---- the HTTP head, line by line ---------------------------------------------------------------

size_t TraceStream::feed_head(std::span<const uint8_t> bytes, const TraceOptions& o,
                              std::string& out) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n') {
      end_of_line(o, out);
      if (phase_ != Phase::kHead) return i + 1;  // the rest is a body or frames
    } else if (line_.size() < kTraceLineLimit) {
      line_ += static_cast<char>(bytes[i]);
    } else {
      ++line_dropped_;  // a hostile endless line costs nothing
    }
  }
  return bytes.size();
}

//> trace.head-line
// A head line is printed as it is (escaped); the trace only notices the
// fields that decide what the bytes after the empty line are (RFC 7230 §3.3.3,
// RFC 6455 §4.1): an upgrade request, a 101 answer, or a Content-Length body.
void TraceStream::end_of_line(const TraceOptions& o, std::string& out) {
  if (!line_.empty() && line_.back() == '\r' && line_dropped_ == 0) line_.pop_back();
  const std::string_view line = line_;
  std::string shown;
  append_escaped(shown, as_bytes(line), line.size(), /*quoted=*/false);
  Line printed(o, outgoing_, out);
  if (line.empty() && line_dropped_ == 0) {
    if (first_line_) {
      printed.add("(empty line before the start line: ignored)", Tone::kDim);
    } else if (upgrade_) {
      printed.add("(empty line: end of the head; from here on, WebSocket frames)", Tone::kDim);
    } else {
      printed.add("(empty line: end of the head)", Tone::kDim);
    }
    if (!first_line_) end_of_head();
    return;
  }
  printed.add(shown);
  if (line_dropped_ > 0) printed.add(more_bytes(line_dropped_), Tone::kDim);
  if (first_line_) {
    // A response's status line: "HTTP/1.1 101 Switching Protocols".
    if (!carries_requests_) status_ = parse_status(line);
    if (status_ == 101) upgrade_ = true;
    first_line_ = false;
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    if (carries_requests_ && equals_ignore_case(name, "Upgrade") &&
        list_has_token(value, "websocket")) {
      upgrade_ = true;
    }
    if (equals_ignore_case(name, "Content-Length")) content_length_ = parse_length(value);
    if (!carries_requests_ && equals_ignore_case(name, "Sec-WebSocket-Extensions")) {
      extensions_.append(extensions_.empty() ? "" : ",").append(value);
    }
    if (equals_ignore_case(name, "Transfer-Encoding")) chunked_ = true;
  }
  line_.clear();
  line_dropped_ = 0;
}
//< trace.head-line

// Content-Length's value, or the largest length if it has no valid digits
// (the trace then shows a body until the close: it only counts, never sizes).
uint64_t TraceStream::parse_length(std::string_view value) {
  value = value.substr(std::min(value.find_first_not_of(" \t"), value.size()));
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  constexpr size_t kMaxDigits = 18;  // below 2^63: no overflow to check
  if (value.empty() || value.size() > kMaxDigits) return kUnknownLength;
  uint64_t length = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return kUnknownLength;
    length = length * 10 + static_cast<uint64_t>(c - '0');
  }
  return length;
}

// The empty line: decides what the next bytes of this direction are.
void TraceStream::end_of_head() {
  const bool known_length = !chunked_ && content_length_ != kUnknownLength;
  const bool no_body = status_ / 100 == 1 || status_ == 204 || status_ == 304;
  if (upgrade_ && !extensions_.empty()) {
    std::vector<ExtensionOffer> agreed;
    deflate_agreed_ = parse_extensions({extensions_}, agreed) &&
                      read_deflate_response(agreed, agreed_) == Error::kNone;
  }
  if (upgrade_) {
    phase_ = Phase::kFrames;
  } else if (known_length && content_length_ > 0) {
    phase_ = Phase::kBody;
    body_left_ = content_length_;
  } else if (!known_length && !carries_requests_ && !no_body) {
    phase_ = Phase::kBody;  // RFC 7230 §3.3.3: no length, so the body ends at the close
    body_until_close_ = true;
  }
  // Ready for the next head (HTTP/1.1 keeps the connection for more requests).
  first_line_ = true;
  status_ = 0;
  content_length_ = kUnknownLength;
  chunked_ = false;
}

size_t TraceStream::feed_body(std::span<const uint8_t> bytes, const TraceOptions& o,
                              std::string& out) {
  if (body_until_close_) {
    body_seen_ += bytes.size();  // reported by finish()
    return bytes.size();
  }
  const size_t used = static_cast<size_t>(std::min<uint64_t>(body_left_, bytes.size()));
  body_left_ -= used;
  body_seen_ += used;
  if (body_left_ == 0) {
    Line(o, outgoing_, out).add("(body: " + std::to_string(body_seen_) + " bytes)", Tone::kDim);
    body_seen_ = 0;
    phase_ = Phase::kHead;
  }
  return used;
}

// ---- frames -------------------------------------------------------------------------------------

//> trace.decode
// The decode loop of frame.h, with two additions: the header's own bytes are
// kept (to name the length form and to show an invalid header), and only the
// first kTraceKeptPayload bytes of a payload are kept, whatever its size.
void TraceStream::feed_frames(std::span<uint8_t> copy, const TraceOptions& o, std::string& out) {
  while (true) {
    const DecodeResult r = decoder_.decode(copy);
    const size_t header_part = r.consumed - r.payload.size();
    for (size_t i = 0; i < header_part && header_size_ < header_raw_.size(); ++i) {
      header_raw_[header_size_++] = copy[i];
    }
    copy = copy.subspan(r.consumed);
    if (r.status == DecodeStatus::kError) {
      Line line(o, outgoing_, out);
      line.add("invalid frame: " + std::string(to_string(r.error)), Tone::kError);
      line.space(2).add("header bytes " + hex_bytes({header_raw_.data(), header_size_}, " ") +
                            "; fails the connection with " + std::to_string(close_code(r.error)),
                        Tone::kDim);
      phase_ = Phase::kFailed;
      ignored_ += copy.size();
      return;
    }
    if (r.status == DecodeStatus::kNeedMore) return;
    if (r.frame_start) start_frame();
    const size_t keep = std::min(r.payload.size(), kTraceKeptPayload - kept_.size());
    kept_.append(reinterpret_cast<const char*>(r.payload.data()), keep);
    payload_seen_ += r.payload.size();
    const bool message_ends = r.frame_end && decoder_.header().fin;
    const bool data = !is_control(decoder_.header().opcode);
    if (compressed_ && data) inflate_piece(r.payload, message_ends);
    if (r.frame_end) {
      print_frame(o, out, "", compressed_ && data ? deflate_note(message_ends) : "");
      if (message_ends && data) compressed_ = false;
      in_frame_ = false;
      header_size_ = 0;
    }
  }
}
//< trace.decode

void TraceStream::start_frame() {
  in_frame_ = true;
  kept_.clear();
  payload_seen_ = 0;
  const Opcode opcode = decoder_.header().opcode;
  if (opcode == Opcode::kText) message_is_text_ = true;
  if (opcode == Opcode::kBinary) message_is_text_ = false;
  if (opcode == Opcode::kText || opcode == Opcode::kBinary) {
    compressed_ = decoder_.header().rsv1;
    inflated_kept_.clear();
    inflated_size_ = compressed_size_ = 0;
    inflate_failed_ = false;
  }
}

//> trace.deflate
// A compressed message is inflated as the connection does it (§7.2.2: the
// tail appended at its end), with a window of the trace's own, so that the
// line can say what the bytes on the wire became.
void TraceStream::inflate_piece(std::span<const uint8_t> piece, bool message_ends) {
  if (!inflater_) inflater_ = std::make_unique<Inflater>(kMaxWindowBits);
  compressed_size_ += piece.size();
  std::array<uint8_t, kTraceCopyChunk> chunk;
  for (std::span<const uint8_t> in : {piece, std::span<const uint8_t>(kDeflateTail)}) {
    if (in.data() == kDeflateTail.data() && !message_ends) break;
    while (!inflate_failed_) {
      const InflateResult r = inflater_->inflate(in, chunk);
      in = in.subspan(r.consumed);
      inflate_failed_ = r.error != Error::kNone;
      inflated_size_ += r.produced;
      const size_t keep = std::min(r.produced, kTraceKeptPayload - inflated_kept_.size());
      inflated_kept_.append(reinterpret_cast<const char*>(chunk.data()), keep);
      if (r.produced < chunk.size() && (in.empty() || r.consumed == 0)) break;
    }
  }
  if (message_ends && !keeps_context_) inflater_->reset();
  if (message_ends && keeps_context_) inflater_->end_message();
}

std::string TraceStream::deflate_note(bool message_ends) const {
  if (inflate_failed_) return "(compressed: does not inflate, fails with 1007)";
  if (!message_ends) return "(compressed, " + std::to_string(compressed_size_) + " bytes so far)";
  std::string note = "deflate: " + std::to_string(compressed_size_) + " -> " +
                     std::to_string(inflated_size_) + " bytes ";
  const auto kept = as_bytes(inflated_kept_);
  if (message_is_text_) {
    note += '"';
    const size_t shown = append_escaped(note, kept, kTraceTextPreview);
    note += '"';
    if (shown < inflated_size_) note += more_bytes(inflated_size_ - shown);
  } else {
    note += "hex " + hex_bytes(kept.first(std::min(kept.size(), kTraceHexPreview)), " ");
  }
  return note;
}
//< trace.deflate

bool TraceStream::take_agreed_deflate(DeflateParams& params) {
  if (!deflate_agreed_) return false;
  deflate_agreed_ = false;
  params = agreed_;
  return true;
}

void TraceStream::enable_deflate(const DeflateParams& params) {
  deflate_ = true;
  decoder_.allow_rsv1(true);
  // Requests go from the client: its frames keep context unless
  // client_no_context_takeover was agreed; the server's the other way.
  keeps_context_ =
      carries_requests_ ? !params.client_no_context_takeover : !params.server_no_context_takeover;
}

//> trace.frame-line
// One line per frame, printed when its last payload byte has arrived, so a
// frame split across reads prints exactly as one that came whole.
void TraceStream::print_frame(const TraceOptions& o, std::string& out, std::string_view note,
                              std::string_view inflated) const {
  const FrameHeader& h = decoder_.header();
  Line line(o, outgoing_, out);
  line.add("frame", Tone::kDirection).space(2);
  line.add(h.fin ? "FIN=1" : "FIN=0", Tone::kDirection).space();
  line.add(std::string("RSV=") + (h.rsv1 ? '1' : '0') + (h.rsv2 ? '1' : '0') + (h.rsv3 ? '1' : '0'),
           Tone::kDirection);
  line.space().add(opcode_field(h.opcode), Tone::kDirection);
  line.space().add(std::string("(") + to_string(h.opcode) + ")", Tone::kDim);
  line.column(kMaskColumn).add(h.masked ? "MASK=1" : "MASK=0", Tone::kDirection);
  if (h.masked) line.space().add("key=" + hex_bytes(h.mask_key, ""), Tone::kDim);
  line.column(kLengthColumn).add("len=" + std::to_string(h.payload_length), Tone::kDirection);
  line.space().add("(" + length_form(header_raw_[1] & 0x7F, h.payload_length) + ")", Tone::kDim);
  // A compressed message (RFC 7692) shows what it inflated to instead.
  line.column(kPreviewColumn).add(inflated.empty() ? preview(h) : std::string(inflated));
  if (!note.empty()) line.space(2).add(note, Tone::kError);
}
//< trace.frame-line

//> trace.preview
// What the payload says: a close frame's code and reason (§5.5.1), text as
// quoted text, anything else as hex. At most kTraceTextPreview bytes of text
// or kTraceHexPreview bytes of hex, then how many more bytes there were.
std::string TraceStream::preview(const FrameHeader& h) const {
  const auto kept = as_bytes(kept_);
  if (h.opcode == Opcode::kClose) return close_preview(kept);
  if (h.payload_length == 0) return "(no payload)";
  const bool text = h.opcode == Opcode::kText ||
                    (h.opcode == Opcode::kContinuation && message_is_text_) ||
                    (is_control(h.opcode) && is_printable_ascii(kept));
  std::string out;
  size_t shown = 0;
  if (text) {
    out += '"';
    shown = append_escaped(out, kept, kTraceTextPreview);
    out += '"';
  } else {
    shown = std::min(kept.size(), kTraceHexPreview);
    out += "hex " + hex_bytes(kept.first(shown), " ");
  }
  if (shown < h.payload_length) out += more_bytes(h.payload_length - shown);
  return out;
}

std::string TraceStream::close_preview(std::span<const uint8_t> kept) const {
  if (kept.empty()) return "no code (1005: no status)";
  if (kept.size() == 1) return "invalid: a 1-byte close payload";
  const uint16_t code = static_cast<uint16_t>(kept[0] << 8 | kept[1]);
  std::string out = "code=" + std::to_string(code) + " (" + close_code_name(code) + ")";
  if (!is_valid_close_code(code)) out += " invalid on the wire";
  if (kept.size() == 2) return out;  // no reason
  out += " reason=\"";
  append_escaped(out, kept.subspan(2), kMaxCloseReason);
  return out + '"';
}
//< trace.preview

// ---- the end of the connection -------------------------------------------------------------------

void TraceStream::finish(const TraceOptions& o, std::string& out) {
  if (phase_ == Phase::kHead && (!line_.empty() || line_dropped_ > 0)) {
    Line line(o, outgoing_, out);
    std::string shown;
    append_escaped(shown, as_bytes(line_), line_.size(), /*quoted=*/false);
    line.add(shown).space(2).add("(cut short: no end of line)", Tone::kDim);
  }
  if (phase_ == Phase::kBody && body_until_close_) {
    Line(o, outgoing_, out)
        .add("(body: " + std::to_string(body_seen_) + " bytes, ended by the close)", Tone::kDim);
  } else if (phase_ == Phase::kBody) {
    Line(o, outgoing_, out)
        .add("(body cut short: " + std::to_string(body_seen_) + " of " +
                 std::to_string(body_seen_ + body_left_) + " bytes)",
             Tone::kDim);
  }
  if (phase_ == Phase::kFrames && in_frame_) {
    print_frame(o, out,
                "(cut short: " + std::to_string(payload_seen_) + " of " +
                    std::to_string(decoder_.header().payload_length) + " payload bytes came)");
  } else if (phase_ == Phase::kFrames && header_size_ > 0) {
    Line(o, outgoing_, out)
        .add("(cut short: " + std::to_string(header_size_) + " bytes of a frame header: " +
                 hex_bytes({header_raw_.data(), header_size_}, " ") + ")",
             Tone::kDim);
  }
  if (phase_ == Phase::kFailed && ignored_ > 0) {
    Line(o, outgoing_, out)
        .add("(" + std::to_string(ignored_) + " bytes after the invalid frame, not decoded)",
             Tone::kDim);
  }
  // Whatever comes after the close is not traced twice.
  phase_ = Phase::kFailed;
  line_.clear();
  line_dropped_ = 0;
  ignored_ = 0;
}

// ---- the tracer: both directions ----------------------------------------------------------------

//> trace.directions
// Received bytes are decoded in our own role; sent bytes in the peer's, since
// the decoder checks masking from the receiver's side (§5.1). A server
// receives requests and masked frames; a client sends them.
Tracer::Tracer(std::string& sink, TraceOptions options)
    : sink_(&sink),
      options_(std::move(options)),
      received_(false, options_.role == Role::kServer, options_.role),
      sent_(true, options_.role == Role::kClient,
            options_.role == Role::kServer ? Role::kClient : Role::kServer) {}
//< trace.directions

void Tracer::on_received(std::span<const uint8_t> bytes) {
  received_.feed(bytes, options_, *sink_);
  share_deflate();
}

void Tracer::on_sent(std::span<const uint8_t> bytes) {
  sent_.feed(bytes, options_, *sink_);
  share_deflate();
}

void Tracer::share_deflate() {
  DeflateParams params;
  TraceStream& responses = options_.role == Role::kServer ? sent_ : received_;
  if (!responses.take_agreed_deflate(params)) return;
  received_.enable_deflate(params);
  sent_.enable_deflate(params);
}

void Tracer::on_closed() {
  received_.finish(options_, *sink_);
  sent_.finish(options_, *sink_);
}

void Tracer::note(std::string_view text) {
  Line(options_, text, *sink_);
}

}  // namespace ws
