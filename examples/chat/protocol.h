// The chat protocol of docs/protocols.md, as JSON text (nlohmann-json): the
// messages the server sends, and the one a client may send, read with every
// refusal named. Knows no sockets and no rooms' rules (examples/chat/room.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "chat/room.h"

namespace chat {

using json = nlohmann::ordered_json;  // keeps "type" first on the wire

//> chat.encode
// What the server sends. Every message is one JSON object with a "type".
inline json to_json(const Message& message) {
  return {{"type", "message"}, {"name", message.name}, {"text", message.text}, {"ts", message.ts}};
}

// `scope`: "" when members and history are the whole room's; "process"
// when other processes serve the room too (--redis) and they are only this
// process's (sent as "scope":"process").
inline std::string welcome(const std::string& room, const std::string& name, const Room& state,
                           std::string_view scope = "") {
  json history = json::array();
  for (const Message& message : state.history()) history.push_back(to_json(message));
  json hello = {{"type", "welcome"},
                {"room", room},
                {"name", name},
                {"members", state.members()},
                {"history", history}};
  if (!scope.empty()) hello["scope"] = scope;
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
//< chat.decode

}  // namespace chat
