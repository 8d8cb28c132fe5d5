// tbmqtt — detail: the shared-attribute subscription engine: pushes on
// `v1/devices/me/attributes` (`{"k":v}` or `{"deleted":["k"]}`) go to every extension, then to
// each app subscription whose key list matches.
#pragma once

#include <cstddef>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class shared_attributes_engine final : public session_extension {
 public:
  explicit shared_attributes_engine(session_context& ctx) noexcept : ctx_(ctx) {}
  /// See session::subscribe_shared_attributes.
  [[nodiscard]] result<std::size_t> subscribe(std::string_view keys) noexcept;
  bool on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept override;

 private:
  session_context& ctx_;
  std::string_view keys_[TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS];
  std::size_t count_ = 0;
};

}  // namespace tbmqtt::detail
