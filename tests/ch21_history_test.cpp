// Chapter 21 — the history alone (include/openpipe/io/history.h): offsets,
// epochs, the three bounds (count, bytes, age), the three refusals (epoch
// changed, too old, future), the store's prefixes and its eviction, and what
// a kept message costs in memory (measured, printed, never timed).
// No server, no socket, no clock: time is a number the test passes in.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "openpipe/io/history.h"

namespace ws {
namespace {

// The offsets of a recovery's messages, for readable failures.
std::vector<uint64_t> offsets(const Recovery& recovery) {
  std::vector<uint64_t> out;
  for (const HistoryEntry* entry : recovery.missed) out.push_back(entry->offset);
  return out;
}

TopicHistory make(HistoryLimits limits = {}) {
  return TopicHistory(limits, "e1");
}

TEST(Ch21_TopicHistory, OffsetsStartAtOneAndGrowByOne) {
  TopicHistory history = make();
  EXPECT_EQ(history.last_offset(), 0u) << "0 means: nothing published yet";
  EXPECT_EQ(history.next_offset(), 1u);
  EXPECT_EQ(history.append("a", MessageType::kText, 0), 1u);
  EXPECT_EQ(history.append("b", MessageType::kText, 0), 2u);
  EXPECT_EQ(history.next_offset(), 3u) << "next_offset() is what the next append returns";
  EXPECT_EQ(history.last_offset(), 2u);
}

TEST(Ch21_TopicHistory, RecoversEveryMessageAfterTheOffsetInOrder) {
  TopicHistory history = make();
  for (int i = 1; i <= 5; ++i) history.append("m" + std::to_string(i), MessageType::kText, 0);
  Recovery recovery = history.since(2, "e1", 0);
  ASSERT_TRUE(recovery.recovered) << to_string(recovery.reason);
  EXPECT_EQ(offsets(recovery), (std::vector<uint64_t>{3, 4, 5}))
      << "exactly the messages after the client's last offset, oldest first";
  EXPECT_EQ(recovery.missed.front()->data, "m3") << "the bytes as published";
  EXPECT_EQ(recovery.last_offset, 5u);
  EXPECT_EQ(recovery.epoch, "e1");
}

TEST(Ch21_TopicHistory, UpToDateRecoversNothingAndFromZeroRecoversAll) {
  TopicHistory history = make();
  for (int i = 0; i < 3; ++i) history.append("m", MessageType::kText, 0);
  Recovery current = history.since(3, "e1", 0);
  EXPECT_TRUE(current.recovered);
  EXPECT_TRUE(current.missed.empty()) << "a client that saw offset 3 of 3 missed nothing";
  Recovery all = history.since(0, "e1", 0);
  EXPECT_TRUE(all.recovered) << "0 = saw nothing: everything kept, if nothing was dropped";
  EXPECT_EQ(offsets(all), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(Ch21_TopicHistory, AnotherEpochIsRefused) {
  TopicHistory history = make();
  history.append("m", MessageType::kText, 0);
  Recovery recovery = history.since(1, "e0", 0);
  EXPECT_FALSE(recovery.recovered);
  EXPECT_EQ(recovery.reason, RecoveryFailure::kEpochChanged)
      << "offsets of another epoch number another history";
  EXPECT_STREQ(to_string(recovery.reason), "epoch changed");
  EXPECT_TRUE(recovery.missed.empty());
  EXPECT_EQ(recovery.epoch, "e1") << "the client learns the epoch to follow from now on";
}

TEST(Ch21_TopicHistory, AnOffsetNeverGivenOutIsRefused) {
  TopicHistory history = make();
  history.append("m", MessageType::kText, 0);
  Recovery recovery = history.since(2, "e1", 0);
  EXPECT_FALSE(recovery.recovered);
  EXPECT_EQ(recovery.reason, RecoveryFailure::kFuture);
  EXPECT_STREQ(to_string(recovery.reason), "offset in the future");
}

TEST(Ch21_TopicHistory, TheCountBoundDropsTheOldestAndAnOlderOffsetIsTooOld) {
  TopicHistory history = make({.max_messages = 3});
  for (int i = 0; i < 5; ++i) history.append("m", MessageType::kText, 0);
  EXPECT_EQ(history.size(), 3u) << "max_messages bounds the ring";
  EXPECT_EQ(history.entries().front().offset, 3u);
  Recovery edge = history.since(2, "e1", 0);
  EXPECT_TRUE(edge.recovered) << "offset 2 needs 3..5: all kept";
  EXPECT_EQ(offsets(edge), (std::vector<uint64_t>{3, 4, 5}));
  Recovery old = history.since(1, "e1", 0);
  EXPECT_FALSE(old.recovered) << "offset 1 needs message 2, which was dropped";
  EXPECT_EQ(old.reason, RecoveryFailure::kTooOld);
  EXPECT_STREQ(to_string(old.reason), "offset older than history");
}

TEST(Ch21_TopicHistory, TheByteBoundDropsTheOldest) {
  const size_t one = kEntryOverhead + 100;
  TopicHistory history = make({.max_messages = 1000, .max_bytes = 3 * one});
  for (int i = 0; i < 10; ++i) history.append(std::string(100, 'x'), MessageType::kText, 0);
  EXPECT_EQ(history.size(), 3u) << "max_bytes counts kEntryOverhead + size per message";
  EXPECT_LE(history.bytes(), 3 * one);
  EXPECT_EQ(history.since(7, "e1", 0).reason, RecoveryFailure::kNone);
  EXPECT_EQ(history.since(6, "e1", 0).reason, RecoveryFailure::kTooOld);
}

TEST(Ch21_TopicHistory, TheAgeBoundDropsOlderMessages) {
  TopicHistory history = make({.max_age_ms = 1000});
  history.append("old", MessageType::kText, 0);
  history.append("new", MessageType::kText, 1500);
  EXPECT_EQ(history.size(), 1u) << "appending at t=1500 drops what is older than 1000 ms";
  EXPECT_EQ(history.since(0, "e1", 1500).reason, RecoveryFailure::kTooOld);
  Recovery later = history.since(1, "e1", 3000);
  EXPECT_FALSE(later.recovered) << "a resume at t=3000 drops 'new' (1500 ms old) first";
  EXPECT_EQ(later.reason, RecoveryFailure::kTooOld);
  EXPECT_TRUE(history.since(2, "e1", 3000).recovered) << "up to date: nothing is needed";
}

TEST(Ch21_TopicHistory, AMessageTooLargeToKeepEmptiesTheRingRatherThanLeaveAHole) {
  TopicHistory history = make({.max_messages = 10, .max_bytes = 1000});
  history.append("a", MessageType::kText, 0);
  EXPECT_EQ(history.append(std::string(2000, 'x'), MessageType::kBinary, 0), 2u)
      << "still numbered";
  history.append("c", MessageType::kText, 0);
  EXPECT_EQ(history.since(0, "e1", 0).reason, RecoveryFailure::kTooOld)
      << "message 2 is not kept: a list 1, 3 would hide the loss";
  EXPECT_EQ(offsets(history.since(2, "e1", 0)), (std::vector<uint64_t>{3}));
}

TEST(Ch21_TopicHistory, KeepsTheMessageType) {
  TopicHistory history = make();
  history.append("t", MessageType::kText, 0);
  history.append("b", MessageType::kBinary, 0);
  Recovery recovery = history.since(0, "e1", 0);
  ASSERT_EQ(recovery.missed.size(), 2u);
  EXPECT_EQ(recovery.missed[0]->type, MessageType::kText);
  EXPECT_EQ(recovery.missed[1]->type, MessageType::kBinary) << "replayed with its opcode";
}

// ---- the store --------------------------------------------------------------------------------

// Epochs "E1", "E2"... so that the tests know which history is which.
std::function<std::string()> counting_epochs() {
  auto n = std::make_shared<int>(0);
  return [n] { return "E" + std::to_string(++*n); };
}

TEST(Ch21_HistoryStore, OnlyTopicsUnderAPrefixKeepHistory) {
  HistoryStore store(counting_epochs());
  EXPECT_FALSE(store.enabled());
  store.keep("chat/", {});
  EXPECT_TRUE(store.enabled());
  EXPECT_EQ(store.append("chat/lobby", "m", MessageType::kText, 0), 1u);
  EXPECT_EQ(store.append("chat/lobby", "m", MessageType::kText, 0), 2u);
  EXPECT_EQ(store.append("chat/kitchen", "m", MessageType::kText, 0), 1u)
      << "offsets count per topic";
  EXPECT_EQ(store.append("ticker", "m", MessageType::kText, 0), 0u) << "no prefix: no history";
  EXPECT_EQ(store.open("ticker"), nullptr);
  EXPECT_EQ(store.topic_count(), 2u);
  EXPECT_NE(store.open("chat/lobby")->epoch(), store.open("chat/kitchen")->epoch())
      << "each history draws its own epoch";
}

TEST(Ch21_HistoryStore, TheLongestPrefixGivesTheLimits) {
  HistoryStore store(counting_epochs());
  store.keep("", {.max_messages = 5});
  store.keep("big/", {.max_messages = 50});
  for (int i = 0; i < 20; ++i) {
    store.append("small", "m", MessageType::kText, 0);
    store.append("big/one", "m", MessageType::kText, 0);
  }
  EXPECT_EQ(store.open("small")->size(), 5u) << "\"\" keeps every topic, with its limits";
  EXPECT_EQ(store.open("big/one")->size(), 20u) << "\"big/\" is longer: its limits win";
}

TEST(Ch21_HistoryStore, BeyondMaxTopicsTheLeastRecentlyUsedIsForgottenAndItsEpochWithIt) {
  HistoryStore store(counting_epochs());
  store.keep("t/", {.max_topics = 2});
  store.append("t/a", "m", MessageType::kText, 0);  // epoch E1
  store.append("t/b", "m", MessageType::kText, 0);  // E2
  store.append("t/a", "m", MessageType::kText, 0);  // a is now more recent than b
  store.append("t/c", "m", MessageType::kText, 0);  // E3: b goes
  EXPECT_EQ(store.topic_count(), 2u) << "max_topics bounds the store";
  EXPECT_EQ(store.open("t/a")->last_offset(), 2u) << "the recently used one stays";
  TopicHistory* b = store.open("t/b");  // created again (E4), evicting c
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->epoch(), "E4");
  Recovery recovery = b->since(1, "E2", 0);
  EXPECT_FALSE(recovery.recovered);
  EXPECT_EQ(recovery.reason, RecoveryFailure::kEpochChanged)
      << "a forgotten history is a lost one: clients of it learn so";
}

TEST(Ch21_HistoryStore, RandomEpochsDiffer) {
  const std::string a = random_epoch(), b = random_epoch();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b) << "a restarted process must never reuse an epoch (64 random bits)";
}

// ---- what it costs ---------------------------------------------------------------------------

// 10,000 topics x 100 messages of 100 bytes (a chat line in JSON is about
// that), measured with the allocator's own count (mallinfo2: bytes in use).
// Prints the figure for the chapter; asserts only that the bounds hold.
TEST(Ch21_HistoryMemory, TenThousandTopicsOfAHundredMessages) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer replaces malloc, and mallinfo2() no longer sees the memory: "
                  "the figure comes from the plain build (make test CH=21)";
#endif
  constexpr size_t kTopics = 10000, kPerTopic = 100, kBytes = 100;
  const size_t before = mallinfo2().uordblks;
  {
    HistoryStore store(counting_epochs());
    store.keep("", {.max_messages = kPerTopic, .max_topics = kTopics});
    const std::string payload(kBytes, 'x');
    for (size_t t = 0; t < kTopics; ++t) {
      const std::string topic = "topic/" + std::to_string(t);
      for (size_t m = 0; m < kPerTopic + 10; ++m) {  // 10 more: the ring has wrapped
        store.append(topic, payload, MessageType::kText, 0);
      }
    }
    const size_t used = mallinfo2().uordblks - before;
    const size_t messages = kTopics * kPerTopic;
    EXPECT_EQ(store.topic_count(), kTopics);
    EXPECT_EQ(store.open("topic/0")->size(), kPerTopic);
    std::printf(
        "[ figure ] history: %zu topics x %zu messages of %zu bytes: %.1f MiB in use, "
        "%.1f bytes per message, %.1f beyond the payload\n",
        kTopics, kPerTopic, kBytes, used / 1048576.0, static_cast<double>(used) / messages,
        static_cast<double>(used) / messages - kBytes);
    EXPECT_GE(used, messages * kBytes) << "the payloads themselves are kept";
    EXPECT_LE(used, messages * (kBytes + 2 * kEntryOverhead))
        << "the overhead per message stays near kEntryOverhead";
  }
}

}  // namespace
}  // namespace ws
