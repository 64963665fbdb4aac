// permessage-deflate (RFC 7692): negotiation (§7.1) and zlib's raw DEFLATE
// (§7.2). See deflate.h; the tutorial is chapter 22 (tutorial/22-extensions.md).
#include "openpipe/protocol/deflate.h"

#include <zlib.h>

#include <algorithm>
#include <string_view>

#include "openpipe/protocol/http_parser.h"

namespace ws {
namespace {

// §7.1.2: window bits are "a decimal integer value without leading zeroes
// between 8 to 15, inclusive". 0 if `text` is not one.
uint8_t parse_window_bits(std::string_view text) {
  static constexpr std::string_view kValid[] = {"8", "9", "10", "11", "12", "13", "14", "15"};
  for (size_t i = 0; i < std::size(kValid); ++i) {
    if (text == kValid[i]) return static_cast<uint8_t>(kMinWindowBits + i);
  }
  return 0;
}

// The parameters of one element, each at most once (§7.1: "an extension
// negotiation offer [with] multiple extension parameters with the same
// name" is declined; so is an unknown name or an invalid value).
struct ParsedParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  uint8_t server_max_window_bits = 0;   // 0: absent
  bool client_max_window_bits = false;  // present, with or without a value
  uint8_t client_bits_value = 0;        // its value, 0 if none
};

//> deflate.parse-params
bool parse_params(const ExtensionOffer& element, ParsedParams& out) {
  bool seen[4] = {false, false, false, false};
  for (const ExtensionParam& p : element.params) {
    int which = -1;
    if (p.name == "server_no_context_takeover") which = 0;
    if (p.name == "client_no_context_takeover") which = 1;
    if (p.name == "server_max_window_bits") which = 2;
    if (p.name == "client_max_window_bits") which = 3;
    if (which < 0 || seen[which]) return false;  // unknown, or a duplicate
    seen[which] = true;
    switch (which) {
      case 0:  // §7.1.1.1: "This extension parameter has no value."
        if (p.has_value) return false;
        out.server_no_context_takeover = true;
        break;
      case 1:  // §7.1.1.2: no value either
        if (p.has_value) return false;
        out.client_no_context_takeover = true;
        break;
      case 2:  // §7.1.2.1: a value is required
        out.server_max_window_bits = p.has_value ? parse_window_bits(p.value) : 0;
        if (out.server_max_window_bits == 0) return false;
        break;
      default:  // §7.1.2.2: "may have a value" (then 8-15)
        out.client_max_window_bits = true;
        if (p.has_value && (out.client_bits_value = parse_window_bits(p.value)) == 0) return false;
        break;
    }
  }
  return true;
}
//< deflate.parse-params

// zlib's deflate cannot use a 256-byte window (deflateInit2 refuses
// windowBits 8 for raw DEFLATE). With a 512-byte window and the Z_RLE
// strategy every match has distance 1, which any window holds: the output
// is valid for a peer that allowed only 8 bits.
int zlib_deflate_bits(uint8_t bits) {
  return bits == kMinWindowBits ? kMinWindowBits + 1 : bits;
}

}  // namespace

// ---- negotiation ----------------------------------------------------------------------

//> deflate.accept-offer
bool accept_deflate_offer(const ExtensionOffer& offer, const DeflateConfig& config,
                          DeflateParams& params) {
  ParsedParams asked;
  if (offer.name != kDeflateName || !parse_params(offer, asked)) return false;
  // §7.1.1.1: we may reset our window even if not asked to; asked, we must.
  params.server_no_context_takeover =
      asked.server_no_context_takeover || !config.server_context_takeover;
  // §7.1.1.2: we may ask the client to reset its window in any case.
  params.client_no_context_takeover =
      asked.client_no_context_takeover || !config.client_context_takeover;
  // §7.1.2.1: accepting server_max_window_bits=N means a window of N bits or
  // fewer; without it, any window we like.
  params.server_max_window_bits = config.server_max_window_bits;
  if (asked.server_max_window_bits != 0) {
    params.server_max_window_bits =
        std::min(asked.server_max_window_bits, config.server_max_window_bits);
  }
  // §7.1.2.2: we may limit the client's window only if it said it can; a
  // value in the offer is the most it will use anyway.
  params.client_max_window_bits = kMaxWindowBits;
  if (asked.client_max_window_bits) {
    params.client_max_window_bits = config.client_max_window_bits;
    if (asked.client_bits_value != 0) {
      params.client_max_window_bits =
          std::min(asked.client_bits_value, config.client_max_window_bits);
    }
  }
  return true;
}
//< deflate.accept-offer

//> deflate.response
ExtensionOffer deflate_response(const DeflateParams& params, bool client_allows_window_bits,
                                bool server_window_bits_asked) {
  ExtensionOffer response{std::string(kDeflateName), {}};
  if (params.server_no_context_takeover)
    response.params.push_back({"server_no_context_takeover", "", false});
  if (params.client_no_context_takeover)
    response.params.push_back({"client_no_context_takeover", "", false});
  if (server_window_bits_asked || params.server_max_window_bits < kMaxWindowBits) {
    response.params.push_back(
        {"server_max_window_bits", std::to_string(params.server_max_window_bits), true});
  }
  // §7.1.2.2: "If a received extension negotiation offer doesn't have the
  // client_max_window_bits extension parameter, the corresponding extension
  // negotiation response to the offer MUST NOT include" it.
  if (client_allows_window_bits && params.client_max_window_bits < kMaxWindowBits) {
    response.params.push_back(
        {"client_max_window_bits", std::to_string(params.client_max_window_bits), true});
  }
  return response;
}
//< deflate.response

