#include "tbmqtt/detail/publisher.hpp"

#include "tbmqtt/detail/session_context.hpp"
#include "tbmqtt/detail/wire_codec.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/payload.hpp"
#include "tbmqtt/rate_limit.hpp"

namespace tbmqtt::detail {

bool publisher::is_telemetry(std::string_view topic) const noexcept { return tbmqtt::is_telemetry(ctx_.config, topic); }

delivery_slot* publisher::find(message_id packet_id) noexcept {
  if (slots_.size() > 0xFFFFu) {  // one slot per packet id
    delivery_slot& s = slots_[packet_id];
    return s.state != 0 ? &s : nullptr;
  }
  for (delivery_slot& s : slots_)
    if (s.state != 0 && s.packet_id == packet_id) return &s;
  return nullptr;
}

void publisher::track(message_id packet_id, delivery_ticket ticket, qos q) noexcept {
  delivery_slot* slot = find(packet_id);
  if (slot != nullptr) {
    // The transport gave the id of a message still tracked to a new one: the older one's
    // acknowledgement can no longer be told apart, so it is reported lost.
    const delivery_ticket older = slot->ticket;
    slot->ticket = ticket;
    slot->state = q == qos::at_most_once ? 2 : 1;
    return report(older, errc::disconnected);
  }
  if (slots_.size() > 0xFFFFu) {
    slot = &slots_[packet_id];
  } else {
    for (delivery_slot& s : slots_)
      if (s.state == 0) {
        slot = &s;
        break;
      }
  }
  *slot = {ticket, packet_id, static_cast<std::uint8_t>(q == qos::at_most_once ? 2 : 1)};
  ++used_;
}

void publisher::report(delivery_ticket ticket, errc e) noexcept { ctx_.events.on_delivered(ticket, e); }

void publisher::set_slots(span<delivery_slot> slots) noexcept {
  TBMQTT_EXPECTS(used_ == 0 && slots.size() > 0);
  slots_ = slots;
  for (delivery_slot& s : slots_) s = delivery_slot{};
}

result<delivery_ticket> publisher::send(std::string_view topic, std::string_view payload, qos q) noexcept {
  if (payload.size() > ctx_.config.max_payload) return errc::payload_too_large;
  // QoS 1 goes to the transport even offline: it may queue it until the next connection.
  if (ctx_.state == session_state::disconnected && q == qos::at_most_once) return errc::not_connected;
  if (used_ == slots_.size()) return errc::again;  // every slot waits for an outcome
  auto sent = ctx_.port.publish(topic, as_bytes(payload), q);
  if (!sent) return sent.error();
  if (limiter_ != nullptr && limiter_->active()) {
    const bool telemetry = is_telemetry(topic);
    limiter_->take(telemetry, telemetry ? telemetry_data_points(ctx_.config.wire, payload) : 0, ctx_.now_ms);
  }
  const delivery_ticket ticket = next_ticket();
  track(*sent, ticket, q);
  return ticket;
}

bool publisher::rate_limited(bool telemetry, std::string_view payload) noexcept {
  if (limiter_ == nullptr || !limiter_->active()) return false;
  return limiter_->wait_ms(telemetry, telemetry ? telemetry_data_points(ctx_.config.wire, payload) : 0, ctx_.now_ms) >
         0;
}

std::uint64_t publisher::capture_epoch_ms(data_kind kind, qos q) const noexcept {
  if (queue_ == nullptr || q != qos::at_least_once || kind != data_kind::telemetry) return 0;
  const auto clock = queue_->config().epoch_ms;
  return clock != nullptr ? clock() : 0;
}

result<delivery_ticket> publisher::send_data(data_kind kind, std::string_view payload, qos q) noexcept {
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
  // The queue's sequence numbers come from the one ticket counter (it skips those sent directly).
  queue_->skip_to(next_ticket_);
  auto dropped = [this](std::uint64_t sequence, errc e) { report(ticket_of(sequence), e); };
  // A protobuf message is stored as it is: its encoder put the capture time in when the schema
  // can carry one (capture_epoch_ms()); the queue's stamping is for JSON.
  auto sequence = queue_->push(kind == data_kind::attributes ? stored_topic::attributes : stored_topic::telemetry,
                               payload, dropped, ctx_.config.wire.protobuf() ? ioffline_queue::as_is : 0);
  if (!sequence) return sequence.error();
  next_ticket_ = *sequence + 1;
  pump();
  return ticket_of(*sequence);
}

void publisher::on_connected(std::uint32_t now_ms) noexcept {
  paced_ = false;
  if (queue_ != nullptr) queue_->on_connected(now_ms);
}

void publisher::on_disconnected() noexcept {
  // A QoS 0 message not written yet goes down with the connection (no transport writes it later).
  for (delivery_slot& s : slots_) {
    if (s.state != 2) continue;
    s.state = 0;
    --used_;
    report(s.ticket, errc::disconnected);
  }
}

void publisher::on_puback(message_id id) noexcept {
  if (queue_ != nullptr) {
    if (auto sequence = queue_->erase(id)) {
      report(ticket_of(*sequence), errc{});
      return pump();
    }
  }
  delivery_slot* slot = find(id);
  if (slot == nullptr) return;  // not ours (or already reported lost)
  slot->state = 0;
  --used_;
  report(slot->ticket, errc{});
}

void publisher::on_publish_failed(message_id id, errc e) noexcept {
  delivery_slot* slot = find(id);
  if (slot == nullptr) return;  // a stored message stays stored: it is sent again after a reconnect
  slot->state = 0;
  --used_;
  report(slot->ticket, e);
}

void publisher::abandon(errc e) noexcept {
  for (delivery_slot& s : slots_) {
    if (s.state == 0) continue;
    s.state = 0;
    --used_;
    report(s.ticket, e);
  }
}

void publisher::tick(std::uint32_t now_ms) noexcept {
  if (queue_ != nullptr) queue_->tick(now_ms);  // the group commit's bounded wait
  pump();                                       // transport busy earlier, a commit, or a resend deadline passed
}

void publisher::pump() noexcept {
  if (queue_ == nullptr || ctx_.state != session_state::ready || limits_pending_) return;
  const std::uint32_t now = ctx_.now_ms;
  if (paced_ && !time_reached(now, paced_until_ms_)) return;
  paced_ = false;
  auto dropped = [this](std::uint64_t sequence, errc e) { report(ticket_of(sequence), e); };
  stored_message m;
  while (queue_->retrieve(now, m, dropped)) {
    const std::string_view topic =
        m.topic == stored_topic::attributes ? ctx_.config.attributes_topic : ctx_.config.telemetry_topic;
    const bool telemetry = is_telemetry(topic);
    std::uint32_t points = 0;
    if (limiter_ != nullptr && limiter_->active()) {
      points = telemetry ? telemetry_data_points(ctx_.config.wire, m.payload) : 0;
      if (const std::uint32_t wait = limiter_->wait_ms(telemetry, points, now); wait > 0) {
        paced_ = true;
        paced_until_ms_ = now + wait;
        return;
      }
    }
    auto sent = ctx_.port.publish(topic, as_bytes(m.payload), qos::at_least_once);
    if (!sent) {
      const errc e = sent.error();
      // Tried again later: the transport is busy, offline, short of memory, or not started yet
      // (or stopped) — none of them is the message's fault.
      if (e == errc::again || e == errc::not_connected || e == errc::out_of_memory || e == errc::not_open) return;
      queue_->give_up(m.sequence, sent.error(), dropped);  // the transport refuses it as it is
      continue;
    }
    if (limiter_ != nullptr) limiter_->take(telemetry, points, now);
    queue_->mark_in_flight(m.sequence, *sent);
  }
}

void publisher::set_queue(ioffline_queue* queue) noexcept {
  queue_ = queue;
  if (queue_ != nullptr && next_ticket_ < queue_->next_sequence()) next_ticket_ = queue_->next_sequence();
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
