// Chapter 17 — the chat's rules without a server: names and rooms, the token
// bucket, presence and history (examples/chat/room.h), and the JSON of
// docs/protocols.md (examples/chat/protocol.h), and the query string
// (examples/common/query.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/protocol.h"
#include "chat/room.h"
#include "common/query.h"

namespace chat {
namespace {

using nlohmann::json;

// ---- names and rooms ----------------------------------------------------------------

TEST(Ch17_ChatNames, AcceptsLettersDigitsAndInnerSpaces) {
  EXPECT_EQ(check_name("ada"), "");
  EXPECT_EQ(check_name("Ada Lovelace"), "");
  EXPECT_EQ(check_name("a_b-c.d9"), "");
  EXPECT_EQ(check_name(std::string(kMaxNameBytes, 'x')), "") << "32 bytes is the limit, inclusive";
}

TEST(Ch17_ChatNames, RefusesEmptyTooLongAndBlankEnds) {
  EXPECT_NE(check_name(""), "");
  EXPECT_NE(check_name(std::string(kMaxNameBytes + 1, 'x')), "") << "33 bytes: one too many";
  EXPECT_NE(check_name(" ada"), "") << "' ada' and 'ada' would look like the same person";
  EXPECT_NE(check_name("ada "), "");
}

TEST(Ch17_ChatNames, RefusesMarkupControlsAndNonAscii) {
  EXPECT_NE(check_name("<b>"), "") << "a name never holds markup";
  EXPECT_NE(check_name("a\nb"), "");
  EXPECT_NE(check_name(std::string("a\0b", 3)), "");
  EXPECT_NE(check_name("\xc3\xa9"), "") << "only ASCII: no look-alike letters (homoglyphs)";
}

TEST(Ch17_ChatNames, RoomsAllowNoSpaces) {
  EXPECT_EQ(check_room("lobby"), "");
  EXPECT_EQ(check_room("team-1.dev_x"), "");
  EXPECT_NE(check_room(""), "");
  EXPECT_NE(check_room("two words"), "");
  EXPECT_NE(check_room(std::string(kMaxRoomBytes + 1, 'r')), "");
  EXPECT_NE(check_room("a/b"), "") << "a room is part of a topic name: no separators";
}

// ---- the token bucket -----------------------------------------------------------------

TEST(Ch17_ChatTokenBucket, ABurstOfCapacityPassesThenNoMore) {
  TokenBucket bucket(3, 1, /*now_ms=*/0);
  EXPECT_TRUE(bucket.take(0));
  EXPECT_TRUE(bucket.take(0));
  EXPECT_TRUE(bucket.take(0));
  EXPECT_FALSE(bucket.take(0)) << "the fourth message of a burst of 3 must wait";
}

TEST(Ch17_ChatTokenBucket, RefillsAtTheRate) {
  TokenBucket bucket(2, 2, 0);  // 2 per second: one token every 500 ms
  EXPECT_TRUE(bucket.take(0));
  EXPECT_TRUE(bucket.take(0));
  EXPECT_FALSE(bucket.take(499)) << "499 ms at 2/s is 0.998 of a token";
  EXPECT_TRUE(bucket.take(500)) << "500 ms at 2/s is one token";
  EXPECT_FALSE(bucket.take(500));
}

TEST(Ch17_ChatTokenBucket, NeverHoldsMoreThanItsCapacity) {
  TokenBucket bucket(2, 10, 0);
  EXPECT_TRUE(bucket.take(0));
  // An hour of silence does not buy an hour's worth of messages.
  int passed = 0;
  while (bucket.take(3'600'000)) ++passed;
  EXPECT_EQ(passed, 2) << "after a long pause, a burst is still at most the capacity";
}

TEST(Ch17_ChatTokenBucket, AClockThatGoesBackGivesNothing) {
  TokenBucket bucket(1, 1, 10'000);
  EXPECT_TRUE(bucket.take(10'000));
  EXPECT_FALSE(bucket.take(5'000)) << "time going backwards must not mint tokens";
}

// ---- rooms: presence and history ------------------------------------------------------------

TEST(Ch17_ChatRoom, NamesAreUniqueInARoom) {
  Room room;
  EXPECT_TRUE(room.join("ada"));
  EXPECT_FALSE(room.join("ada")) << "a second 'ada' in the same room is refused (HTTP 409)";
  EXPECT_TRUE(room.join("bob"));
  EXPECT_EQ(room.members(), (std::vector<std::string>{"ada", "bob"})) << "join order is kept";
}

TEST(Ch17_ChatRoom, LeaveFreesTheName) {
  Room room;
  room.join("ada");
  EXPECT_TRUE(room.leave("ada"));
  EXPECT_FALSE(room.leave("ada"));
  EXPECT_TRUE(room.join("ada"));
}

TEST(Ch17_ChatRoom, KeepsTheLast50MessagesOldestFirst) {
  Room room;
  for (int i = 0; i < 60; ++i) room.remember({"ada", std::to_string(i), i});
  ASSERT_EQ(room.history().size(), kHistorySize);
  EXPECT_EQ(room.history().front().text, "10") << "the 10 oldest of 60 were dropped";
  EXPECT_EQ(room.history().back().text, "59");
}

TEST(Ch17_ChatRooms, SameNameInTwoRoomsIsFine) {
  Rooms rooms;
  EXPECT_TRUE(rooms.open("a")->join("ada"));
  EXPECT_TRUE(rooms.open("b")->join("ada"));
  EXPECT_EQ(rooms.size(), 2u);
}

TEST(Ch17_ChatRooms, AtTheLimitAnEmptyRoomMakesSpaceAndAFullSetRefuses) {
  Rooms rooms;
  for (size_t i = 0; i < kMaxRooms; ++i) rooms.open("r" + std::to_string(i))->join("x");
  EXPECT_EQ(rooms.open("new"), nullptr) << "1000 occupied rooms: a new one is refused";
  rooms.find("r7")->leave("x");
  ASSERT_NE(rooms.open("new"), nullptr) << "an empty room is forgotten to make space";
  EXPECT_EQ(rooms.find("r7"), nullptr);
  EXPECT_EQ(rooms.size(), kMaxRooms);
}

// ---- the JSON protocol (docs/protocols.md) ----------------------------------------------------

TEST(Ch17_ChatProtocol, WelcomeCarriesRoomNameMembersAndHistory) {
  Room room;
  room.join("ada");
  room.join("bob");
  room.remember({"ada", "hi", 1700000000000, 7});
  const json welcome_message = json::parse(welcome("lobby", "bob", room, "e1", 7));
  EXPECT_EQ(welcome_message["type"], "welcome");
  EXPECT_EQ(welcome_message["room"], "lobby");
  EXPECT_EQ(welcome_message["name"], "bob");
  EXPECT_EQ(welcome_message["members"], json::array({"ada", "bob"}));
  ASSERT_EQ(welcome_message["history"].size(), 1u);
  EXPECT_EQ(
      welcome_message["history"][0],
      json::parse(R"({"type":"message","name":"ada","text":"hi","ts":1700000000000,"offset":7})"));
  EXPECT_EQ(welcome_message["epoch"], "e1") << "chapter 21: where the client stands";
  EXPECT_EQ(welcome_message["offset"], 7);
}

TEST(Ch17_ChatProtocol, JoinLeaveMessageAndErrorHaveTheDocumentedShape) {
  EXPECT_EQ(json::parse(joined("ada")), json::parse(R"({"type":"join","name":"ada"})"));
  EXPECT_EQ(json::parse(left("ada")), json::parse(R"({"type":"leave","name":"ada"})"));
  EXPECT_EQ(
      json::parse(message({"ada", "<b>\"x\"</b>", 5, 3})),
      json::parse(R"({"type":"message","name":"ada","text":"<b>\"x\"</b>","ts":5,"offset":3})"))
      << "text is carried as it was typed, escaped only as JSON requires";
  EXPECT_EQ(json::parse(error("why")), json::parse(R"({"type":"error","reason":"why"})"));
}

TEST(Ch17_ChatProtocol, ReadsAMessageAndIgnoresUnknownFields) {
  const Incoming in = read_client_message(R"({"type":"message","text":"hello","mood":"great"})");
  EXPECT_EQ(in.error, "") << "docs/protocols.md: unknown fields are ignored";
  EXPECT_EQ(in.text, "hello");
}

TEST(Ch17_ChatProtocol, RefusesWhatIsNotAChatMessage) {
  EXPECT_EQ(read_client_message("hello").error, "not JSON");
  EXPECT_EQ(read_client_message("[1,2]").error, "not a JSON object");
  EXPECT_EQ(read_client_message(R"({"text":"x"})").error, "no \"type\" string");
  EXPECT_EQ(read_client_message(R"({"type":"ping"})").error, "unknown type: ping")
      << "docs/protocols.md: an unknown type gets an error";
  EXPECT_EQ(read_client_message(R"({"type":"message","text":5})").error, "no \"text\" string");
  EXPECT_EQ(read_client_message(R"({"type":"message","text":""})").error, "text is empty");
}

TEST(Ch17_ChatProtocol, TextUpTo4KiBPassesOneByteMoreIsRefused) {
  const std::string limit(kMaxTextBytes, 'x');
  EXPECT_EQ(read_client_message(json{{"type", "message"}, {"text", limit}}.dump()).error, "");
  EXPECT_EQ(read_client_message(json{{"type", "message"}, {"text", limit + "x"}}.dump()).error,
            "text is longer than 4096 bytes");
}

// ---- the query string -------------------------------------------------------------------------

TEST(Ch17_Query, DecodesPercentAndPlus) {
  EXPECT_EQ(app::query_value("room=lobby&name=Ada%20L+x", "name"), "Ada L x");
  EXPECT_EQ(app::query_value("room=lobby", "name"), std::nullopt);
  EXPECT_EQ(app::query_value("name=%4", "name"), std::nullopt) << "'%4' is no escape";
  EXPECT_EQ(app::query_value("name=%zz", "name"), std::nullopt);
  EXPECT_EQ(app::query_values("topic=a&x=1&topic=b", "topic"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(app::query_value("name", "name"), "") << "a name without '=' has an empty value";
}

}  // namespace
}  // namespace chat
