// Chapter 22 exercises: permessage-deflate (RFC 7692), sans-I/O. The
// negotiation of §7.1 byte for byte (with the RFC's own examples), the
// compressed frames of §7.2.3, the RSV1 rules of §6, decompression bombs,
// and which zlib state a connection holds when.
// Run: make test CH=22   or   ./build/tests/ch22_deflate_test --gtest_filter='Ch22_Negotiation.*'
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "openpipe/protocol/connection.h"
#include "openpipe/protocol/deflate.h"
#include "openpipe/protocol/extensions.h"
#include "openpipe/protocol/trace.h"
#include "support/hex.h"
#include "support/recorder.h"

namespace ws {
namespace {

using test::concat;
using test::drain;
using test::feed;
using test::hex;
using test::Recorder;
using test::to_hex;

// ---- helpers ------------------------------------------------------------------------------

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// What the server answers to these Sec-WebSocket-Extensions lines: the
// value of its header, or "(none)".
std::string answer_to(const std::vector<std::string>& header_lines, DeflateConfig config = {}) {
  std::vector<std::string_view> values(header_lines.begin(), header_lines.end());
  std::vector<ExtensionOffer> offers;
  if (!parse_extensions(values, offers)) return "(none)";
  DeflateParams params;
  std::string answer = negotiate_deflate(offers, config, params);
  return answer.empty() ? "(none)" : answer;
}

std::string answer_to(const std::string& header_value, DeflateConfig config = {}) {
  return answer_to(std::vector<std::string>{header_value}, config);
}

// The policy in which neither side is asked to drop its window, so that the
// answer names only what the offer itself asked for.
DeflateConfig keep_context() {
  DeflateConfig config;
  config.server_context_takeover = true;
  config.client_context_takeover = true;
  return config;
}

// A recorder that accepts with permessage-deflate, from a shared state.
class DeflateRecorder : public Recorder {
 public:
  explicit DeflateRecorder(DeflateShared& shared) : shared_(shared) {}
  void on_request(Connection& c, const HttpRequest& request) override {
    events.push_back("request:" + request.method + " " + request.target);
    c.accept({}, {}, &shared_);
  }

