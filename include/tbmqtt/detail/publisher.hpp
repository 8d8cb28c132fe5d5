// tbmqtt — detail: the session's one outbound path, and the owner of message ids. Every message
// an engine sends leaves through send() (capped at max_payload, counted by the rate limiter);
// telemetry and attributes leave through send_data(), which stores QoS 1 messages in the offline
// queue when one is set, then hands them to the transport from there (picking their topic and
// pacing them). Every message gets a delivery ticket from one counter, whatever is configured,
// and its outcome is reported once, as session_events::on_delivered(ticket, errc). Transport
// packet ids are mapped to tickets here (messages sent directly: a table of slots; messages of
// the offline queue: the queue's in-flight window). Whether a message is telemetry (for the rate
// limits) is decided here, once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"  // TBMQTT_MAX_IN_FLIGHT
#include "tbmqtt/session_ports.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {
class ioffline_queue;
class rate_limiter;
}  // namespace tbmqtt

namespace tbmqtt::detail {

struct session_context;

/// Which data topic a telemetry/attributes upload goes to.
enum class data_kind : std::uint8_t { telemetry, attributes };

class publisher {
 public:
  explicit publisher(session_context& ctx) noexcept : ctx_(ctx) {}
  /// @brief Publishes `payload` on `topic`. QoS 1 goes to the transport even while disconnected.
  /// @return The message's ticket, or errc::payload_too_large, errc::not_connected (QoS 0 while
  /// disconnected), errc::again (every delivery slot waits for an outcome), or the transport's error.
  [[nodiscard]] result<delivery_ticket> send(std::string_view topic, std::string_view payload, qos q) noexcept;
  /// @brief Telemetry or attributes (validated by the caller): through the offline queue for
  /// QoS 1 when one is set, paced by the rate limiter. The result is a ticket either way.
  [[nodiscard]] result<delivery_ticket> send_data(data_kind kind, std::string_view payload, qos q) noexcept;
  /// True when a message on `topic` counts as telemetry for the rate limits.
  bool is_telemetry(std::string_view topic) const noexcept;
  /// @brief The capture time (ms since 1970, the offline queue's epoch_ms clock) of a message
  /// send_data() is about to store: telemetry at QoS 1 with an offline queue whose clock is known;
  /// 0 otherwise (sent directly: the server stamps it on arrival). A protobuf payload is stamped
  /// by its encoder with this (detail::encode_uplink), as the queue stamps JSON itself.
  std::uint64_t capture_epoch_ms(data_kind kind, qos q) const noexcept;

  void on_connected(std::uint32_t now_ms) noexcept;
  void on_disconnected() noexcept;
  /// The transport's acknowledgement (QoS 1 PUBACK, QoS 0 written) for packet `id`.
  void on_puback(message_id id) noexcept;
  /// The transport gave up on packet `id` (e.g. it expired from its outbox).
  void on_publish_failed(message_id id, errc e) noexcept;
  /// Ends every tracked direct message with `e` (the owner stops: errc::cancelled).
  void abandon(errc e) noexcept;
  void tick(std::uint32_t now_ms) noexcept;
  /// Hands what waits in the offline queue to the transport, when ready, not held and paced.
  void pump() noexcept;

  /// Messages sent directly whose outcome is not known yet (the offline queue counts its own).
  std::size_t unacknowledged() const noexcept { return used_; }
  /// @pre Nothing is tracked (unacknowledged() == 0). A table of 65536 slots or more maps every
  /// packet id directly.
  void set_slots(span<delivery_slot> slots) noexcept;

  void set_queue(ioffline_queue* queue) noexcept;
  ioffline_queue* queue() const noexcept { return queue_; }
  void set_limiter(rate_limiter* limiter) noexcept { limiter_ = limiter; }
  /// With a limiter and learn_session_limits: the server's limits are to be asked on connect.
  bool wants_session_limits() const noexcept;
  /// getSessionLimits was asked: the queue waits for the answer.
  void hold_for_limits() noexcept { limits_pending_ = true; }
  /// The answer (`payload`; empty when it timed out or the connection dropped): applies it and
  /// lets the queue go.
  void release_limits(span<const std::byte> payload, bool answered) noexcept;

 private:
  bool rate_limited(bool telemetry, std::string_view payload) noexcept;
  void apply_session_limits(span<const std::byte> payload) noexcept;
  delivery_ticket next_ticket() noexcept { return ticket_of(next_ticket_++); }
  delivery_slot* find(message_id packet_id) noexcept;
  void track(message_id packet_id, delivery_ticket ticket, qos q) noexcept;
  void report(delivery_ticket ticket, errc e) noexcept;
  session_context& ctx_;
  ioffline_queue* queue_ = nullptr;
  rate_limiter* limiter_ = nullptr;
  bool limits_pending_ = false;  // getSessionLimits asked, not answered: the queue waits
  bool paced_ = false;           // a rate limit said to wait until paced_until_ms_
  std::uint32_t paced_until_ms_ = 0;
  std::uint64_t next_ticket_ = 0;  // the one counter (also the offline queue's sequence numbers): ticket_of()
  std::size_t used_ = 0;
  delivery_slot own_slots_[TBMQTT_MAX_IN_FLIGHT];
  span<delivery_slot> slots_{own_slots_};
};

}  // namespace tbmqtt::detail
