// permessage-deflate (RFC 7692): the negotiation of §7.1 and the compression
// of §7.2, with zlib's raw DEFLATE (RFC 1951). Owns the zlib streams, hidden
// behind opaque pointers (only deflate.cpp includes <zlib.h>). Does not own
// frames or messages: the connection (connection.h) decides which messages
// are compressed and feeds their payloads here. No I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "openpipe/core/error.h"
#include "openpipe/protocol/extensions.h"
#include "openpipe/protocol/frame.h"

struct z_stream_s;  // zlib's stream (zlib.h), kept out of every other file

namespace ws {

inline constexpr std::string_view kDeflateName = "permessage-deflate";
// RFC 7692 §7.2.1: a compressed message's payload is DEFLATE data with "the
// last 4 octets (that are 0x00 0x00 0xff 0xff)" of the sync flush removed.
inline constexpr std::array<uint8_t, 4> kDeflateTail = {0x00, 0x00, 0xff, 0xff};
inline constexpr uint8_t kMinWindowBits = 8;        // §7.1.2: "8 to 15, inclusive"
inline constexpr uint8_t kMaxWindowBits = 15;       // a 32 KiB window, DEFLATE's largest
inline constexpr size_t kInflateChunk = 16 * 1024;  // output produced per inflate step

//> deflate.config
// The server's policy (and, for a client, what it offers). The defaults keep
// an idle connection as small as one without the extension: no window is
// kept between messages on either side, so no zlib state belongs to a
// connection while no message is passing through it.
struct DeflateConfig {
  bool enabled = true;                   // server: accept offers; client: make one
  bool server_context_takeover = false;  // keep our window between messages (a
                                         //   compressor per connection: ~100-300 KiB)
  bool client_context_takeover = false;  // let the client keep its window (an
                                         //   inflater per connection: ~7 KiB + 2^bits)
  uint8_t server_max_window_bits = 15;   // our compressor's window, 2^bits bytes (8-15)
  uint8_t client_max_window_bits = 15;   // asked of a client that allows it (8-15)
  size_t min_size = 64;                  // shorter messages are sent uncompressed
  int level = 6;                         // zlib's compression level (1 fast .. 9 small)
  int mem_level = 8;                     // zlib's memLevel: hash table size (1-9)
};
//< deflate.config

//> deflate.params
// What both ends agreed on (RFC 7692 §7.1). "server" is the end that sent
// the 101, whichever role we are.
struct DeflateParams {
  bool server_no_context_takeover = false;  // §7.1.1.1: the server resets its window per message
  bool client_no_context_takeover = false;  // §7.1.1.2: the client resets its window per message
  uint8_t server_max_window_bits = 15;      // §7.1.2.1: the server's window, 2^bits
  uint8_t client_max_window_bits = 15;      // §7.1.2.2: the client's window, 2^bits
};
//< deflate.params

// ---- negotiation (RFC 7692 §5, §7.1) ----

// Server: checks one permessage-deflate offer against our policy. True and
// `params` filled if we can accept it; false if it is invalid (§7.1: an
// unknown or duplicated parameter, a bad value) or asks what we cannot do.
bool accept_deflate_offer(const ExtensionOffer& offer, const DeflateConfig& config,
                          DeflateParams& params);
// Server: the response element for accepted params: only what the offer
// allowed (§7.1.2.2: client_max_window_bits only if the client offered it).
ExtensionOffer deflate_response(const DeflateParams& params, bool client_allows_window_bits,
                                bool server_window_bits_asked);

// Server: the first acceptable permessage-deflate offer among `offers` (§5:
// offers are in the client's order of preference). Returns the value for
// the 101's Sec-WebSocket-Extensions header, or "" to decline them all.
std::string negotiate_deflate(const std::vector<ExtensionOffer>& offers,
                              const DeflateConfig& config, DeflateParams& params);

// Client: the offer we send: "permessage-deflate; client_max_window_bits".
std::string deflate_offer(const DeflateConfig& config);
// Client: checks the server's answer to that offer (§7.1: a response with
// a parameter we did not allow, a duplicate or a bad value fails the
// handshake). kNone and `params` filled, or kHandshakeBadResponse.
Error read_deflate_response(const std::vector<ExtensionOffer>& response, DeflateParams& params);

// ---- zlib, one direction each ----

//> deflate.compressor
// Raw DEFLATE, one whole message at a time (§7.2.1).
class Compressor {
 public:
  Compressor(uint8_t window_bits, int level, int mem_level);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  // Compresses `message`, ends it with a sync flush, and leaves the result,
  // without its 00 00 ff ff tail, in `out` (replacing what was there).
  bool compress(std::span<const uint8_t> message, std::vector<uint8_t>& out);
  // Forgets the window: the next message is compressed on its own.
  void reset();