 private:
  DeflateShared& shared_;
};

std::string request_offering(std::string_view extensions) {
  return "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: " +
         std::string(extensions) + "\r\n\r\n";
}

// A server connection that accepted `offer`; the 101 goes to `response`.
Connection open_deflate(DeflateRecorder& recorder, std::string_view offer,
                        std::string* response = nullptr, const ConnectionLimits& limits = {}) {
  Connection c(limits);
  feed(c, recorder, request_offering(offer));
  std::string head = drain(c);
  if (response != nullptr) *response = head;
  recorder.events.clear();
  return c;
}

// Raw DEFLATE of `data` as a peer sends it (§7.2.1): sync flush, tail removed.
std::vector<uint8_t> deflate_message(std::string_view data, int window_bits = 15) {
  Compressor compressor(static_cast<uint8_t>(window_bits), 6, 8);
  std::vector<uint8_t> out;
  EXPECT_TRUE(compressor.compress(as_bytes(data), out));
  return out;
}

// A masked client frame with any first byte (FIN, RSV, opcode).
std::vector<uint8_t> client_frame_raw(uint8_t first_byte, std::span<const uint8_t> payload) {
  Buffer out;
  MaskKey key = {0x37, 0xfa, 0x21, 0x3d};
  append_frame(out, static_cast<Opcode>(first_byte & 0x0F), (first_byte & 0x80) != 0, payload, &key,
               (first_byte & 0x40) != 0);
  std::vector<uint8_t> bytes(out.readable().begin(), out.readable().end());
  bytes[0] = first_byte;  // RSV2/RSV3 too, if a test wants them
  return bytes;
}

// ---- the header's grammar (RFC 6455 §9.1) ------------------------------------------------

TEST(Ch22_Extensions, ParsesElementsAndParameters) {
  std::vector<ExtensionOffer> offers;
  ASSERT_TRUE(parse_extensions(
      {"permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo"}, offers));
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[0].name, "permessage-deflate");
  ASSERT_EQ(offers[0].params.size(), 2u);
  EXPECT_EQ(offers[0].params[0].name, "client_max_window_bits");
  EXPECT_FALSE(offers[0].params[0].has_value);
  EXPECT_EQ(offers[0].params[1].value, "10");
  EXPECT_EQ(offers[1].name, "x-foo");
}

TEST(Ch22_Extensions, UnquotesQuotedValues) {
  std::vector<ExtensionOffer> offers;
  ASSERT_TRUE(parse_extensions({"permessage-deflate; server_max_window_bits=\"10\""}, offers));
  EXPECT_EQ(offers[0].params[0].value, "10")
      << "RFC 6455 §9.1: a quoted-string value is compared after unescaping";
}

TEST(Ch22_Extensions, SeveralHeaderLinesAreOneList) {
  std::vector<ExtensionOffer> offers;
  ASSERT_TRUE(parse_extensions({"a", "b; c"}, offers));
  EXPECT_EQ(offers.size(), 2u) << "RFC 7230 §3.2.2: repeated headers join into one list";
}

TEST(Ch22_Extensions, RefusesBrokenSyntax) {
  std::vector<ExtensionOffer> offers;
  for (const char* bad : {"permessage-deflate; =1", "permessage-deflate;", "; x", "a b",
                          "permessage-deflate; x=\"1 2\"", "permessage-deflate; x=\"10"}) {
    offers.clear();
    EXPECT_FALSE(parse_extensions({bad}, offers)) << "not RFC 6455 §9.1 syntax: " << bad;
  }
}

TEST(Ch22_Extensions, BoundsTheNumberOfOffers) {
  std::string many;
  for (size_t i = 0; i <= kMaxExtensionOffers; ++i) many += "x,";
  std::vector<ExtensionOffer> offers;
  EXPECT_FALSE(parse_extensions({many}, offers)) << "every count from the network has a limit";
}

// ---- negotiation (RFC 7692 §5, §7.1) ----------------------------------------------------

TEST(Ch22_Negotiation, DefaultPolicyKeepsNoWindowOnEitherSide) {
  EXPECT_EQ(answer_to("permessage-deflate"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
      << "§7.1.1.1 and §7.1.1.2: a server MAY include both even if the offer did not";
}

TEST(Ch22_Negotiation, PlainOfferGetsPlainAnswerWhenContextIsKept) {
  EXPECT_EQ(answer_to("permessage-deflate", keep_context()), "permessage-deflate")
      << "RFC 7692 §5: the simplest offer, accepted as it is";
}

TEST(Ch22_Negotiation, ChromiumOffer) {
  // What Chromium sends on every connection.
  EXPECT_EQ(answer_to("permessage-deflate; client_max_window_bits"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

TEST(Ch22_Negotiation, ClientMaxWindowBitsOnlyIfTheClientAllowedIt) {
  DeflateConfig config = keep_context();
  config.client_max_window_bits = 10;
  EXPECT_EQ(answer_to("permessage-deflate; client_max_window_bits", config),
            "permessage-deflate; client_max_window_bits=10")
      << "§7.1.2.2: the client said it can limit its window, so we may ask for 10";
  EXPECT_EQ(answer_to("permessage-deflate", config), "permessage-deflate")
      << "§7.1.2.2: without the parameter in the offer the response MUST NOT include it";
}

TEST(Ch22_Negotiation, ClientMaxWindowBitsWithAValueIsAnUpperBound) {
  EXPECT_EQ(answer_to("permessage-deflate; client_max_window_bits=12", keep_context()),
            "permessage-deflate; client_max_window_bits=12")
      << "§7.1.2.2: equal to or smaller than the received value";
  DeflateConfig config = keep_context();
  config.client_max_window_bits = 9;
  EXPECT_EQ(answer_to("permessage-deflate; client_max_window_bits=12", config),
            "permessage-deflate; client_max_window_bits=9");
}

TEST(Ch22_Negotiation, ServerMaxWindowBitsIsHonoured) {
  EXPECT_EQ(answer_to("permessage-deflate; server_max_window_bits=10", keep_context()),
            "permessage-deflate; server_max_window_bits=10")
      << "§7.1.2.1: accepted by naming the same or a smaller value";
  DeflateConfig config = keep_context();
  config.server_max_window_bits = 9;
  EXPECT_EQ(answer_to("permessage-deflate; server_max_window_bits=12", config),
            "permessage-deflate; server_max_window_bits=9");
  EXPECT_EQ(answer_to("permessage-deflate", config), "permessage-deflate; server_max_window_bits=9")
      << "§7.1.2.1: a server MAY name its window even if the offer did not ask";
}

TEST(Ch22_Negotiation, QuotedValuesAreAccepted) {
  EXPECT_EQ(answer_to("permessage-deflate; server_max_window_bits=\"10\"", keep_context()),
            "permessage-deflate; server_max_window_bits=10");
}

TEST(Ch22_Negotiation, ServerNoContextTakeoverAskedIsAlwaysGranted) {
  EXPECT_EQ(answer_to("permessage-deflate; server_no_context_takeover", keep_context()),
            "permessage-deflate; server_no_context_takeover")
      << "§7.1.1.1: a server accepts the offer by including the parameter";
}

TEST(Ch22_Negotiation, InvalidOffersAreDeclined) {
  for (const char* bad : {
           "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
           "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
           "permessage-deflate; server_max_window_bits=7",
           "permessage-deflate; server_max_window_bits=16",
           "permessage-deflate; server_max_window_bits=010",
           "permessage-deflate; server_max_window_bits",
           "permessage-deflate; client_max_window_bits=0",
           "permessage-deflate; server_no_context_takeover=1",
           "permessage-deflate; client_no_context_takeover=true",
           "permessage-deflate; x-unknown",
       }) {
    EXPECT_EQ(answer_to(bad), "(none)")
        << "§7.1: a duplicate, an out-of-range value or an unknown name declines: " << bad;
  }
}

TEST(Ch22_Negotiation, FallsBackToTheNextAcceptableOffer) {
  EXPECT_EQ(answer_to("permessage-deflate; server_max_window_bits=16, "
                      "permessage-deflate; client_max_window_bits",
                      keep_context()),
            "permessage-deflate")
      << "RFC 7692 §5.1: the first offer is invalid, the second is taken";
  EXPECT_EQ(answer_to(std::vector<std::string>{"x-webkit-deflate-frame",
                                               "permessage-deflate; server_no_context_takeover"},
                      keep_context()),
            "permessage-deflate; server_no_context_takeover")
      << "an extension we do not know is declined by not naming it (RFC 6455 §9.1)";
}

TEST(Ch22_Negotiation, RfcExampleOfferTwoWindowsThenFallback) {
  // RFC 7692 §5.2's example: "permessage-deflate; client_max_window_bits;
  // server_max_window_bits=10, permessage-deflate; client_max_window_bits".
  const std::string offer =
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
      "permessage-deflate; client_max_window_bits";
  EXPECT_EQ(answer_to(offer, keep_context()), "permessage-deflate; server_max_window_bits=10")
      << "we can use a 1 KiB window, so the first (preferred) offer is accepted";
}

TEST(Ch22_Negotiation, BrokenHeaderDeclinesEverything) {
  EXPECT_EQ(answer_to("permessage-deflate; =,permessage-deflate"), "(none)");
}

TEST(Ch22_Negotiation, DisabledDeclinesEverything) {
  DeflateConfig config;
  config.enabled = false;
  EXPECT_EQ(answer_to("permessage-deflate", config), "(none)");
}

TEST(Ch22_Negotiation, TheConnectionPutsTheAnswerInThe101) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  std::string response;
  Connection c = open_deflate(recorder, "permessage-deflate; client_max_window_bits", &response);
  EXPECT_NE(response.find("\r\nSec-WebSocket-Extensions: permessage-deflate; "
                          "server_no_context_takeover; client_no_context_takeover\r\n"),
            std::string::npos)
      << response;
  ASSERT_NE(c.deflate(), nullptr);
  EXPECT_TRUE(c.deflate()->client_no_context_takeover);
}

TEST(Ch22_Negotiation, WithoutSharedStateNoExtensionIsAccepted) {
  Recorder recorder;  // accepts with plain accept(): no DeflateShared
  Connection c;
  feed(c, recorder, request_offering("permessage-deflate"));
  std::string response = drain(c);
  EXPECT_EQ(response.find("Sec-WebSocket-Extensions"), std::string::npos)
      << "RFC 6455 §9.1: an extension not named in the 101 is declined";
  EXPECT_EQ(c.deflate(), nullptr);
}

// ---- the client's side (§7.1) -------------------------------------------------------------

Error read_answer(std::string_view value, DeflateParams& params) {
  std::vector<ExtensionOffer> response;
  if (!parse_extensions({value}, response)) return Error::kHandshakeBadResponse;
  return read_deflate_response(response, params);
}

TEST(Ch22_ClientNegotiation, ReadsWhatTheServerAgreed) {
  DeflateParams params;
  ASSERT_EQ(read_answer("permessage-deflate; server_no_context_takeover; "
                        "client_max_window_bits=10; server_max_window_bits=12",
                        params),
            Error::kNone);
  EXPECT_TRUE(params.server_no_context_takeover);
  EXPECT_FALSE(params.client_no_context_takeover);
  EXPECT_EQ(params.client_max_window_bits, 10);
  EXPECT_EQ(params.server_max_window_bits, 12);
}

TEST(Ch22_ClientNegotiation, RefusesAnAnswerItDidNotAllow) {
  DeflateParams params;
  for (const char* bad :
       {"permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=20", "permessage-deflate; foo",
        "permessage-deflate, permessage-deflate", "x-other",
        "permessage-deflate; server_no_context_takeover; "
        "server_no_context_takeover"}) {
    EXPECT_EQ(read_answer(bad, params), Error::kHandshakeBadResponse)
        << "RFC 7692 §7.1: a client MUST fail the connection on an invalid response: " << bad;
  }
}

// ---- compressed frames: RFC 7692 §7.2.3 ----------------------------------------------------

TEST(Ch22_Frames, RfcExampleOneBlock) {
  DeflateShared shared(keep_context());
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  // §7.2.3.1: "Hello" compressed, unmasked as in the RFC, so sent here masked.
  feed(c, recorder, client_frame_raw(0xc1, hex("f2 48 cd c9 c9 07 00")));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:Hello"}));
}

TEST(Ch22_Frames, RfcExampleFragmented) {
  DeflateShared shared(keep_context());
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  // §7.2.3.1: the same data in two fragments; RSV1 on the first only.
  feed(c, recorder,
       concat(
           {client_frame_raw(0x41, hex("f2 48 cd")), client_frame_raw(0x80, hex("c9 c9 07 00"))}));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:Hello"}));
}

TEST(Ch22_Frames, RfcExampleSharedWindow) {
  DeflateShared shared(keep_context());
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  // §7.2.3.2: the second "Hello" refers to the first one's bytes.
  feed(c, recorder,
       concat({client_frame_raw(0xc1, hex("f2 48 cd c9 c9 07 00")),
               client_frame_raw(0xc1, hex("f2 00 11 00 00"))}));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:Hello", "text:Hello"}))
      << "§7.2.2: with context takeover the window carries over";
}

TEST(Ch22_Frames, SharedWindowFailsWhenTheClientPromisedNoContext) {
  DeflateShared shared;  // default: client_no_context_takeover is answered
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  feed(c, recorder,
       concat({client_frame_raw(0xc1, hex("f2 48 cd c9 c9 07 00")),
               client_frame_raw(0xc1, hex("f2 00 11 00 00"))}));
  ASSERT_EQ(recorder.events.size(), 3u);
  EXPECT_EQ(recorder.events[1], "error:deflate-bad-data")
      << "the window was dropped after the first message, as agreed";
  EXPECT_EQ(c.close_code(), 1007);
}

TEST(Ch22_Frames, RfcExampleStoredBlock) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  // §7.2.3.3: a DEFLATE block with no compression.
  feed(c, recorder, client_frame_raw(0xc1, hex("00 05 00 fa ff 48 65 6c 6c 6f 00")));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:Hello"}));
}

TEST(Ch22_Frames, RfcExampleFinalBlock) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  // §7.2.3.4: BFINAL set; the appended tail is then not needed.
  feed(c, recorder, client_frame_raw(0xc1, hex("f3 48 cd c9 c9 07 00 00")));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:Hello"}));
}

TEST(Ch22_Frames, RfcExampleTwoBlocks) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  // §7.2.3.5: two DEFLATE blocks in one message.
  feed(c, recorder, client_frame_raw(0xc1, hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:Hello"}));
}

TEST(Ch22_Frames, WeSendTheRfcBytes) {
  DeflateConfig config;
  config.min_size = 0;
  DeflateShared shared(config);
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  ASSERT_TRUE(c.send_text("Hello"));
  EXPECT_EQ(to_hex(as_bytes(drain(c))), "c1 07 f2 48 cd c9 c9 07 00")
      << "§7.2.3.1: FIN, RSV1, text; the sync flush's 00 00 ff ff removed (§7.2.1)";
}

TEST(Ch22_Frames, SmallMessagesGoUncompressed) {
  DeflateShared shared;  // min_size 64
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  ASSERT_TRUE(c.send_text("Hello"));
  EXPECT_EQ(to_hex(as_bytes(drain(c))), "81 05 48 65 6c 6c 6f")
      << "RFC 7692 §6: RSV1 is per message; a 5-byte message is not worth compressing";
  const std::string big(200, 'a');
  ASSERT_TRUE(c.send_text(big));
  const std::string wire = drain(c);
  EXPECT_EQ(static_cast<uint8_t>(wire[0]), 0xc1) << "a large one is compressed: RSV1 set";
  EXPECT_LT(wire.size(), 20u);
}

TEST(Ch22_Frames, FragmentedSendsAreNotCompressed) {
  DeflateConfig config;
  config.min_size = 0;
  DeflateShared shared(config);
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  ASSERT_TRUE(c.send_frame(Opcode::kText, as_bytes("Hel"), false));
  ASSERT_TRUE(c.send_frame(Opcode::kContinuation, as_bytes("lo"), true));
  EXPECT_EQ(to_hex(as_bytes(drain(c))), "01 03 48 65 6c 80 02 6c 6f");
}

// Found by fuzz_deflate: with context takeover, an empty message used to go
// out as an empty RSV1 payload. The peer appends 00 00 ff ff (§7.2.2), which
// is a stored block cut short, and its inflater then misread the next message.
TEST(Ch22_Frames, EmptyMessageGoesUncompressedAndTheWindowSurvives) {
  DeflateConfig config = keep_context();
  config.min_size = 0;
  DeflateShared shared(config);
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  ASSERT_TRUE(c.send_text("b"));
  ASSERT_TRUE(c.send_text("b"));
  ASSERT_TRUE(c.send_text(""));
  ASSERT_TRUE(c.send_text("b"));
  const std::string wire = drain(c);
  // The peer's side: one inflater for the whole connection (context takeover).
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, -15), Z_OK);
  std::vector<std::string> messages;
  for (size_t at = 0; at + 2 <= wire.size();) {
    const uint8_t b0 = static_cast<uint8_t>(wire[at]);
    const size_t length = static_cast<uint8_t>(wire[at + 1]) & 0x7F;
    std::string payload = wire.substr(at + 2, length);
    at += 2 + length;
    if ((b0 & 0x40) == 0) {
      messages.push_back(payload);
      continue;
    }
    payload.append("\x00\x00\xff\xff", 4);
    std::string out(64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(payload.data());
    z.avail_in = static_cast<uInt>(payload.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << "message " << messages.size() << ": " << z.msg;
    out.resize(out.size() - z.avail_out);
    messages.push_back(out);
  }
  inflateEnd(&z);
  EXPECT_EQ(messages, (std::vector<std::string>{"b", "b", "", "b"}))
      << "RFC 7692 §6: the empty message is sent without RSV1, the window goes on";
}

TEST(Ch22_Frames, UncompressedMessagesStillArrive) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  feed(c, recorder, test::client_frame(Opcode::kText, "plain"));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:plain"}))
      << "RFC 7692 §6: a message without RSV1 is not compressed";
}

TEST(Ch22_Frames, EveryWindowRoundTrips) {
  for (int bits = kMinWindowBits; bits <= kMaxWindowBits; ++bits) {
    const std::string text = std::string(3000, 'x') + "openpipe" + std::string(700, 'y');
    std::vector<uint8_t> compressed = deflate_message(text, bits);
    // Inflate with exactly the agreed window, with zlib itself: with 8 bits
    // this proves the Z_RLE trick keeps every distance within 256 bytes.
    z_stream z{};
    ASSERT_EQ(inflateInit2(&z, -std::max(bits, 8)), Z_OK);
    compressed.insert(compressed.end(), kDeflateTail.begin(), kDeflateTail.end());
    std::string out(text.size() + 16, '\0');
    z.next_in = compressed.data();
    z.avail_in = static_cast<uInt>(compressed.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out);
    inflateEnd(&z);
    EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END) << "window bits " << bits;
    EXPECT_EQ(out, text) << "RFC 7692 §7.1.2: window bits " << bits;
  }
}

// ---- RSV1 rules (RFC 7692 §6.1) --------------------------------------------------------------

TEST(Ch22_Rsv1, OnAControlFrameFails1002) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  feed(c, recorder, client_frame_raw(0xc9, as_bytes("hi")));  // ping with RSV1
  EXPECT_EQ(recorder.events.front(), "error:deflate-misplaced-rsv1");
  EXPECT_EQ(c.close_code(), 1002) << "RFC 7692 §6.1: never on a control frame";
}

TEST(Ch22_Rsv1, OnAContinuationFrameFails1002) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  feed(c, recorder,
       concat(
           {client_frame_raw(0x41, hex("f2 48 cd")), client_frame_raw(0xc0, hex("c9 c9 07 00"))}));
  EXPECT_EQ(recorder.events.front(), "error:deflate-misplaced-rsv1");
  EXPECT_EQ(c.close_code(), 1002) << "RFC 7692 §6.1: only the first frame of a message";
}

