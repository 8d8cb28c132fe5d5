#include "tbmqtt/detail/client_rpc_engine.hpp"

#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/wire_codec.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt::detail {
namespace {
// Request tags: the app's calls, and the publisher's getSessionLimits.
constexpr std::uint8_t tag_call = 0;
constexpr std::uint8_t tag_limits = 1;
}  // namespace

result<delivery_ticket> client_rpc_engine::send(std::uint32_t id, std::string_view method,
                                                std::string_view params_json) noexcept {
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_request(topic, ctx_.config.wire.topics, id);
  if (!topic_size) return topic_size.error();
  char payload[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  json::writer w{payload};
  w.begin_object().key("method").value(method).key("params");
  if (params_json.empty())
    w.begin_object().end_object();
  else
    w.raw(params_json);
  w.end_object();
  auto json_text = w.finish();
  if (!json_text) return json_text.error();
  std::byte wire_buffer[TBMQTT_REQUEST_PAYLOAD_CAPACITY];  // transportapi.RpcRequest is smaller than its JSON
  auto text = encode_uplink(ctx_.config.wire, uplink::rpc_call, *json_text, wire_buffer);
  if (!text) return text.error();
  return ctx_.out.send({topic, *topic_size}, *text, ctx_.config.control_qos);
}

result<std::uint32_t> client_rpc_engine::call(std::string_view method, std::string_view params_json,
                                              std::uint32_t now_ms) noexcept {
  if (!params_json.empty() && !json::validate(params_json)) return errc::invalid_argument;
  if (ctx_.state == session_state::disconnected) return errc::not_connected;
  auto id = ctx_.requests.start(*this, tag_call, now_ms + ctx_.config.request_timeout_ms);
  if (!id) return id;
  if (auto sent = send(*id, method, params_json); !sent) {
    ctx_.requests.finish(*id, *this, tag_call);
    return sent.error();
  }
  return id;
}

result<delivery_ticket> client_rpc_engine::notify(std::string_view method, std::string_view params_json) noexcept {
  if (!params_json.empty() && !json::validate(params_json)) return errc::invalid_argument;
  // A one-way call still needs a fresh id in the topic; take one from the same counter.
  return send(ctx_.requests.take_id(), method, params_json);
}

void client_rpc_engine::ask_session_limits() noexcept {
  if (ctx_.state == session_state::disconnected) return;
  auto id = ctx_.requests.start(*this, tag_limits, ctx_.now_ms + ctx_.config.request_timeout_ms);
  if (!id) return;  // no free slot: pace by the rules already set
  if (!send(*id, "getSessionLimits", "{}")) {
    ctx_.requests.finish(*id, *this, tag_limits);
    return;
  }
  ctx_.out.hold_for_limits();
}

bool client_rpc_engine::on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t) noexcept {
  auto id = topics::parse_rpc_response(topic, ctx_.config.wire.topics);
  if (id.error() == errc::no_match) return false;
  if (!id) {
    ctx_.events.on_error(id.error(), topic);
    return true;
  }
  with_downlink_json(ctx_.config.wire, downlink::rpc_response, payload, [&](result<std::string_view> text) {
    if (ctx_.requests.finish(*id, *this, tag_limits)) {
      ctx_.out.release_limits(text ? as_bytes(*text) : span<const std::byte>{}, text.ok());
      return;
    }
    if (!ctx_.requests.finish(*id, *this, tag_call)) {
      ctx_.events.on_error(errc::unknown_request, text ? *text : topic);
      return;
    }
    auto doc = text ? json::value::parse(*text) : result<json::value>(text.error());
    if (!doc) {
      ctx_.events.on_rpc_response(*id, errc::malformed, {});
      return;
    }
    const bool is_error = doc->is_object() && doc->size() == 1 && (*doc)["error"].present();
    ctx_.events.on_rpc_response(*id, is_error ? errc::server_error : errc{}, *doc);
  });
  return true;
}

void client_rpc_engine::on_request_ended(std::uint32_t id, std::uint8_t tag, errc e, std::uint32_t) noexcept {
  if (tag == tag_limits)  // not answered: pace by the rules already set
    ctx_.out.release_limits({}, false);
  else
    ctx_.events.on_rpc_response(id, e, {});
}

}  // namespace tbmqtt::detail