 private:
  std::unique_ptr<z_stream_s> stream_;
};
//< deflate.compressor

struct InflateResult {
  size_t consumed = 0;  // input bytes used
  size_t produced = 0;  // output bytes written
  Error error = Error::kNone;
};

// Raw INFLATE, a piece at a time (§7.2.2).
class Inflater {
 public:
  explicit Inflater(uint8_t window_bits);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // Inflates from `in` into `out` until one of them is used up.
  InflateResult inflate(std::span<const uint8_t> in, std::span<uint8_t> out);
  void reset();  // forgets the window (and a finished stream)
  // A message is complete. Its window is kept for the next one, unless the
  // DEFLATE stream ended (a final block): zlib can then only start afresh.
  void end_message() {
    if (ended_) reset();
  }
  uint8_t window_bits() const { return window_bits_; }

 private:
  std::unique_ptr<z_stream_s> stream_;
  uint8_t window_bits_;
  bool ended_ = false;  // a final block (BFINAL) was read
};

//> deflate.shared
// The deflate memory of one event loop, shared by all its connections (as
// uWebSockets' shared compressor): a compressor is used only while one
// message is compressed, and an inflater is lent to a connection only while
// one compressed message arrives. The loop runs one connection at a time, so
// one of each is enough; a few spare inflaters serve connections whose
// messages arrive in pieces at the same time.
class DeflateShared {
 public:
  explicit DeflateShared(DeflateConfig config = {});
  ~DeflateShared();
  const DeflateConfig& config() const { return config_; }

  Compressor& compressor(uint8_t window_bits);  // created on first use, then reset per use
  std::vector<uint8_t>& output() { return output_; }
  // A message that arrived whole, inflated: valid while it is delivered.
  std::string& inflated() { return inflated_; }
  std::unique_ptr<Inflater> borrow_inflater(uint8_t window_bits);
  void give_back(std::unique_ptr<Inflater> inflater);

 private:
  static constexpr size_t kMaxSpareInflaters = 4;
  DeflateConfig config_;
  std::array<std::unique_ptr<Compressor>, kMaxWindowBits + 1> compressors_;  // by window bits
  std::vector<std::unique_ptr<Inflater>> spare_;                             // reset, ready to lend
  std::vector<uint8_t> output_;  // the last message compressed
  std::string inflated_;         // the last whole message inflated
};
//< deflate.shared

//> deflate.session
// One connection's side of the extension: which window each direction keeps,
// and the zlib state it holds right now (none, between messages, unless a
// context is taken over).
class PerMessageDeflate {
 public:
  PerMessageDeflate(const DeflateParams& params, Role role, DeflateShared& shared);
  ~PerMessageDeflate();

  // ---- sending (§7.2.1) ----
  // Messages below the threshold go out uncompressed (RSV1 is per message, §6).
  // An empty message always does: zlib writes nothing for a second sync flush
  // in a row, and an empty RSV1 payload plus the 00 00 ff ff tail (§7.2.2) is
  // a cut-off stored block that, with context takeover, breaks the peer's
  // inflater on the next message (found by fuzz_deflate).
  bool worth_compressing(size_t size) const {
    return size > 0 && size >= shared_->config().min_size;
  }
  // The compressed payload (tail removed); valid until the next compress()
  // of any connection of this loop. Empty on a zlib failure.
  std::span<const uint8_t> compress(std::span<const uint8_t> message);

  // ---- receiving (§7.2.2) ----
  // Inflates the next piece of a compressed message; the last call of a
  // message passes kDeflateTail as `in`.
  InflateResult inflate(std::span<const uint8_t> in, std::span<uint8_t> out);
  // The message is complete: the inflater goes back to the loop unless the
  // peer keeps its context (then its window is needed for the next one).
  void end_message();
  // The loop's buffer for a message that arrived in one piece (no copy of
  // it stays with the connection).
  std::string& shared_message() { return shared_->inflated(); }
  // Which zlib state this connection holds now (for tests and measurements).
  bool holds_inflater() const { return inflater_ != nullptr; }
  bool holds_compressor() const { return own_compressor_ != nullptr; }
  const DeflateParams& params() const { return params_; }

 private:
  DeflateParams params_;
  Role role_;
  DeflateShared* shared_;                       // the loop's; outlives every connection
  std::unique_ptr<Inflater> inflater_;          // while a message arrives, or kept
  std::unique_ptr<Compressor> own_compressor_;  // only with our context takeover
  uint8_t send_bits() const;
  uint8_t receive_bits() const;
  bool send_keeps_context() const;
  bool receive_keeps_context() const;
};
//< deflate.session

}  // namespace ws
