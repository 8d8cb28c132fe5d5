#include "tbmqtt/detail/upload_engine.hpp"

#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/wire_codec.hpp"

namespace tbmqtt::detail {
namespace {

// True when `text` is valid JSON whose top-level value starts with one of `openers` ("{[" or
// "{"). One validating pass, no second scan.
bool is_json_of(std::string_view text, std::string_view openers) noexcept {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  return i < text.size() && openers.find(text[i]) != std::string_view::npos && json::validate(text).ok();
}

// Protobuf payloads: the JSON encoded in the profile's schema (a stack buffer, only on this path).
[[gnu::noinline]] result<delivery_ticket> send_protobuf(session_context& ctx, data_kind kind,
                                                        std::string_view json_text, qos q) noexcept {
  std::byte buffer[TBMQTT_PROTOBUF_PAYLOAD_CAPACITY];
  // Stored telemetry carries its capture time when the schema has a `ts` (the queue stamps JSON).
  auto wire = encode_uplink(ctx.config.wire, kind == data_kind::telemetry ? uplink::telemetry : uplink::attributes,
                            json_text, buffer, ctx.out.capture_epoch_ms(kind, q));
  if (!wire) return wire.error();
  return ctx.out.send_data(kind, *wire, q);
}

result<delivery_ticket> send_json(session_context& ctx, data_kind kind, std::string_view json_text, qos q) noexcept {
  if (ctx.config.wire.protobuf()) return send_protobuf(ctx, kind, json_text, q);
  return ctx.out.send_data(kind, json_text, q);
}

// A built payload (no re-validation; never allocates).
result<delivery_ticket> send_built(session_context& ctx, data_kind kind, result<std::string_view> text,
                                   qos q) noexcept {
  if (!text) return text.error();
  return send_json(ctx, kind, *text, q);
}

}  // namespace

// Text is validated here (a JSON object, or for telemetry also an array); built payloads are not.
result<delivery_ticket> upload_engine::telemetry(std::string_view json_text, qos q) noexcept {
  if (!is_json_of(json_text, "{[")) return errc::invalid_argument;
  return send_json(ctx_, data_kind::telemetry, json_text, q);
}

result<delivery_ticket> upload_engine::attributes(std::string_view json_text, qos q) noexcept {
  if (!is_json_of(json_text, "{")) return errc::invalid_argument;
  return send_json(ctx_, data_kind::attributes, json_text, q);
}

result<delivery_ticket> upload_engine::telemetry(itelemetry& payload, qos q) noexcept {
  return send_built(ctx_, data_kind::telemetry, payload.finish(), q);
}

result<delivery_ticket> upload_engine::attributes(iattributes& payload, qos q) noexcept {
  return send_built(ctx_, data_kind::attributes, payload.finish(), q);
}

}  // namespace tbmqtt::detail