TEST(Ch22_Rsv1, WithoutTheExtensionFails1002) {
  Recorder recorder;
  Connection c = test::open_server(recorder);
  feed(c, recorder, client_frame_raw(0xc1, hex("f2 48 cd c9 c9 07 00")));
  EXPECT_EQ(recorder.events.front(), "error:frame-reserved-bits");
  EXPECT_EQ(c.close_code(), 1002) << "RFC 6455 §5.2: RSV1 means nothing if not negotiated";
}

TEST(Ch22_Rsv1, Rsv2AndRsv3StayReserved) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  feed(c, recorder, client_frame_raw(0xe1, hex("f2 48 cd c9 c9 07 00")));  // RSV1 + RSV2
  EXPECT_EQ(recorder.events.front(), "error:frame-reserved-bits");
  EXPECT_EQ(c.close_code(), 1002);
}

// ---- what the inflated message must be ------------------------------------------------------

TEST(Ch22_Inflate, InvalidUtf8AfterInflatingFails1007) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  std::string text = std::string(100, 'a') + "\xff" + std::string(100, 'b');
  feed(c, recorder, client_frame_raw(0xc1, deflate_message(text)));
  EXPECT_EQ(recorder.events.front(), "error:message-invalid-utf8");
  EXPECT_EQ(c.close_code(), 1007) << "RFC 6455 §8.1 applies to the inflated text";
}

