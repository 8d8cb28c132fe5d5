// tbmqtt — detail: the MQTT filters a session keeps subscribed, (re)subscribed on every connect,
// and the SUBACKs that make the session ready.
#pragma once

#include <cstddef>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class subscription_set {
 public:
  explicit subscription_set(session_context& ctx) noexcept : ctx_(ctx) {}
  /// @brief Keeps `filter` subscribed (subscribes now when connected). A filter already kept is ok.
  /// @pre `filter` outlives the session. @return ok, or errc::queue_full.
  [[nodiscard]] result<void> ensure(std::string_view filter) noexcept;
  /// CONNACK: subscribes every filter.
  void subscribe_all() noexcept;
  /// The connection is gone: no SUBACK is awaited any more.
  void forget_pending() noexcept;
  /// @brief A SUBACK (a refusal is reported through on_error with the filter).
  /// @return true when it was one of ours.
  bool on_suback(message_id id, std::uint8_t granted) noexcept;
  /// True when no SUBACK is awaited.
  bool all_granted() const noexcept;

 private:
  struct entry {
    std::string_view filter;
    message_id packet_id = 0;
    bool pending = false;
  };
  void subscribe(entry& e) noexcept;
  session_context& ctx_;
  entry entries_[TBMQTT_MAX_SUBSCRIPTIONS];
  std::size_t count_ = 0;
};

}  // namespace tbmqtt::detail
