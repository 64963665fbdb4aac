// Chapter 22 — conformance: the Autobahn|Testsuite's compression sections,
// replayed with our own client against the echo route of a real server.
//   12.x.y  the default permessage-deflate offer, five kinds of data, 18 sizes
//   13.x.y  seven offers (context takeover, window bits 8 and 15, several
//           offers in one header), JSON data, the same 18 sizes
// The client here is independent of src/protocol: its frames are written by
// tests/support/raw_ws.h and its DEFLATE is zlib called directly, so one bug
// cannot be on both sides of the wire. STRICT: the 101 must name only what
// the offer allowed, the server must compress within the window it agreed to
// (the client inflates with exactly that window), RSV1 only on first frames,
// every echo byte-identical and in order, then a clean close.
//
// Autobahn sends 1000 messages per case; here a case sends at most 1000 and
// at most 256 KiB each way (OPENPIPE_AUTOBAHN_FULL=1 restores 1000), and the
// data are generated (Autobahn ships a book, a bitmap, a PDF, JSON and HTML
// files: ours are made to compress like them).
// Run: make test CH=22   or   ./build/tests/ch22_conformance_deflate_test --gtest_filter='*Case13_7*'
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "support/echo_environment.h"
#include "support/raw_ws.h"

namespace ws {
namespace {

using namespace std::chrono_literals;
using test::RawClient;

// ---- the client's permessage-deflate, straight from zlib --------------------------------

// What the server's 101 agreed to, read by the test itself.
struct Agreed {
  bool accepted = false;
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_bits = 15;
  int client_bits = 15;
};

// One offer as Autobahn's PerMessageDeflateOffer writes it.
struct Offer {
  bool request_no_context_takeover = false;  // "server_no_context_takeover"
  int request_max_window_bits = 0;           // "server_max_window_bits=N" (0: none)
  std::string text() const {
    std::string out = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    if (request_no_context_takeover) out += "; server_no_context_takeover";
    if (request_max_window_bits != 0) {
      out += "; server_max_window_bits=" + std::to_string(request_max_window_bits);
    }
    return out;
  }
};

std::string trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

// Reads the 101's Sec-WebSocket-Extensions and checks it against the offers,
// as RFC 7692 §7.1 asks a client to: anything not allowed is a failure.
std::string read_agreement(const std::string& head, const std::vector<Offer>& offers,
                           Agreed& agreed) {
  std::string value;
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    const size_t colon = head.find(':', at);
    const size_t end = head.find("\r\n", at);
    if (colon == std::string::npos || end == std::string::npos || colon > end) continue;
    std::string name = head.substr(at, colon - at);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name == "sec-websocket-extensions") value += trim(head.substr(colon + 1, end - colon - 1));
  }
  if (value.empty()) return "";
  if (value.find(',') != std::string::npos) return "RFC 7692 §5: more than one element accepted";
  std::vector<std::string> parts;
  for (size_t from = 0;;) {
    const size_t semi = value.find(';', from);
    parts.push_back(trim(value.substr(from, semi - from)));
    if (semi == std::string::npos) break;
    from = semi + 1;
  }
  if (parts[0] != "permessage-deflate") return "accepted an extension not offered: " + parts[0];
  agreed.accepted = true;
  std::vector<std::string> seen;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string name = parts[i].substr(0, parts[i].find('='));
    const bool has_value = parts[i].find('=') != std::string::npos;
    const std::string v = has_value ? parts[i].substr(parts[i].find('=') + 1) : "";
    for (const std::string& s : seen) {
      if (s == name) return "RFC 7692 §7.1: parameter " + name + " twice";
    }
    seen.push_back(name);
    const int bits = has_value ? std::atoi(v.c_str()) : 0;
    const bool bits_ok = has_value && bits >= 8 && bits <= 15 && std::to_string(bits) == v;
    if (name == "server_no_context_takeover" && !has_value) {
      agreed.server_no_context_takeover = true;
    } else if (name == "client_no_context_takeover" && !has_value) {
      agreed.client_no_context_takeover = true;
    } else if (name == "server_max_window_bits" && bits_ok) {
      agreed.server_bits = bits;
    } else if (name == "client_max_window_bits" && bits_ok) {
      agreed.client_bits = bits;  // our offers all allow it (§7.1.2.2)
    } else {
      return "RFC 7692 §7.1: invalid parameter in the response: " + parts[i];
    }
  }
  // The response answers one of the offers: the first one it fits.
  for (const Offer& offer : offers) {
    if (offer.request_no_context_takeover && !agreed.server_no_context_takeover) continue;
    if (offer.request_max_window_bits != 0 && agreed.server_bits > offer.request_max_window_bits) {
      continue;
    }
    return "";
  }
  return "RFC 7692 §7.1.1.1/§7.1.2.1: the response does not fit any offer: " + value;
}

