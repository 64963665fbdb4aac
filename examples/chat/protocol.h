// The chat protocol of docs/protocols.md, as JSON text (nlohmann-json): the
// messages the server sends, and the one a client may send, read with every
// refusal named. Knows no sockets and no rooms' rules (examples/chat/room.h).
#pragma once

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/room.h"

namespace chat {

using json = nlohmann::ordered_json;  // keeps "type" first on the wire

//> chat.encode
// What the server sends. Every message is one JSON object with a "type".
inline json to_json(const Message& message) {
  return {{"type", "message"},
          {"name", message.name},
          {"text", message.text},
          {"ts", message.ts},
          {"offset", message.offset}};
}

// What a resume found (app.h fills it from the server's ws::Recovery): the
// missed messages exactly as they were sent, or why there are none.
struct Resumed {
  bool recovered = false;
  std::string_view reason;               // "epoch changed", "offset older than history"...
  std::vector<std::string_view> missed;  // message() texts, oldest first
};

// `epoch` and `offset` (the last one given out) are where a client stands:
// it resumes from them if it has seen no message yet (chapter 21).
// `scope`: "" when members and history are the whole room's; "process"
// when other processes serve the room too (--redis) and they are only this
// process's (sent as "scope":"process").
inline std::string welcome(const std::string& room, const std::string& name, const Room& state,
                           std::string_view epoch, uint64_t offset,
                           const Resumed* resumed = nullptr, std::string_view scope = "") {
  json history = json::array();
  for (const Message& message : state.history()) history.push_back(to_json(message));
  json hello{
      {"type", "welcome"},  {"room", room},   {"name", name},    {"members", state.members()},
      {"history", history}, {"epoch", epoch}, {"offset", offset}};
  if (!scope.empty()) hello["scope"] = scope;
  if (resumed != nullptr) {
    hello["recovered"] = resumed->recovered;
    if (resumed->recovered) {
      json missed = json::array();  // our own message() texts: always JSON
      for (std::string_view text : resumed->missed) missed.push_back(json::parse(text));
      hello["missed"] = std::move(missed);
    } else {
      hello["reason"] = resumed->reason;
    }
  }
  return hello.dump();
}
inline std::string joined(const std::string& name) {
  return json{{"type", "join"}, {"name", name}}.dump();
}
inline std::string left(const std::string& name) {
  return json{{"type", "leave"}, {"name", name}}.dump();
}
inline std::string message(const Message& message) {
  return to_json(message).dump();
}
// The same text cut where the offset's digits go: "offset" is the last
// field, so the text is before + digits + "}" (server.h, publish_numbered).
inline std::pair<std::string, std::string> message_around_offset(const Message& message) {
  json object = to_json(message);
  object.erase("offset");
  std::string before = object.dump();
  before.pop_back();  // the closing '}'
  before += ",\"offset\":";
  return {std::move(before), "}"};
}
inline std::string error(std::string_view reason) {
  return json{{"type", "error"}, {"reason", reason}}.dump();
}
//< chat.encode

//> chat.decode
// A client's message, read: either the text of a chat message, or why it
// is refused (sent back as {"type":"error","reason":...}).
struct Incoming {
  std::string text;   // the chat message's text, if error is empty
  std::string error;  // "not JSON", "unknown type: ping", "text is longer than 4096 bytes"
};

inline Incoming read_client_message(std::string_view data) {
  // No exceptions: discarded() is a value that says "this was not JSON".
  const json value = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return {"", "not JSON"};
  if (!value.is_object()) return {"", "not a JSON object"};
  auto type = value.find("type");
  if (type == value.end() || !type->is_string()) return {"", "no \"type\" string"};
  if (*type != "message") return {"", "unknown type: " + type->get<std::string>()};
  auto text = value.find("text");  // unknown fields are ignored, as the protocol says
  if (text == value.end() || !text->is_string()) return {"", "no \"text\" string"};
  const std::string& body = text->get_ref<const std::string&>();
  if (body.empty()) return {"", "text is empty"};
  if (body.size() > kMaxTextBytes) return {"", "text is longer than 4096 bytes"};
  return {body, ""};
}

// A resume request's query fields, read: offset=K&epoch=E, both or neither.
// K is a decimal uint64 (the last offset the client saw; 0: none), E at most
// kMaxEpochBytes. `error` says what is wrong (a 400 before the upgrade).
inline constexpr size_t kMaxEpochBytes = 64;
struct ResumeRequest {
  bool asked = false;
  uint64_t offset = 0;
  std::string epoch;
  std::string error;
};

inline ResumeRequest read_resume(const std::optional<std::string>& offset,
                                 const std::optional<std::string>& epoch) {
  ResumeRequest request;
  if (!offset && !epoch) return request;
  if (!offset || !epoch) return {false, 0, "", "offset and epoch go together"};
  const char* end = offset->data() + offset->size();
  auto [stop, failure] = std::from_chars(offset->data(), end, request.offset);
  if (offset->empty() || failure != std::errc() || stop != end) {
    return {false, 0, "", "offset is not a decimal number below 2^64"};
  }
  if (epoch->empty() || epoch->size() > kMaxEpochBytes) {
    return {false, 0, "", "epoch is empty or longer than 64 bytes"};
  }
  request.asked = true;
  request.epoch = *epoch;
  return request;
}
//< chat.decode

}  // namespace chat
