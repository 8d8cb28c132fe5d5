// tbmqtt — detail: the attribute request engine: `v1/devices/me/attributes/request/{id}` out,
// `v1/devices/me/attributes/response/{id}` in; answers go to the engine that asked (an extension
// such as OTA) or else to the app.
#pragma once

#include <cstdint>
#include <string_view>

#include "tbmqtt/detail/request_table.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class attribute_request_engine final : public session_extension, request_owner {
 public:
  explicit attribute_request_engine(session_context& ctx) noexcept : ctx_(ctx) {}
  /// See session::request_attributes.
  [[nodiscard]] result<std::uint32_t> request(std::string_view client_keys, std::string_view shared_keys,
                                              std::uint32_t now_ms) noexcept;
  bool on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept override;
  void on_request_ended(std::uint32_t id, std::uint8_t tag, errc e, std::uint32_t now_ms) noexcept override;

 private:
  void deliver(std::uint32_t id, errc e, json::value client, json::value shared, std::uint32_t now_ms) noexcept;
  session_context& ctx_;
};

}  // namespace tbmqtt::detail