class ClientDeflate {
 public:
  explicit ClientDeflate(const Agreed& agreed) : agreed_(agreed) {
    // zlib cannot deflate with 8 bits; with 9 the window would be too big.
    EXPECT_NE(agreed.client_bits, 8) << "our offers never ask for that";
    EXPECT_EQ(deflateInit2(&out_, 6, Z_DEFLATED, -agreed.client_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    // Exactly the agreed window: a server that compressed with a larger one
    // (distances too far back) fails to inflate here.
    EXPECT_EQ(inflateInit2(&in_, -agreed.server_bits), Z_OK);
  }
  ~ClientDeflate() {
    deflateEnd(&out_);
    inflateEnd(&in_);
  }

  std::string compress(std::string_view data) {
    std::string out(deflateBound(&out_, data.size()) + 64, '\0');
    out_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    out_.avail_in = static_cast<uInt>(data.size());
    out_.next_out = reinterpret_cast<Bytef*>(out.data());
    out_.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&out_, Z_SYNC_FLUSH), Z_OK);
    out.resize(out.size() - out_.avail_out - 4);  // §7.2.1: the tail removed
    if (agreed_.client_no_context_takeover) deflateReset(&out_);
    return out;
  }

  // False if the data does not inflate (with the agreed window).
  bool inflate_message(std::string compressed, std::string& out) {
    compressed += std::string("\x00\x00\xff\xff", 4);  // §7.2.2
    in_.next_in = reinterpret_cast<Bytef*>(compressed.data());
    in_.avail_in = static_cast<uInt>(compressed.size());
    out.clear();
    char chunk[16384];
    while (true) {
      in_.next_out = reinterpret_cast<Bytef*>(chunk);
      in_.avail_out = sizeof chunk;
      const int rc = ::inflate(&in_, Z_SYNC_FLUSH);
      out.append(chunk, sizeof chunk - in_.avail_out);
      if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) return false;
      if (in_.avail_out != 0 || rc == Z_STREAM_END) break;
    }
    if (agreed_.server_no_context_takeover) inflateReset(&in_);
    return true;
  }

 private:
  Agreed agreed_;
  z_stream out_{};
  z_stream in_{};
};

// ---- the data (Autobahn's testdata, made up) -------------------------------------------------

uint32_t next_random(uint32_t& state) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

// Words from a small German-ish vocabulary: text that compresses like a book.
std::string book_text(size_t size) {
  static const char* kWords[] = {"Faust",    "und",  "der",      "die",   "Mephistopheles",
                                 "Himmel",   "Erde", "Geist",    "ich",   "nicht",
                                 "Gretchen", "Welt", "Wissen",   "Nacht", "Studierzimmer",
                                 "Teufel",   "Herz", "Ewigkeit", "mein",  "Wagner"};
  uint32_t state = 0x2229;
  std::string out;
  while (out.size() < size) {
    out += kWords[next_random(state) % std::size(kWords)];
    out += (next_random(state) % 9 == 0) ? ".\n" : " ";
  }
  out.resize(size);
  return out;
}

// A 512x512 black-and-white bitmap: runs of 0x00 and 0xff with some noise.
std::string bitmap(size_t size) {
  uint32_t state = 0x512;
  std::string out;
  while (out.size() < size) {
    const char value = (next_random(state) & 1) ? '\xff' : '\x00';
    out.append(next_random(state) % 40 + 1, value);
    if (next_random(state) % 7 == 0) out += static_cast<char>(next_random(state));
  }
  out.resize(size);
  return out;
}

// A PDF: mostly compressed streams (random bytes) between short text parts.
std::string pdf(size_t size) {
  uint32_t state = 0x105;
  std::string out;
  while (out.size() < size) {
    out += "\nendstream\nendobj\n12 0 obj\n<< /Length 4096 /Filter /FlateDecode >>\nstream\n";
    for (int i = 0; i < 4096; ++i) out += static_cast<char>(next_random(state));
  }
  out.resize(size);
  return out;
}

std::string json_records(size_t size) {
  uint32_t state = 0x15;
  std::string out = "[";
  for (int id = 1; out.size() < size; ++id) {
    out += "{\"id\": " + std::to_string(id) + ", \"name\": \"user" +
           std::to_string(next_random(state) % 1000) +
           "\", \"active\": " + ((next_random(state) & 1) ? "true" : "false") +
           ", \"score\": " + std::to_string(next_random(state) % 100000) +
           ", \"tags\": [\"alpha\", \"beta\"], \"address\": {\"city\": \"Berlin\", \"zip\": \"" +
           std::to_string(10000 + next_random(state) % 90000) + "\"}},\n";
  }
  out.resize(size);
  return out;
}

