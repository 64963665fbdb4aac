// The notify service's rules with no sockets: the webhook signature
// (X-Signature-256: sha256=<hex HMAC-SHA256 of the body>, as GitHub signs
// its webhooks), topic names, and the JSON "notification". HMAC from
// OpenSSL's libcrypto; the comparison takes the same time for every wrong
// signature. RFC 2104 (HMAC), FIPS 180-4 (SHA-256).
#pragma once

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace notify {

//> notify.limits
inline constexpr size_t kMaxBodyBytes = 64 * 1024;  // a larger POST body: 413
inline constexpr size_t kMaxTopicBytes = 64;        // a topic name: 1..64 bytes
inline constexpr size_t kMaxTopicsPerSocket = 32;   // ?topic=... at most 32 times
inline constexpr std::string_view kSignatureHeader = "X-Signature-256";
inline constexpr std::string_view kSignaturePrefix = "sha256=";
//< notify.limits

using Digest = std::array<uint8_t, 32>;  // SHA-256's output

//> notify.hmac
// HMAC-SHA256(secret, body): 32 bytes.
inline Digest hmac_sha256(std::string_view secret, std::string_view body) {
  Digest digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest.data(), &length);
  return digest;
}

// Lower-case hex, as the header carries it.
inline std::string to_hex(const Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : digest) {
    text += kHex[byte >> 4];
    text += kHex[byte & 15];
  }
  return text;
}

// The header's value for `body`: "sha256=" and 64 hex digits.
inline std::string signature_header(std::string_view secret, std::string_view body) {
  return std::string(kSignaturePrefix) + to_hex(hmac_sha256(secret, body));
}

// "sha256=<64 hex digits>" back to 32 bytes (either case); nullopt otherwise.
inline std::optional<Digest> parse_signature(std::string_view header) {
  if (!header.starts_with(kSignaturePrefix)) return std::nullopt;
  header.remove_prefix(kSignaturePrefix.size());
  if (header.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Digest digest{};
  for (size_t i = 0; i < digest.size(); ++i) {
    const int high = nibble(header[2 * i]), low = nibble(header[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return digest;
}

// True only if `header` is the signature of `body` with `secret`. The bytes
// are compared with CRYPTO_memcmp, which looks at all 32 whatever they hold:
// a plain memcmp stops at the first difference, and the time it takes tells
// an attacker how many leading bytes of a forged signature were right.
inline bool signature_valid(std::string_view secret, std::string_view body,
                            std::string_view header) {
  const std::optional<Digest> given = parse_signature(header);
  if (!given) return false;
  const Digest expected = hmac_sha256(secret, body);
  return CRYPTO_memcmp(given->data(), expected.data(), expected.size()) == 0;
}
//< notify.hmac

// Topic names: 1..64 of letters, digits, '_', '-', '.', ':' (safe in a URL
// path and a query without escaping).
inline bool valid_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicBytes) return false;
  for (char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// {"type":"notification","topic":T,"body":<the POST body as text>,"ts":...}
// The body must be UTF-8 (the caller checks): JSON strings are Unicode.
inline std::string notification(std::string_view topic, std::string_view body, int64_t ts) {
  return nlohmann::ordered_json{
      {"type", "notification"}, {"topic", topic}, {"body", body}, {"ts", ts}}
      .dump();
}

inline std::string error(std::string_view reason) {
  return nlohmann::ordered_json{{"type", "error"}, {"reason", reason}}.dump();
}

}  // namespace notify
