#include "tbmqtt/detail/server_rpc_engine.hpp"

#include <cstring>

#include "tbmqtt/config.hpp"
#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/slice.hpp"
#include "tbmqtt/detail/wire_codec.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt::detail {
namespace {

constexpr std::size_t method_capacity = TBMQTT_RPC_METHOD_CAPACITY;

// The stack buffer exists only on the protobuf path.
[[gnu::noinline]] result<delivery_ticket> send_protobuf_reply(session_context& ctx, std::string_view topic,
                                                              std::string_view json_text, uplink kind) noexcept {
  std::byte buffer[TBMQTT_PROTOBUF_PAYLOAD_CAPACITY];
  auto wire = encode_uplink(ctx.config.wire, kind, json_text, buffer);
  if (!wire) return wire.error();
  return ctx.out.send(topic, *wire, ctx.config.control_qos);
}

// The text between the quotes of a JSON string value (escapes kept).
std::string_view raw_string(json::value v) noexcept { return slice(v.raw(), 1, v.raw().size() - 2); }

}  // namespace

result<void> server_rpc_engine::add_method(std::string_view method) noexcept {
  for (std::size_t i = 0; i < method_count_; ++i)
    if (methods_[i] == method) return {};
  if (method_count_ == TBMQTT_MAX_RPC_METHODS) return errc::queue_full;
  TBMQTT_TRY(ctx_.subscriptions.ensure(topics::rpc_request_filter_for(ctx_.config.wire.topics)));
  methods_[method_count_++] = method;
  return {};
}

void server_rpc_engine::set_fallback(bool on) noexcept {
  fallback_ = on;
  const std::string_view filter = topics::rpc_request_filter_for(ctx_.config.wire.topics);
  if (on && !ctx_.subscriptions.ensure(filter)) ctx_.events.on_error(errc::queue_full, filter);
}

result<delivery_ticket> server_rpc_engine::reply(std::string_view request_id, std::string_view json_text) noexcept {
  open_request* open = nullptr;
  for (auto& candidate : open_)
    if (candidate.used && std::string_view(candidate.id, candidate.id_size) == request_id) open = &candidate;
  if (open == nullptr) return errc::unknown_request;
  if (!json::validate(json_text)) return errc::invalid_argument;
  char topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_response(topic, ctx_.config.wire.topics, request_id);
  if (!topic_size) return topic_size.error();
  auto sent = send_reply({topic, *topic_size}, json_text);
  if (sent) open->used = false;  // on failure the app may try again
  return sent;
}

void server_rpc_engine::on_disconnected() noexcept {
  for (auto& open : open_) open.used = false;
}

void server_rpc_engine::on_tick(std::uint32_t now_ms) noexcept {
  for (auto& open : open_)
    if (open.used && time_reached(now_ms, open.expires_ms)) open.used = false;
}

bool server_rpc_engine::on_message(std::string_view topic, span<const std::byte> payload,
                                   std::uint32_t now_ms) noexcept {
  auto id = topics::parse_rpc_request(topic, ctx_.config.wire.topics);
  if (id.error() == errc::no_match) return false;
  if (!id)
    ctx_.events.on_error(id.error(), topic);
  else
    handle(*id, payload, now_ms);
  return true;
}

// `{"error":"<prefix><what>"}` to the request `id` (what is cut to fit).
void server_rpc_engine::reply_error(std::string_view id, std::string_view prefix, std::string_view what) noexcept {
  char reply_topic[TBMQTT_TOPIC_CAPACITY];
  auto topic_size = topics::rpc_response(reply_topic, ctx_.config.wire.topics, id);
  char message[128];
  what = slice(what, 0, sizeof message - prefix.size());
  std::memcpy(message, prefix.data(), prefix.size());
  std::memcpy(message + prefix.size(), what.data(), what.size());
  char body[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  json::writer w{body};
  w.begin_object().key("error").value(std::string_view(message, prefix.size() + what.size())).end_object();
  auto text = w.finish();
  if (!text) {  // the cut split a UTF-8 sequence: say less rather than nothing
    w.reset();
    w.begin_object().key("error").value(prefix).end_object();
    text = w.finish();
  }
  if (!text || !topic_size) return;
  if (!ctx_.config.wire.protobuf())
    (void)ctx_.out.send({reply_topic, *topic_size}, *text, ctx_.config.control_qos);
  else
    (void)send_protobuf_reply(ctx_, {reply_topic, *topic_size}, *text, uplink::rpc_error);
}

// The answer in the connection's format (protobuf: the profile's RPC response schema).
result<delivery_ticket> server_rpc_engine::send_reply(std::string_view topic, std::string_view json_text) noexcept {
  if (!ctx_.config.wire.protobuf()) return ctx_.out.send(topic, json_text, ctx_.config.control_qos);
  return send_protobuf_reply(ctx_, topic, json_text, uplink::rpc_reply);
}

void server_rpc_engine::handle(std::string_view id, span<const std::byte> payload, std::uint32_t now_ms) noexcept {
  with_downlink_json(ctx_.config.wire, downlink::rpc_request, payload,
                     [&](result<std::string_view> text) { handle_json(id, text, now_ms); });
}

void server_rpc_engine::handle_json(std::string_view id, result<std::string_view> text, std::uint32_t now_ms) noexcept {
  if (!text) {  // protobuf that does not decode in the profile's RPC request schema
    ctx_.events.on_error(text.error(), id);
    return reply_error(id, "malformed request", "");
  }
  auto doc = json::value::parse(*text);
  json::value method_value = doc ? (*doc)["method"] : json::value{};
  if (!method_value.is_string()) {
    ctx_.events.on_error(errc::malformed, *text);
    return reply_error(id, "malformed request", "");
  }
  // A registered name matches without unescaping (any length); other names are unescaped into
  // a buffer, or passed on as raw text when they do not fit.
  bool known = false;
  result<std::string_view> method = errc::no_match;
  for (std::size_t i = 0; i < method_count_ && !known; ++i)
    if (json::key_equals(raw_string(method_value), methods_[i])) {
      known = true;
      method = methods_[i];
    }
  char method_buffer[method_capacity];
  if (!known) {
    method = method_value.as_string(method_buffer);
    if (!method) method = raw_string(method_value);
    known = fallback_;
  }
  if (!known) {
    ctx_.events.on_error(errc::unknown_method, *method);
    return reply_error(id, "unknown method: ", *method);
  }
  // Remember the id so that the app can answer later; a resent persistent RPC reuses its slot.
  open_request* slot = nullptr;
  for (auto& open : open_)
    if (open.used && std::string_view(open.id, open.id_size) == id) slot = &open;
  for (auto& open : open_)
    if (slot == nullptr && !open.used) slot = &open;
  if (slot == nullptr) {
    ctx_.events.on_error(errc::queue_full, *method);
    return reply_error(id, "device busy: ", *method);
  }
  std::memcpy(slot->id, id.data(), id.size());  // parse_rpc_request bounds the size
  slot->id_size = static_cast<std::uint8_t>(id.size());
  slot->expires_ms = now_ms + ctx_.config.server_rpc_ttl_ms;
  slot->used = true;
  ctx_.events.on_rpc_request(rpc_request{id, *method, (*doc)["params"]});
}

}  // namespace tbmqtt::detail