std::string html_page(size_t size) {
  uint32_t state = 0x4711;
  std::string out = "<!DOCTYPE html>\n<html><head><title>openpipe</title></head><body>\n";
  while (out.size() < size) {
    out += "<div class=\"row\"><a href=\"/item/" + std::to_string(next_random(state) % 5000) +
           "\">Item " + std::to_string(next_random(state) % 5000) + "</a><span class=\"price\">" +
           std::to_string(next_random(state) % 999) + ".99</span></div>\n";
  }
  out.resize(size);
  return out;
}

struct DataSet {
  const char* name;  // as Autobahn names them
  bool binary;       // Autobahn sends the book, the bitmap and the PDF as binary
  std::string data;
};

const std::vector<DataSet>& data_sets() {
  constexpr size_t kSize = 300 * 1024;  // like Autobahn's files: a few hundred KiB
  static const std::vector<DataSet> sets = {
      {"gutenberg_faust", true, book_text(kSize)},
      {"lena512", true, bitmap(kSize)},
      {"ooms", true, pdf(kSize)},
      {"json_data1", false, json_records(kSize)},
      {"html_data1", false, html_page(kSize)},
  };
  return sets;
}

// ---- one case -------------------------------------------------------------------------------

struct DeflateCase {
  std::string name;           // "Case12_1_1"
  size_t data_set;            // index in data_sets()
  size_t length;              // payload bytes per message
  size_t count;               // messages (Autobahn: 1000)
  size_t fragment;            // 0: one frame; else frames of this many compressed bytes
  std::vector<Offer> offers;  // in the client's order of preference
};

void PrintTo(const DeflateCase& c, std::ostream* os) {
  *os << c.name;
}

std::string case_name(const ::testing::TestParamInfo<DeflateCase>& info) {
  return info.param.name;
}

// Autobahn's MSG_SIZES: (payload length, auto-fragment size).
const std::pair<size_t, size_t> kSizes[] = {
    {16, 0},      {64, 0},      {256, 0},      {1024, 0},      {4096, 0},      {8192, 0},
    {16384, 0},   {32768, 0},   {65536, 0},    {131072, 0},    {8192, 256},    {16384, 256},
    {32768, 256}, {65536, 256}, {131072, 256}, {131072, 1024}, {131072, 4096}, {131072, 32768},
};

size_t message_count(size_t length) {
  if (std::getenv("OPENPIPE_AUTOBAHN_FULL") != nullptr) return 1000;
  constexpr size_t kBudget = 256 * 1024;
  return std::max<size_t>(2, std::min<size_t>(1000, kBudget / std::max<size_t>(length, 1)));
}

std::vector<DeflateCase> section12() {
  std::vector<DeflateCase> cases;
  for (size_t set = 0; set < 5; ++set) {
    for (size_t i = 0; i < std::size(kSizes); ++i) {
      cases.push_back({"Case12_" + std::to_string(set + 1) + "_" + std::to_string(i + 1) + "_" +
                           data_sets()[set].name,
                       set,
                       kSizes[i].first,
                       message_count(kSizes[i].first),
                       kSizes[i].second,
                       {Offer{}}});
    }
  }
  return cases;
}

std::vector<DeflateCase> section13() {
  const std::vector<std::vector<Offer>> offers = {
      {Offer{}},
      {Offer{true, 0}},
      {Offer{false, 8}},
      {Offer{false, 15}},
      {Offer{true, 8}},
      {Offer{true, 15}},
      {Offer{true, 8}, Offer{true, 0}, Offer{}},
  };
  std::vector<DeflateCase> cases;
  for (size_t j = 0; j < offers.size(); ++j) {
    for (size_t i = 0; i < std::size(kSizes); ++i) {
      cases.push_back({"Case13_" + std::to_string(j + 1) + "_" + std::to_string(i + 1), 3,
                       kSizes[i].first, message_count(kSizes[i].first), kSizes[i].second,
                       offers[j]});
    }
  }
  return cases;
}

// The frames of one compressed message, cut into `fragment`-byte pieces
// (Autobahn's auto-fragmentation): RSV1 on the first frame only (§6.1).
std::string compressed_frames(uint8_t opcode, const std::string& compressed, size_t fragment) {
  if (fragment == 0 || compressed.size() <= fragment) {
    return RawClient::encode(opcode, compressed, true, true, 4, test::varied_mask_key());
  }
  std::string out;
  for (size_t at = 0; at < compressed.size(); at += fragment) {
    const bool first = at == 0, last = at + fragment >= compressed.size();
    out += RawClient::encode(first ? opcode : 0, std::string_view(compressed).substr(at, fragment),
                             last, true, first ? 4 : 0, test::varied_mask_key());
  }
  return out;
}