TEST(Ch22_Inflate, InvalidUtf8FailsBeforeTheMessageEnds) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  std::vector<uint8_t> compressed = deflate_message("\xff" + std::string(1000, 'a'));
  // The first fragment alone carries the bad byte; no FIN has come yet.
  std::vector<uint8_t> first(compressed.begin(), compressed.begin() + compressed.size() / 2);
  feed(c, recorder, client_frame_raw(0x41, first));
  ASSERT_FALSE(recorder.events.empty()) << "fail-fast: the bad byte is seen as it inflates";
  EXPECT_EQ(recorder.events.front(), "error:message-invalid-utf8");
}

TEST(Ch22_Inflate, GarbageFails1007) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  feed(c, recorder, client_frame_raw(0xc2, hex("ff ff ff ff")));
  EXPECT_EQ(recorder.events.front(), "error:deflate-bad-data");
  EXPECT_EQ(c.close_code(), 1007);
}

TEST(Ch22_Inflate, SplitAtEveryByte) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  const std::string text = "{\"type\":\"chat\",\"text\":\"" + std::string(300, 'z') + "\"}";
  const std::vector<uint8_t> wire = client_frame_raw(0xc1, deflate_message(text));
  for (size_t split = 1; split < wire.size(); ++split) {
    Connection c = open_deflate(recorder, "permessage-deflate");
    feed(c, recorder, std::span<const uint8_t>(wire).first(split));
    feed(c, recorder, std::span<const uint8_t>(wire).subspan(split));
    ASSERT_EQ(recorder.events, (std::vector<std::string>{"text:" + text})) << "split at " << split;
    recorder.events.clear();
  }
}

