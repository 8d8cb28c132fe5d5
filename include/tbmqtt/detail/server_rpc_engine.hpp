// tbmqtt — detail: the server-side RPC engine: requests on `v1/devices/me/rpc/request/{id}` for
// registered methods reach the app (unknown ones are answered with an error), and the app's
// answers go to `v1/devices/me/rpc/response/{id}` while the request is open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class server_rpc_engine final : public session_extension {
 public:
  explicit server_rpc_engine(session_context& ctx) noexcept : ctx_(ctx) {}
  /// See session::add_rpc_method, set_rpc_fallback and reply_rpc.
  [[nodiscard]] result<void> add_method(std::string_view method) noexcept;
  void set_fallback(bool on) noexcept;
  [[nodiscard]] result<delivery_ticket> reply(std::string_view request_id, std::string_view json_text) noexcept;

  bool on_message(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept override;
  void on_disconnected() noexcept override;
  void on_tick(std::uint32_t now_ms) noexcept override;

 private:
  struct open_request {
    char id[TBMQTT_RPC_ID_CAPACITY] = {};
    std::uint8_t id_size = 0;
    std::uint32_t expires_ms = 0;
    bool used = false;
  };
  void handle(std::string_view id, span<const std::byte> payload, std::uint32_t now_ms) noexcept;
  void handle_json(std::string_view id, result<std::string_view> text, std::uint32_t now_ms) noexcept;
  result<delivery_ticket> send_reply(std::string_view topic, std::string_view json_text) noexcept;
  void reply_error(std::string_view id, std::string_view prefix, std::string_view what) noexcept;
  session_context& ctx_;
  std::string_view methods_[TBMQTT_MAX_RPC_METHODS];
  std::size_t method_count_ = 0;
  bool fallback_ = false;
  open_request open_[TBMQTT_MAX_OPEN_SERVER_RPCS];
};

}  // namespace tbmqtt::detail
