#include "tbmqtt/detail/upload_engine.hpp"

#include "tbmqtt/detail/session_context.hpp"

namespace tbmqtt::detail {
namespace {

// True when `text` is valid JSON whose top-level value starts with one of `openers` ("{[" or
// "{"). One validating pass, no second scan.
bool is_json_of(std::string_view text, std::string_view openers) noexcept {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  return i < text.size() && openers.find(text[i]) != std::string_view::npos && json::validate(text).ok();
}

// A built payload (no re-validation; never allocates).
result<message_id> send_built(session_context& ctx, data_kind kind, result<std::string_view> text, qos q) noexcept {
  if (!text) return text.error();
  return ctx.out.send_data(kind, *text, q);
}

}  // namespace

// Text is validated here (a JSON object, or for telemetry also an array); built payloads are not.
result<message_id> upload_engine::telemetry(std::string_view json_text, qos q) noexcept {
  if (!is_json_of(json_text, "{[")) return errc::invalid_argument;
  return ctx_.out.send_data(data_kind::telemetry, json_text, q);
}

result<message_id> upload_engine::attributes(std::string_view json_text, qos q) noexcept {
  if (!is_json_of(json_text, "{")) return errc::invalid_argument;
  return ctx_.out.send_data(data_kind::attributes, json_text, q);
}

result<message_id> upload_engine::telemetry(telemetry_builder& payload, qos q) noexcept {
  return send_built(ctx_, data_kind::telemetry, payload.finish(), q);
}

result<message_id> upload_engine::attributes(attributes_builder& payload, qos q) noexcept {
  return send_built(ctx_, data_kind::attributes, payload.finish(), q);
}

}  // namespace tbmqtt::detail
