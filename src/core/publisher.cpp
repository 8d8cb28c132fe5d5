#include "tbmqtt/detail/publisher.hpp"

#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/payload.hpp"
#include "tbmqtt/rate_limit.hpp"

namespace tbmqtt::detail {

bool publisher::is_telemetry(std::string_view topic) const noexcept { return tbmqtt::is_telemetry(ctx_.config, topic); }

result<message_id> publisher::send(std::string_view topic, std::string_view payload, qos q) noexcept {
  if (payload.size() > ctx_.config.max_payload) return errc::payload_too_large;
  // QoS 1 goes to the transport even offline: it may queue it until the next connection.
  if (ctx_.state == session_state::disconnected && q == qos::at_most_once) return errc::not_connected;
  auto sent = ctx_.port.publish(topic, as_bytes(payload), q);
  if (sent && limiter_ != nullptr && limiter_->active()) {
    const bool telemetry = is_telemetry(topic);
    limiter_->take(telemetry, telemetry ? count_data_points(payload) : 0, ctx_.now_ms);
  }
  return sent;
}

bool publisher::rate_limited(bool telemetry, std::string_view payload) noexcept {
  if (limiter_ == nullptr || !limiter_->active()) return false;
  return limiter_->wait_ms(telemetry, telemetry ? count_data_points(payload) : 0, ctx_.now_ms) > 0;
}

result<message_id> publisher::send_data(data_kind kind, std::string_view payload, qos q) noexcept {
  const std::string_view topic =
      kind == data_kind::attributes ? ctx_.config.attributes_topic : ctx_.config.telemetry_topic;
  const bool queued = queue_ != nullptr && q == qos::at_least_once;
  // Asked not to wait: over the limit, or behind queued messages that wait for it.
  if (ctx_.config.fail_when_rate_limited && ctx_.state == session_state::ready &&
      ((queued && limiter_ != nullptr && limiter_->active() && queue_->has_unsent()) ||
       rate_limited(is_telemetry(topic), payload)))
    return errc::again;
  if (!queued) return send(topic, payload, q);
  if (payload.size() > ctx_.config.max_payload) return errc::payload_too_large;
  auto ticket = queue_->push(kind == data_kind::attributes ? stored_topic::attributes : stored_topic::telemetry,
                             payload, ctx_.events);
  if (ticket) pump();
  return ticket;
}

void publisher::on_connected(std::uint32_t now_ms) noexcept {
  if (queue_ != nullptr) queue_->on_connected(now_ms);
}

void publisher::on_puback(message_id id) noexcept {
  if (queue_ != nullptr && queue_->acknowledge(id, ctx_.events)) pump();
  ctx_.events.on_delivered(id);
}

void publisher::tick(std::uint32_t now_ms) noexcept {
  if (queue_ != nullptr) queue_->tick(now_ms);  // the group commit's bounded wait
  pump();                                       // transport busy earlier, a commit, or a resend deadline passed
}

void publisher::pump() noexcept {
  if (queue_ != nullptr && ctx_.state == session_state::ready && !limits_pending_)
    queue_->pump(ctx_.port, ctx_.config, ctx_.now_ms, ctx_.events, limiter_);
}

void publisher::set_queue(offline_queue* queue) noexcept {
  queue_ = queue;
  pump();
}

bool publisher::wants_session_limits() const noexcept {
  return limiter_ != nullptr && ctx_.config.learn_session_limits;
}

void publisher::release_limits(span<const std::byte> payload, bool answered) noexcept {
  limits_pending_ = false;
  if (answered && limiter_ != nullptr) apply_session_limits(payload);
  pump();
}

// `{"maxPayloadSize":N,"rateLimits":{"messages":"10:1,...","telemetryMessages":..,
// "telemetryDataPoints":..}}`; a limit that is null or absent is removed, a bad one kept as it was.
void publisher::apply_session_limits(span<const std::byte> payload) noexcept {
  auto doc = json::value::parse(as_text(payload));
  if (!doc || !doc->is_object()) return ctx_.events.on_error(errc::malformed, as_text(payload));
  if (auto max = (*doc)["maxPayloadSize"].as_int(); max && *max > 0)
    ctx_.config.max_payload = static_cast<std::size_t>(*max);
  const json::value limits = (*doc)["rateLimits"];
  constexpr std::string_view names[] = {"messages", "telemetryMessages", "telemetryDataPoints"};
  for (std::size_t i = 0; i < 3; ++i) {
    const json::value rule = limits[names[i]];
    char text[64];
    auto rules = rule.is_string() ? rule.as_string(text) : result<std::string_view>(std::string_view{});
    if (!rules || !limiter_->set(static_cast<rate_limit_kind>(i), *rules, ctx_.now_ms))
      ctx_.events.on_error(errc::malformed, names[i]);
  }
  limiter_->take(false, 0, ctx_.now_ms);  // the getSessionLimits request itself was a message
}

}  // namespace tbmqtt::detail