// ---- decompression bombs ------------------------------------------------------------------

// Raw DEFLATE of `size` zero bytes (Z_RLE: fast, about 1000:1), tail removed.
std::vector<uint8_t> zeros_bomb(uint64_t size) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_RLE), Z_OK);
  std::vector<uint8_t> zeros(1 << 20, 0), out;
  std::vector<uint8_t> chunk(1 << 16);
  for (uint64_t done = 0; done < size; done += zeros.size()) {
    z.next_in = zeros.data();
    z.avail_in = static_cast<uInt>(std::min<uint64_t>(zeros.size(), size - done));
    do {
      z.next_out = chunk.data();
      z.avail_out = static_cast<uInt>(chunk.size());
      deflate(&z, done + zeros.size() >= size ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - z.avail_out));
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  // Drop the sync flush's 00 00 ff ff tail (RFC 7692 §7.2.1). erase, not
  // resize: g++ -O1 with ASan warns that resize(size - 4) might grow.
  out.erase(out.end() - static_cast<std::ptrdiff_t>(std::min<size_t>(4, out.size())), out.end());
  return out;
}

TEST(Ch22_Bomb, LimitCountsInflatedBytes) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  ConnectionLimits limits;
  limits.max_message_size = 64 * 1024;
  Connection c = open_deflate(recorder, "permessage-deflate", nullptr, limits);
  const std::vector<uint8_t> bomb = zeros_bomb(1 << 20);  // 1 MiB of zeros
  ASSERT_LT(bomb.size(), 2048u) << "the frame on the wire is about 1 KiB";
  feed(c, recorder, client_frame_raw(0xc2, bomb));
  EXPECT_EQ(recorder.events.front(), "error:message-too-large");
  EXPECT_EQ(c.close_code(), 1009)
      << "chapter 22: max_message_size applies to the inflated size, while inflating";
}

