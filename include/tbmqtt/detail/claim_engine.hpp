// tbmqtt — detail: the claim engine: `{"secretKey":"s","durationMs":N}` to `v1/devices/me/claim`.
// No inbound topic (the PUBACK only means "queued").
#pragma once

#include <cstdint>
#include <string_view>

#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class claim_engine {
 public:
  explicit claim_engine(session_context& ctx) noexcept : ctx_(ctx) {}
  /// See session::claim.
  [[nodiscard]] result<delivery_ticket> claim(std::string_view secret_key, std::uint32_t duration_ms) noexcept;

 private:
  session_context& ctx_;
};

}  // namespace tbmqtt::detail
