// The notify application on a ws::Server: browsers subscribe at
// ws://HOST/subscribe?topic=A&topic=B; a service publishes with a signed
// POST /notify/<topic> (a webhook), and every subscriber of that topic gets
// {"type":"notification",...}. The webhook feeds the WebSocket (primer §9).
// Owns the secret; the Server owns the sockets, topics and HTTP parsing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/program.h"
#include "common/query.h"
#include "notify/signature.h"
#include "openpipe/io/server.h"
#include "openpipe/protocol/utf8.h"

namespace notify {

inline constexpr std::string_view kNotifyPrefix = "/notify";

class App {
 public:
  App(ws::Server& server, std::string secret) : server_(server), secret_(std::move(secret)) {
    //> notify.routes
    ws::Route subscribe;
    subscribe.on_upgrade = [](const ws::HttpRequest& request, ws::WebSocket& socket) {
      return choose_topics(request, socket);
    };
    subscribe.on_open = [](ws::WebSocket& socket) {
      for (const std::string& topic : socket.data<Topics>()) socket.subscribe(topic);
    };
    subscribe.on_message = [](ws::WebSocket& socket, std::string_view, ws::MessageType) {
      socket.send_text(error("subscriptions are chosen in the URL: ?topic=A&topic=B"));
    };
    server.route("/subscribe", std::move(subscribe));

    ws::HttpRoute notify;
    notify.methods = {"POST"};
    notify.max_body = kMaxBodyBytes;  // more: 413, before on_request
    // Not length_required: that would answer a chunked body with 411 too.
    // Chunked bodies are read (and bounded) by the server; a request with
    // neither Content-Length nor chunked gets 411 in on_notify.
    notify.on_request = [this](const ws::HttpRequest& request) { return on_notify(request); };
    server.handle(std::string(kNotifyPrefix), std::move(notify));
    //< notify.routes
  }

 private:
  using Topics = std::vector<std::string>;  // a subscriber's topics: its per-client data

  //> notify.subscribe
  // ?topic=A&topic=B: 1..32 valid, distinct names, or 400 before the upgrade.
  static ws::UpgradeDecision choose_topics(const ws::HttpRequest& request, ws::WebSocket& socket) {
    Topics topics = app::query_values(request.query(), "topic");
    if (topics.empty()) return ws::UpgradeDecision::refuse(400, "give at least one ?topic=\n");
    if (topics.size() > kMaxTopicsPerSocket) {
      return ws::UpgradeDecision::refuse(400, "at most 32 topics per connection\n");
    }
    for (const std::string& topic : topics) {
      if (!valid_topic(topic)) {
        return ws::UpgradeDecision::refuse(400, "a topic is 1-64 of A-Z a-z 0-9 _ . : -\n");
      }
    }
    socket.set_data<Topics>(std::move(topics));  // a repeated topic is subscribed once
    return ws::UpgradeDecision::accept();
  }
  //< notify.subscribe

  static ws::HttpReply reply(int status, std::string_view text) {
    return ws::HttpReply::text(status, std::string(text) + "\n");
  }

  //> notify.post
  // POST /notify/<topic>. Nothing is published unless every check passes.
  ws::HttpReply on_notify(const ws::HttpRequest& request) {
    const std::string_view path = request.path();
    if (!path.starts_with("/notify/")) return reply(404, "POST to /notify/<topic>");
    const std::string_view topic = path.substr(kNotifyPrefix.size() + 1);
    if (!valid_topic(topic)) return reply(400, "a topic is 1-64 of A-Z a-z 0-9 _ . : -");
    // RFC 9110 §15.5.12: 411 Length Required. (Chunked bodies are read.)
    if (!request.header("Content-Length") && !request.header("Transfer-Encoding")) {
      return reply(411, "send the body with a Content-Length");
    }
    const std::string* signature = request.header(std::string(kSignatureHeader));
    if (signature == nullptr) return reply(401, "missing X-Signature-256: sha256=<hex HMAC>");
    if (!signature_valid(secret_, request.body, *signature)) {
      return reply(401,
                   "bad signature: X-Signature-256 must be sha256=<hex HMAC-SHA256 of the body>");
    }
    if (!ws::is_valid_utf8(request.body)) return reply(400, "the body must be UTF-8 text");
    const size_t reached =
        server_.publish(topic, notification(topic, request.body, app::unix_ms()));
    ws::HttpReply ok = ws::HttpReply::text(
        200, nlohmann::ordered_json{{"topic", topic}, {"delivered", reached}}.dump() + "\n");
    ok.content_type = "application/json";
    return ok;
  }
  //< notify.post

  ws::Server& server_;
  std::string secret_;  // the HMAC key shared with the senders
};

}  // namespace notify
