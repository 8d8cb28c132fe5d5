// tbmqtt — pacing to ThingsBoard's rate limits. The server announces limits such as
// "10:1,300:60" (at most 10 per second and 300 per minute) for messages, telemetry messages and
// telemetry data points (getSessionLimits), and closes the session of a device that goes over
// one. A rate_limiter tells how long to wait before the next message so that never happens.
// Time comes from the caller (now_ms), like everywhere in the core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

/// One rule "capacity:seconds": at most `capacity` per `period_ms`.
struct rate_rule {
  std::uint32_t capacity = 0;
  std::uint32_t period_ms = 0;
};

/// @brief Parses "10:1,300:60" (capacity:seconds, comma-separated, spaces allowed around items).
/// "" and "null" mean no rule.
/// @return How many rules were written to `out`, or errc::invalid_argument (not that syntax, a
/// zero, or a number over 2^32/1000 seconds), errc::queue_full (more rules than `out` holds).
[[nodiscard]] result<std::size_t> parse_rate_rules(std::string_view text, span<rate_rule> out) noexcept;

/// @brief A token bucket that keeps one rule against any server-side window (fixed, sliding or a
/// token bucket of its own): in every interval of the rule's period (plus a margin of 5 % + 50
/// ms for network jitter) it lets through at most `capacity` units. It starts full with a burst
/// of max(1, capacity/2) units and refills capacity + 1 - burst units per period.
/// A single cost larger than the burst waits for a full bucket and then goes, leaving a debt
/// that later sends repay (that one interval may exceed the rule by cost - burst).
class rate_bucket {
 public:
  /// @pre rule.capacity > 0 and rule.period_ms > 0.
  void configure(rate_rule rule, std::uint32_t now_ms) noexcept;
  /// @return Milliseconds until `cost` units may go (0: now).
  std::uint32_t wait_ms(std::uint32_t cost, std::uint32_t now_ms) noexcept;
  /// Takes `cost` units (call when wait_ms() said 0).
  void take(std::uint32_t cost, std::uint32_t now_ms) noexcept;
  rate_rule rule() const noexcept { return rule_; }

 private:
  void refill(std::uint32_t now_ms) noexcept;
  std::int64_t needed(std::uint32_t cost) const noexcept;
  rate_rule rule_{};
  std::int64_t level_ = 0;    // in units of 1/period: one token is `period_` units
  std::int64_t full_ = 0;     // burst * period_
  std::uint32_t period_ = 0;  // the rule's period with the margin, ms
  std::uint32_t refill_ = 0;  // units per ms: capacity + 1 - burst
  std::uint32_t last_ms_ = 0;
};

/// ThingsBoard's three device limits (getSessionLimits' `rateLimits` members).
enum class rate_limit_kind : std::uint8_t {
  messages,              ///< "messages": every message the device publishes.
  telemetry_messages,    ///< "telemetryMessages": telemetry messages.
  telemetry_data_points  ///< "telemetryDataPoints": keys in telemetry values.
};

/// @brief All three limits, each up to TBMQTT_MAX_RATE_RULES rules. No rules: no waiting.
class rate_limiter {
 public:
  /// @brief Replaces the rules of `kind` ("10:1,300:60"; "" or "null": none). Buckets start full.
  /// @return ok, or the errors of parse_rate_rules (the old rules then stay).
  [[nodiscard]] result<void> set(rate_limit_kind kind, std::string_view rules, std::uint32_t now_ms) noexcept;
  /// @brief Milliseconds until one message may go (0: now): `telemetry` with `data_points` keys,
  /// or any other message (telemetry false).
  std::uint32_t wait_ms(bool telemetry, std::uint32_t data_points, std::uint32_t now_ms) noexcept;
  /// @brief Counts one message that went (whether or not it waited: messages that cannot wait,
  /// such as RPC replies, are counted too and delay the next ones).
  void take(bool telemetry, std::uint32_t data_points, std::uint32_t now_ms) noexcept;
  /// True when any kind has rules.
  bool active() const noexcept;
  /// Rules of `kind` now in force.
  span<const rate_bucket> buckets(rate_limit_kind kind) const noexcept;

 private:
  struct limit {
    rate_bucket buckets[TBMQTT_MAX_RATE_RULES];
    std::size_t count = 0;
  };
  std::uint32_t cost(rate_limit_kind kind, bool telemetry, std::uint32_t data_points) const noexcept;
  limit limits_[3];
};

/// @brief Data points in a telemetry payload as ThingsBoard counts them: the keys of `{..}` or
/// of `values` in `{"ts":..,"values":{..}}`, summed over an array of those. 0 for anything else.
std::uint32_t count_data_points(std::string_view telemetry_json) noexcept;

}  // namespace tbmqtt