// The next message from the server, its RSV1 rules checked, inflated.
::testing::AssertionResult read_echo(RawClient& client, ClientDeflate& deflate, uint8_t opcode,
                                     const std::string& expected) {
  std::string payload;
  bool compressed = false;
  for (bool first = true;; first = false) {
    std::optional<test::RawFrame> frame = client.read_frame(30s);
    if (!frame) return ::testing::AssertionFailure() << "no echo within 30 s";
    if (frame->opcode >= 8) {
      if (frame->rsv != 0) return ::testing::AssertionFailure() << "RFC 7692 §6.1: RSV on control";
      continue;  // a ping from the server (none expected in a short case)
    }
    if (first && frame->opcode != opcode) {
      return ::testing::AssertionFailure()
             << "opcode " << int(frame->opcode) << ", expected " << int(opcode);
    }
    if (frame->rsv != 0 && !(first && frame->rsv == 4)) {
      return ::testing::AssertionFailure()
             << "RFC 7692 §6.1: RSV1 only on a first frame (rsv=" << int(frame->rsv) << ")";
    }
    if (first) compressed = frame->rsv == 4;
    payload += frame->payload;
    if (frame->fin) break;
  }
  std::string message = payload;
  if (compressed && !deflate.inflate_message(payload, message)) {
    return ::testing::AssertionFailure()
           << "RFC 7692 §7.2.2: the echo does not inflate with the agreed window";
  }
  if (message != expected) {
    return ::testing::AssertionFailure()
           << "echo differs: " << message.size() << " bytes, " << expected.size() << " expected";
  }
  return ::testing::AssertionSuccess();
}

void run_case(const DeflateCase& c) {
  const DataSet& set = data_sets()[c.data_set];
  RawClient client;
  ASSERT_TRUE(client.connect(test::EchoServer::port()));
  std::string offer_header = "Sec-WebSocket-Extensions: ";
  for (size_t i = 0; i < c.offers.size(); ++i) {
    offer_header += (i > 0 ? ", " : "") + c.offers[i].text();
  }
  const std::string head = client.handshake("/echo", offer_header + "\r\n");
  ASSERT_TRUE(head.starts_with("HTTP/1.1 101")) << head;
  Agreed agreed;
  const std::string problem = read_agreement(head, c.offers, agreed);
  ASSERT_EQ(problem, "") << head;
  // STRICT: Autobahn marks a declined offer UNIMPLEMENTED, not OK.
  ASSERT_TRUE(agreed.accepted) << "permessage-deflate declined:\n" << head;
  ClientDeflate deflate(agreed);
  const uint8_t opcode = set.binary ? 2 : 1;
  size_t at = 0;
  for (size_t i = 0; i < c.count; ++i) {
    std::string message;  // Autobahn walks through the data, wrapping at its end
    while (message.size() < c.length) {
      const size_t take = std::min(c.length - message.size(), set.data.size() - at);
      message += set.data.substr(at, take);
      at = (at + take) % set.data.size();
    }
    ASSERT_TRUE(client.send_raw(compressed_frames(opcode, deflate.compress(message), c.fragment)));
    ASSERT_TRUE(read_echo(client, deflate, opcode, message))
        << "message " << i << " of " << c.count;
  }
  EXPECT_TRUE(test::close_handshake(client));
}

class Ch22_Autobahn_Section12 : public ::testing::TestWithParam<DeflateCase> {};
TEST_P(Ch22_Autobahn_Section12, EchoedThroughCompression) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Compression, Ch22_Autobahn_Section12, ::testing::ValuesIn(section12()),
                         case_name);

class Ch22_Autobahn_Section13 : public ::testing::TestWithParam<DeflateCase> {};
TEST_P(Ch22_Autobahn_Section13, EchoedWithTheAgreedParameters) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Compression, Ch22_Autobahn_Section13, ::testing::ValuesIn(section13()),
                         case_name);

// The answers themselves, for the offers of section 13 (STRICT: only what
// each offer allowed, and what the default policy adds).
TEST(Ch22_Autobahn, Section13AnswersNameOnlyWhatWasAllowed) {
  struct Expect {
    std::vector<Offer> offers;
    const char* answer;
  };
  const Expect expected[] = {
      {{Offer{}}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
      {{Offer{false, 8}},
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
       "server_max_window_bits=8"},
      {{Offer{true, 15}},
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
       "server_max_window_bits=15"},
  };
  for (const Expect& e : expected) {
    RawClient client;
    ASSERT_TRUE(client.connect(test::EchoServer::port()));
    const std::string head =
        client.handshake("/echo", "Sec-WebSocket-Extensions: " + e.offers[0].text() + "\r\n");
    EXPECT_NE(head.find(std::string("\r\nSec-WebSocket-Extensions: ") + e.answer + "\r\n"),
              std::string::npos)
        << "offer: " << e.offers[0].text() << "\n"
        << head;
  }
}

}  // namespace
}  // namespace ws
