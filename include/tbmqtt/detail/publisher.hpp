// tbmqtt — detail: the session's one outbound path. Every message an engine sends leaves
// through send() (capped at max_payload, counted by the rate limiter); telemetry and attributes
// leave through send_data(), which stores QoS 1 messages in the offline queue when one is set and
// paces them. Whether a message is telemetry (for the rate limits) is decided here, once.
#pragma once

#include <cstdint>
#include <string_view>

#include "tbmqtt/session_ports.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {
class offline_queue;
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
  /// @return The transport's id, or errc::payload_too_large, errc::not_connected (QoS 0 while
  /// disconnected), or the transport's error.
  [[nodiscard]] result<message_id> send(std::string_view topic, std::string_view payload, qos q) noexcept;
  /// @brief Telemetry or attributes (validated by the caller): through the offline queue for
  /// QoS 1 when one is set (the result is then its ticket), paced by the rate limiter.
  [[nodiscard]] result<message_id> send_data(data_kind kind, std::string_view payload, qos q) noexcept;
  /// True when a message on `topic` counts as telemetry for the rate limits.
  bool is_telemetry(std::string_view topic) const noexcept;

  void on_connected(std::uint32_t now_ms) noexcept;
  void on_puback(message_id id) noexcept;
  void tick(std::uint32_t now_ms) noexcept;
  /// Hands what waits in the offline queue to the transport, when ready and not held.
  void pump() noexcept;

  void set_queue(offline_queue* queue) noexcept;
  offline_queue* queue() const noexcept { return queue_; }
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
  session_context& ctx_;
  offline_queue* queue_ = nullptr;
  rate_limiter* limiter_ = nullptr;
  bool limits_pending_ = false;  // getSessionLimits asked, not answered: the queue waits
};

}  // namespace tbmqtt::detail
