// tbmqtt — detail: the client-side RPC engine: calls on `v1/devices/me/rpc/request/{id}` as
// `{"method":"m","params":..}`, answers on `v1/devices/me/rpc/response/{id}`; also asks the
// server's limits (getSessionLimits) for the publisher.
#pragma once

#include <cstdint>
#include <string_view>

#include "tbmqtt/detail/request_table.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class client_rpc_engine final : public session_extension, request_owner {
 public:
  explicit client_rpc_engine(session_context& ctx) noexcept : ctx_(ctx) {}
  /// See session::call_rpc and notify_rpc.
  [[nodiscard]] result<std::uint32_t> call(std::string_view method, std::string_view params_json,
                                           std::uint32_t now_ms) noexcept;
  [[nodiscard]] result<delivery_ticket> notify(std::string_view method, std::string_view params_json) noexcept;
  /// Asks getSessionLimits; the answer goes to the publisher (which holds its queue meanwhile).
  void ask_session_limits() noexcept;

  bool on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept override;
  void on_request_ended(std::uint32_t id, std::uint8_t tag, errc e, std::uint32_t now_ms) noexcept override;

 private:
  result<delivery_ticket> send(std::uint32_t id, std::string_view method, std::string_view params_json) noexcept;
  session_context& ctx_;
};

}  // namespace tbmqtt::detail