TEST(Ch22_Bomb, ExactlyTheLimitIsFine) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  ConnectionLimits limits;
  limits.max_message_size = 100000;
  Connection c = open_deflate(recorder, "permessage-deflate", nullptr, limits);
  feed(c, recorder, client_frame_raw(0xc2, zeros_bomb(100000)));
  ASSERT_EQ(recorder.events.size(), 1u);
  EXPECT_EQ(recorder.events[0].size(), std::string("binary:").size() + 100000 * 3 - 1);
}

// ---- memory: which zlib state a connection holds, and when ------------------------------------

TEST(Ch22_Memory, NoInflaterBetweenMessagesByDefault) {
  DeflateShared shared;
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  ASSERT_NE(c.deflate_session(), nullptr);
  EXPECT_FALSE(c.deflate_session()->holds_inflater()) << "nothing before the first message";
  std::vector<uint8_t> compressed = deflate_message(std::string(500, 'q'));
  std::vector<uint8_t> first(compressed.begin(), compressed.begin() + 3);
  std::vector<uint8_t> rest(compressed.begin() + 3, compressed.end());
  feed(c, recorder, client_frame_raw(0x42, first));
  EXPECT_TRUE(c.deflate_session()->holds_inflater()) << "lent while a message arrives";
  feed(c, recorder, client_frame_raw(0x80, rest));
  EXPECT_EQ(recorder.events.size(), 1u);
  EXPECT_FALSE(c.deflate_session()->holds_inflater())
      << "client_no_context_takeover: the inflater goes back to the loop after the message";
  ASSERT_TRUE(c.send_binary(std::vector<uint8_t>(500, 1)));
  EXPECT_FALSE(c.deflate_session()->holds_compressor())
      << "server_no_context_takeover: the loop's compressor was used";
}