//> deflate.negotiate
std::string negotiate_deflate(const std::vector<ExtensionOffer>& offers,
                              const DeflateConfig& config, DeflateParams& params) {
  if (!config.enabled) return "";
  // §5.1: the client lists its offers in order of preference; an offer we
  // cannot accept is skipped, and the next one is tried.
  for (const ExtensionOffer& offer : offers) {
    if (!accept_deflate_offer(offer, config, params)) continue;
    bool client_allows_window_bits = false, server_window_bits_asked = false;
    for (const ExtensionParam& p : offer.params) {
      client_allows_window_bits = client_allows_window_bits || p.name == "client_max_window_bits";
      server_window_bits_asked = server_window_bits_asked || p.name == "server_max_window_bits";
    }
    return format_extension(
        deflate_response(params, client_allows_window_bits, server_window_bits_asked));
  }
  return "";
}
//< deflate.negotiate

std::string deflate_offer(const DeflateConfig& config) {
  std::string offer(kDeflateName);
  // We can compress with any window the server asks for (§7.1.2.2).
  offer += "; client_max_window_bits";
  if (!config.client_context_takeover) offer += "; client_no_context_takeover";
  if (!config.server_context_takeover) offer += "; server_no_context_takeover";
  return offer;
}

//> deflate.read-response
Error read_deflate_response(const std::vector<ExtensionOffer>& response, DeflateParams& params) {
  // We offered one extension, once: the answer names it once or not at all.
  if (response.size() != 1 || response[0].name != kDeflateName) {
    return Error::kHandshakeBadResponse;
  }
  ParsedParams said;
  if (!parse_params(response[0], said)) return Error::kHandshakeBadResponse;
  // We offered client_max_window_bits without a value, so a value is required here.
  if (said.client_max_window_bits && said.client_bits_value == 0) {
    return Error::kHandshakeBadResponse;
  }
  params.server_no_context_takeover = said.server_no_context_takeover;
  params.client_no_context_takeover = said.client_no_context_takeover;
  params.server_max_window_bits =
      said.server_max_window_bits != 0 ? said.server_max_window_bits : kMaxWindowBits;
  params.client_max_window_bits =
      said.client_bits_value != 0 ? said.client_bits_value : kMaxWindowBits;
  return Error::kNone;
}
//< deflate.read-response

// ---- zlib -------------------------------------------------------------------------------

Compressor::Compressor(uint8_t window_bits, int level, int mem_level)
    : stream_(std::make_unique<z_stream_s>()) {
  const int strategy = window_bits == kMinWindowBits ? Z_RLE : Z_DEFAULT_STRATEGY;
  // Negative window bits: raw DEFLATE, no zlib header or checksum (§7.2.1).
  if (deflateInit2(stream_.get(), level, Z_DEFLATED, -zlib_deflate_bits(window_bits), mem_level,
                   strategy) != Z_OK) {
    stream_.reset();
  }
}

Compressor::~Compressor() {
  if (stream_) deflateEnd(stream_.get());
}

void Compressor::reset() {
  if (stream_) deflateReset(stream_.get());
}

//> deflate.compress
bool Compressor::compress(std::span<const uint8_t> message, std::vector<uint8_t>& out) {
  if (!stream_) return false;
  z_stream& z = *stream_;
  out.resize(deflateBound(&z, message.size()) + 16);
  z.next_in = const_cast<Bytef*>(message.data());  // zlib's API is not const-correct
  z.avail_in = static_cast<uInt>(message.size());
  size_t used = 0;
  do {  // a sync flush may need more room than deflateBound says: grow and go on
    if (out.size() - used < 64) out.resize(out.size() * 2);
    z.next_out = out.data() + used;
    z.avail_out = static_cast<uInt>(out.size() - used);
    // §7.2.1: "Compress all the octets of the payload of the message using
    // DEFLATE ... [and] Z_SYNC_FLUSH": the output then ends on a byte
    // boundary with an empty stored block, 00 00 ff ff.
    if (deflate(&z, Z_SYNC_FLUSH) == Z_STREAM_ERROR) return false;
    used = out.size() - z.avail_out;
  } while (z.avail_out == 0);
  // "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end": the
  // receiver knows they are there, so they need not cross the network.
  if (used < kDeflateTail.size()) return false;
  out.resize(used - kDeflateTail.size());
  return true;
}
//< deflate.compress

Inflater::Inflater(uint8_t window_bits)
    : stream_(std::make_unique<z_stream_s>()), window_bits_(window_bits) {
  // A window at least as large as the sender's reads its data; zlib peers
  // asked for 8 bits use 9 (see zlib_deflate_bits), so 9 is our least.
  if (inflateInit2(stream_.get(), -zlib_deflate_bits(window_bits)) != Z_OK) stream_.reset();
}

