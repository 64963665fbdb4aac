// Chapter 19 — the notify service's rules without a server: the webhook
// signature (HMAC-SHA256 with libcrypto, examples/notify/signature.h), topic
// names and the "notification" JSON of docs/protocols.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "notify/signature.h"

namespace notify {
namespace {

using nlohmann::json;

TEST(Ch19_NotifySignature, MatchesRfc4231TestCase2) {
  // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
      << "HMAC-SHA256 must match the RFC's vector";
}

TEST(Ch19_NotifySignature, AcceptsTheRightSignatureInEitherCase) {
  const std::string header = signature_header("s3cret", "deploy done");
  EXPECT_TRUE(header.starts_with("sha256="));
  EXPECT_EQ(header.size(), 7u + 64);
  EXPECT_TRUE(signature_valid("s3cret", "deploy done", header));
  std::string upper = header;
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  EXPECT_TRUE(signature_valid("s3cret", "deploy done", upper)) << "hex digits in either case";
}

TEST(Ch19_NotifySignature, RefusesAnotherBodyOrSecret) {
  const std::string header = signature_header("s3cret", "deploy done");
  EXPECT_FALSE(signature_valid("s3cret", "deploy done!", header)) << "one byte more in the body";
  EXPECT_FALSE(signature_valid("other", "deploy done", header)) << "signed with another secret";
}

TEST(Ch19_NotifySignature, RefusesMalformedHeaders) {
  const std::string good = signature_header("k", "b");
  EXPECT_FALSE(signature_valid("k", "b", ""));
  EXPECT_FALSE(signature_valid("k", "b", good.substr(7))) << "no sha256= prefix";
  EXPECT_FALSE(signature_valid("k", "b", "sha1=" + good.substr(7)));
  EXPECT_FALSE(signature_valid("k", "b", good.substr(0, good.size() - 2))) << "too short";
  EXPECT_FALSE(signature_valid("k", "b", good + "00")) << "too long";
  std::string bad_digit = good;
  bad_digit[10] = 'g';
  EXPECT_FALSE(signature_valid("k", "b", bad_digit)) << "not hex";
}

TEST(Ch19_NotifyTopics, NamesAreBounded) {
  EXPECT_TRUE(valid_topic("deploys"));
  EXPECT_TRUE(valid_topic("team-1.alerts:high"));
  EXPECT_TRUE(valid_topic(std::string(kMaxTopicBytes, 't')));
  EXPECT_FALSE(valid_topic(""));
  EXPECT_FALSE(valid_topic(std::string(kMaxTopicBytes + 1, 't')));
  EXPECT_FALSE(valid_topic("a/b"));
  EXPECT_FALSE(valid_topic("a b"));
}

TEST(Ch19_NotifyProtocol, NotificationHasTheDocumentedShape) {
  EXPECT_EQ(
      json::parse(notification("deploys", "v1.2 \"live\"", 7)),
      json::parse(R"({"type":"notification","topic":"deploys","body":"v1.2 \"live\"","ts":7})"));
}

}  // namespace
}  // namespace notify
