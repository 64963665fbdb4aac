// The C++ client (include/openpipe/io/client.h) for the JSON programs of
// chapters 17-19: connect, send a JSON object, and wait for the next message
// of a given "type" (docs/protocols.md). Header-only; namespace ws::test.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "openpipe/io/client.h"

namespace ws::test {

using json = nlohmann::json;

inline constexpr std::chrono::milliseconds kJsonTimeout{10000};  // generous: a loaded machine

// ws://127.0.0.1:PORT + resource ("/chat?room=a&name=b").
inline std::string local_url(uint16_t port, std::string_view resource) {
  return "ws://127.0.0.1:" + std::to_string(port) + std::string(resource);
}

// The next text message as JSON; nullopt on a timeout, a close, or a
// message that is no JSON (`what` then says which).
inline std::optional<json> next_json(Client& client, std::string* what = nullptr,
                                     std::chrono::milliseconds timeout = kJsonTimeout) {
  const ClientEvent event = client.receive(timeout);
  if (event.type != ClientEventType::kText) {
    if (what) *what = std::string(to_string(event.type)) + " " + event.data;
    return std::nullopt;
  }
  json value = json::parse(event.data, nullptr, false);
  if (value.is_discarded()) {
    if (what) *what = "not JSON: " + event.data;
    return std::nullopt;
  }
  return value;
}

// The next message whose "type" is `type`, skipping others (a join that
// raced ahead, a sample); nullopt if none came within `timeout`.
inline std::optional<json> next_of_type(Client& client, std::string_view type,
                                        std::chrono::milliseconds timeout = kJsonTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<json> value = next_json(client, nullptr, left);
    if (!value) return std::nullopt;
    if (value->is_object() && value->value("type", "") == type) return value;
  }
}

}  // namespace ws::test
