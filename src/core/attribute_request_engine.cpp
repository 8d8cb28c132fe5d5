#include "tbmqtt/detail/attribute_request_engine.hpp"

#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/wire_codec.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt::detail {

result<std::uint32_t> attribute_request_engine::request(std::string_view client_keys, std::string_view shared_keys,
                                                        std::uint32_t now_ms) noexcept {
  char payload[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  json::writer w{payload};
  w.begin_object();
  if (!client_keys.empty()) w.key("clientKeys").value(client_keys);
  if (!shared_keys.empty()) w.key("sharedKeys").value(shared_keys);
  w.end_object();
  auto json_text = w.finish();
  if (!json_text) return json_text.error();
  std::byte wire_buffer[TBMQTT_REQUEST_PAYLOAD_CAPACITY];  // AttributesRequest is smaller than its JSON
  auto text = encode_uplink(ctx_.config.wire, uplink::attribute_request, *json_text, wire_buffer);
  if (!text) return text.error();

  if (ctx_.state == session_state::disconnected) return errc::not_connected;
  auto id = ctx_.requests.start(*this, 0, now_ms + ctx_.config.request_timeout_ms);
  if (!id) return id;
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::attribute_request(topic, ctx_.config.wire.topics, *id);
  auto sent = topic_size ? ctx_.out.send({topic, *topic_size}, *text, ctx_.config.control_qos)
                         : result<delivery_ticket>(topic_size.error());
  if (!sent) {
    ctx_.requests.finish(*id, *this, 0);
    return sent.error();
  }
  return id;
}

bool attribute_request_engine::on_message(std::string_view topic, span<const std::byte> payload,
                                          std::uint32_t now_ms) noexcept {
  auto id = topics::parse_attribute_response(topic, ctx_.config.wire.topics);
  if (id.error() == errc::no_match) return false;
  if (!id) {
    ctx_.events.on_error(id.error(), topic);
    return true;
  }
  if (!ctx_.requests.finish(*id, *this, 0)) {
    ctx_.events.on_error(errc::unknown_request, as_text(payload));
    return true;
  }
  with_downlink_json(ctx_.config.wire, downlink::attribute_response, payload, [&](result<std::string_view> text) {
    auto doc = text ? json::value::parse(*text) : result<json::value>(text.error());
    json::value client = doc && doc->is_object() ? (*doc)["client"] : json::value{};
    json::value shared = doc && doc->is_object() ? (*doc)["shared"] : json::value{};
    if (!doc || !doc->is_object() || (client.present() && !client.is_object()) ||
        (shared.present() && !shared.is_object()))
      deliver(*id, errc::malformed, {}, {}, now_ms);
    else
      deliver(*id, errc{}, client, shared, now_ms);
  });
  return true;
}

void attribute_request_engine::on_request_ended(std::uint32_t id, std::uint8_t, errc e, std::uint32_t now_ms) noexcept {
  deliver(id, e, {}, {}, now_ms);
}

// The engine that asked (an extension such as OTA) takes its own answers; the rest go to the app.
void attribute_request_engine::deliver(std::uint32_t id, errc e, json::value client, json::value shared,
                                       std::uint32_t now_ms) noexcept {
  if (!ctx_.routes.attributes_response(id, e, client, shared, now_ms))
    ctx_.events.on_attributes_response(id, e, client, shared);
}

}  // namespace tbmqtt::detail