TEST(Ch22_Memory, ContextTakeoverKeepsBoth) {
  DeflateShared shared(keep_context());
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate");
  feed(c, recorder, client_frame_raw(0xc2, deflate_message(std::string(500, 'q'))));
  EXPECT_TRUE(c.deflate_session()->holds_inflater()) << "the client's window is needed again";
  ASSERT_TRUE(c.send_binary(std::vector<uint8_t>(500, 1)));
  EXPECT_TRUE(c.deflate_session()->holds_compressor()) << "our window is kept for the next one";
}

// ---- the trace shows compressed frames ------------------------------------------------------

TEST(Ch22_Trace, ShowsRsv1AndBothSizes) {
  std::string text;
  Tracer tracer(text, TraceOptions{});
  tracer.on_received(as_bytes(request_offering("permessage-deflate")));
  tracer.on_sent(
      as_bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"));
  tracer.on_received(client_frame_raw(0xc1, hex("f2 48 cd c9 c9 07 00")));
  tracer.on_received(client_frame_raw(0xc1, hex("f2 00 11 00 00")));
  EXPECT_NE(text.find("<- frame  FIN=1 RSV=100 opcode=0x1 (text)"), std::string::npos) << text;
  EXPECT_NE(text.find("deflate: 7 -> 5 bytes \"Hello\""), std::string::npos)
      << "the compressed size, the inflated size and the text\n"
      << text;
  EXPECT_NE(text.find("deflate: 5 -> 5 bytes \"Hello\""), std::string::npos)
      << "context takeover: the trace keeps the client's window too\n"
      << text;
}

// ---- layering --------------------------------------------------------------------------------

TEST(Ch22_Layers, OnlyDeflateCppIncludesZlib) {
  const std::filesystem::path root = OPENPIPE_SOURCE_DIR;
  std::string bad;
  for (const char* dir : {"src", "include", "examples"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path());
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("#include <zlib.h>", 0) == 0 &&
            entry.path().lexically_relative(root) != "src/protocol/deflate.cpp") {
          bad += entry.path().lexically_relative(root).string() + "\n";
        }
      }
    }
  }
  EXPECT_EQ(bad, "") << "zlib stays behind deflate.h's opaque pointers (STYLE.md: layers)";
}

