// A chat member for the tests of chapters 21 (the chat's resume, one
// process or several sharing Redis): join a room (retrying a 409 while the
// server has not seen the previous connection drop), say something, and read
// messages checking that each offset is the one after the last.
// Header-only; namespace ws::test.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "json_client.h"
#include "openpipe/io/client.h"

namespace ws::test {

struct Member {
  Client client;
  json welcome;
};

// Joins (with `extra` query fields, "&offset=K&epoch=E" to resume). A name
// still held by the dropped connection is 409 until the server has seen the
// drop: retried for a while, as the page does.
inline std::unique_ptr<Member> join(uint16_t port, const std::string& room, const std::string& name,
                                    const std::string& extra = "") {
  const std::string url = test::local_url(port, "/chat?room=" + room + "&name=" + name + extra);
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto member = std::make_unique<Member>();
    ClientStatus status = member->client.connect(url, std::chrono::seconds(10));
    if (!status.ok() && status.error.find("409") != std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    EXPECT_TRUE(status.ok()) << name << " could not join: " << status.error;
    if (!status.ok()) return nullptr;
    std::string what;
    std::optional<json> welcome = next_json(member->client, &what);
    EXPECT_TRUE(welcome && (*welcome)["type"] == "welcome") << "the welcome comes first: " << what;
    if (!welcome) return nullptr;
    member->welcome = *welcome;
    return member;
  }
  ADD_FAILURE() << name << ": still 409 after 5 s: the server never saw the drop";
  return nullptr;
}

inline std::string resume_query(uint64_t offset, const std::string& epoch) {
  return "&offset=" + std::to_string(offset) + "&epoch=" + epoch;
}

inline void say(Client& client, const std::string& text) {
  ASSERT_TRUE(client.send_text(json{{"type", "message"}, {"text", text}}.dump()).ok());
}

// Reads chat messages (skipping presence) until one with `text`; checks that
// each offset is the one after `last`, which it advances.
inline bool read_through(Client& client, uint64_t& last, const std::string& text) {
  while (true) {
    std::optional<json> m = next_of_type(client, "message");
    if (!m) {
      ADD_FAILURE() << "no message after offset " << last << " (waiting for " << text << ")";
      return false;
    }
    const uint64_t offset = (*m)["offset"].get<uint64_t>();
    if (offset != last + 1) {
      ADD_FAILURE() << "after offset " << last << " came " << offset
                    << (offset <= last ? ": a duplicate" : ": a gap");
      return false;
    }
    last = offset;
    if ((*m)["text"] == text) return true;
  }
}

}  // namespace ws::test