Inflater::~Inflater() {
  if (stream_) inflateEnd(stream_.get());
}

void Inflater::reset() {
  if (stream_) inflateReset(stream_.get());
  ended_ = false;
}

//> deflate.inflate
InflateResult Inflater::inflate(std::span<const uint8_t> in, std::span<uint8_t> out) {
  InflateResult result;
  if (!stream_) {
    result.error = Error::kDeflateBadData;
    return result;
  }
  if (ended_) {
    // After a final block (BFINAL, §7.2.3.4 allows one) the DEFLATE stream
    // is over; what follows in this message (the tail we appended) is not
    // DEFLATE data and is skipped.
    result.consumed = in.size();
    return result;
  }
  z_stream& z = *stream_;
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = ::inflate(&z, Z_SYNC_FLUSH);
  result.consumed = in.size() - z.avail_in;
  result.produced = out.size() - z.avail_out;
  if (rc == Z_STREAM_END) {
    ended_ = true;
    result.consumed = in.size();
  } else if (rc != Z_OK && rc != Z_BUF_ERROR) {  // Z_BUF_ERROR: no progress possible, not an error
    result.error = Error::kDeflateBadData;  // Z_DATA_ERROR: not DEFLATE (or a distance too far)
  }
  return result;
}
//< deflate.inflate

// ---- the loop's shared state ------------------------------------------------------------

DeflateShared::DeflateShared(DeflateConfig config) : config_(std::move(config)) {}
DeflateShared::~DeflateShared() = default;

Compressor& DeflateShared::compressor(uint8_t window_bits) {
  std::unique_ptr<Compressor>& slot = compressors_[window_bits];
  if (!slot) slot = std::make_unique<Compressor>(window_bits, config_.level, config_.mem_level);
  return *slot;
}

std::unique_ptr<Inflater> DeflateShared::borrow_inflater(uint8_t window_bits) {
  for (auto it = spare_.begin(); it != spare_.end(); ++it) {
    if ((*it)->window_bits() != window_bits) continue;
    std::unique_ptr<Inflater> lent = std::move(*it);
    spare_.erase(it);
    return lent;
  }
  return std::make_unique<Inflater>(window_bits);
}

void DeflateShared::give_back(std::unique_ptr<Inflater> inflater) {
  if (spare_.size() >= kMaxSpareInflaters) return;  // freed here
  inflater->reset();
  spare_.push_back(std::move(inflater));
}

// ---- one connection ---------------------------------------------------------------------

PerMessageDeflate::PerMessageDeflate(const DeflateParams& params, Role role, DeflateShared& shared)
    : params_(params), role_(role), shared_(&shared) {}

PerMessageDeflate::~PerMessageDeflate() {
  if (inflater_) shared_->give_back(std::move(inflater_));
}

// The server compresses with the server's window and the client's data is
// inflated with the client's; a client the other way round.
uint8_t PerMessageDeflate::send_bits() const {
  return role_ == Role::kServer ? params_.server_max_window_bits : params_.client_max_window_bits;
}
uint8_t PerMessageDeflate::receive_bits() const {
  return role_ == Role::kServer ? params_.client_max_window_bits : params_.server_max_window_bits;
}
bool PerMessageDeflate::send_keeps_context() const {
  return role_ == Role::kServer ? !params_.server_no_context_takeover
                                : !params_.client_no_context_takeover;
}
bool PerMessageDeflate::receive_keeps_context() const {
  return role_ == Role::kServer ? !params_.client_no_context_takeover
                                : !params_.server_no_context_takeover;
}

//> deflate.session-compress
std::span<const uint8_t> PerMessageDeflate::compress(std::span<const uint8_t> message) {
  std::vector<uint8_t>& out = shared_->output();
  if (send_keeps_context()) {
    // §7.2.1: with context takeover the window carries over to the next
    // message, so this connection needs a compressor of its own.
    const DeflateConfig& c = shared_->config();
    if (!own_compressor_) {
      own_compressor_ = std::make_unique<Compressor>(send_bits(), c.level, c.mem_level);
    }
    if (!own_compressor_->compress(message, out)) return {};
    return out;
  }
  // No context takeover: every message starts from an empty window, so the
  // loop's compressor serves every connection, one message at a time.
  Compressor& shared = shared_->compressor(send_bits());
  const bool ok = shared.compress(message, out);
  shared.reset();
  if (!ok) return {};
  return out;
}
//< deflate.session-compress

//> deflate.session-inflate
InflateResult PerMessageDeflate::inflate(std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (!inflater_) inflater_ = shared_->borrow_inflater(receive_bits());
  return inflater_->inflate(in, out);
}

void PerMessageDeflate::end_message() {
  if (!inflater_) return;
  // §7.2.2: with context takeover the next message may refer to this one's
  // bytes, so the window stays; without it, the inflater goes back.
  if (receive_keeps_context()) return inflater_->end_message();
  shared_->give_back(std::move(inflater_));
}
//< deflate.session-inflate

}  // namespace ws
