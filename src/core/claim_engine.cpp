#include "tbmqtt/detail/claim_engine.hpp"

#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/wire_codec.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt::detail {

result<delivery_ticket> claim_engine::claim(std::string_view secret_key, std::uint32_t duration_ms) noexcept {
  char buffer[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  json::writer w{buffer};
  w.begin_object();
  if (!secret_key.empty()) w.key("secretKey").value(secret_key);
  if (duration_ms != 0) w.key("durationMs").value(duration_ms);
  w.end_object();
  auto text = w.finish();
  if (!text) return text.error();
  std::byte wire_buffer[TBMQTT_REQUEST_PAYLOAD_CAPACITY];  // transportapi.ClaimDevice is smaller than its JSON
  auto wire = encode_uplink(ctx_.config.wire, uplink::claim, *text, wire_buffer);
  if (!wire) return wire.error();
  return ctx_.out.send(topics::claim, *wire, ctx_.config.control_qos);
}

}  // namespace tbmqtt::detail