// ---- exercises ---------------------------------------------------------------------------------

// Exercise 1: the threshold below which a message goes uncompressed.
TEST(Ch22_Exercises, ThresholdIsConfigurable) {
  for (size_t min_size : {size_t{0}, size_t{1000}}) {
    DeflateConfig config;
    config.min_size = min_size;
    DeflateShared shared(config);
    DeflateRecorder recorder(shared);
    Connection c = open_deflate(recorder, "permessage-deflate");
    ASSERT_TRUE(c.send_text(std::string(500, 'x')));
    const bool rsv1 = (static_cast<uint8_t>(drain(c)[0]) & 0x40) != 0;
    EXPECT_EQ(rsv1, min_size == 0) << "a 500-byte message with min_size " << min_size;
  }
}

// Exercise 2 starts here: today an offer of client_max_window_bits=8 is
// accepted and the server inflates with 9 bits, which zlib clients use.
TEST(Ch22_Exercises, ClientWindowOfEightBitsIsAccepted) {
  EXPECT_EQ(answer_to("permessage-deflate; client_max_window_bits=8", keep_context()),
            "permessage-deflate; client_max_window_bits=8");
  DeflateShared shared(keep_context());
  DeflateRecorder recorder(shared);
  Connection c = open_deflate(recorder, "permessage-deflate; client_max_window_bits=8");
  // What a zlib client sends when told "8": a 512-byte window, distance 300.
  const std::string text =
      std::string(300, 'a') + "0123456789" + std::string(290, 'b') + "0123456789";
  feed(c, recorder, client_frame_raw(0xc1, deflate_message(text, 9)));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"text:" + text}));
}

// ---- a client and a server Connection, talking ---------------------------------------------

TEST(Ch22_Client, OffersAndUsesTheExtension) {
  DeflateConfig client_config;
  client_config.min_size = 0;
  DeflateShared client_shared(client_config), server_shared;
  uint8_t counter = 0;
  ClientOptions options{"server.example.com",
                        "/chat",
                        {},
                        "",
                        [&](std::span<uint8_t> out) {
                          for (uint8_t& b : out) b = ++counter;
                        },
                        &client_shared};
  Connection client(options);
  Recorder client_events;
  DeflateRecorder server_events(server_shared);
  Connection server;
  const std::string request = drain(client);
  EXPECT_NE(request.find("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"),
            std::string::npos)
      << request;
  feed(server, server_events, request);
  feed(client, client_events, drain(server));
  ASSERT_EQ(client.state(), State::kOpen);
  ASSERT_NE(client.deflate(), nullptr) << "the client read the server's answer";
  const std::string text = "{\"user\":\"bob\",\"text\":\"" + std::string(80, 'h') + "\"}";
  ASSERT_TRUE(client.send_text(text));
  const std::string wire = drain(client);
  EXPECT_EQ(static_cast<uint8_t>(wire[0]) & 0x40, 0x40) << "compressed, masked (§5.3)";
  feed(server, server_events, wire);
  EXPECT_EQ(server_events.events.back(), "text:" + text);
}

}  // namespace
}  // namespace ws
