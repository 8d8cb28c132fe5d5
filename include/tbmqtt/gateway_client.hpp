// tbmqtt — the gateway API of the device client, the same on every platform: reached through
// client::gateway() on Linux and esp_client::gateway() on ESP-IDF (tbmqtt/gateway.hpp's engine on
// the client's session, with std::function handlers and owned copies, as tbmqtt/device_api.hpp).
// Same threading contract as the client: callbacks run on the client's thread (task); every
// method may be called from any thread (task), also from a callback. Hosted C++ (std::string,
// std::function), no OS headers; the protocol core never uses it.
//
//     tbmqtt::client gw{options};                       // the gateway device's credentials
//     auto& sub = gw.gateway();                          // before connect(): subscribed with it
//     (void)sub.on_rpc("thermostat-1", [&](const tbmqtt::gateway_rpc& rpc) {
//       (void)sub.reply_rpc(rpc.device, rpc.id, "{\"ok\":true}");
//     });
//     if (auto r = gw.connect(std::chrono::seconds(10)); !r) return fail(r.error());
//     (void)sub.connect_device("thermostat-1", "thermostat");
//     auto ticket = sub.send_telemetry("thermostat-1", "{\"temp\":21.5}");   // its delivery ticket
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tbmqtt/device_api.hpp"  // delivery_callback
#include "tbmqtt/errc.hpp"
#include "tbmqtt/gateway.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/session_ports.hpp"  // delivery_ticket

namespace tbmqtt {

namespace detail {
class gateway_state;  // src/platform/common/gateway_state.hpp
}  // namespace detail

/// @brief A server RPC for a sub-device; owned copies, so it may be kept and answered later.
struct gateway_rpc {
  std::string device;    ///< Sub-device name; pass to gateway_client::reply_rpc.
  std::uint32_t id = 0;  ///< Pass to gateway_client::reply_rpc.
  std::string method;
  std::string params_json;  ///< Raw JSON of `params` ("" when absent).
};

/// @brief The sub-device side of a client whose device is a ThingsBoard gateway. Obtain it with
/// client::gateway() or esp_client::gateway(); it lives as long as the client. Errors nobody
/// waits for (malformed or unknown-device pushes and RPCs, unknown answer ids) go to the client's
/// on_error handler. Messages are named by their delivery ticket, as the client's send_* name
/// theirs: the same counter, the same outcome callbacks (`on_delivered`). When esp_client::gateway()
/// cannot allocate one it returns a gateway whose every call fails with errc::out_of_memory.
class gateway_client {
 public:
  using delivery_callback = tbmqtt::delivery_callback;
  using rpc_handler = std::function<void(const gateway_rpc&)>;
  /// `device` and `data` (`{"k":v}` or `{"deleted":[..]}`) are valid during the call.
  using update_handler = std::function<void(std::string_view device, json::value data)>;
  /// `values`: an object of the values found (`{}` when none), valid during the call.
  using attributes_callback = std::function<void(errc, json::value values)>;

  gateway_client(const gateway_client&) = delete;
  gateway_client& operator=(const gateway_client&) = delete;

  /// @brief Connects sub-device `name` (optional `type`); it stays connected across reconnects
  /// until disconnect_device(). See igateway::connect_device. No ticket: the announcement is sent
  /// now when connected, else when the session is ready, and again after every reconnect.
  /// @return ok, or errc::invalid_argument (empty name), errc::not_enough_space (name or type too
  /// long), errc::queue_full (too many sub-devices), errc::again.
  [[nodiscard]] result<void> connect_device(std::string_view name, std::string_view type = {});
  /// @brief Disconnects sub-device `name` (sent only while connected: offline the server forgot
  /// it already). @return ok, errc::invalid_argument (empty name), errc::again.
  [[nodiscard]] result<void> disconnect_device(std::string_view name);
  bool is_connected(std::string_view name) const;

  /// @brief Telemetry of one sub-device (`{..}`, `{"ts":..,"values":{..}}` or an array of those),
  /// or a built multi-device payload. QoS 1; its outcome reaches `on_delivered` once, as with
  /// client::send_telemetry.
  /// @return The message's delivery ticket, or errc::invalid_argument, errc::payload_too_large,
  /// errc::not_enough_space, errc::again.
  [[nodiscard]] result<delivery_ticket> send_telemetry(std::string_view device, std::string_view json_text,
                                                       delivery_callback on_delivered = {});
  [[nodiscard]] result<delivery_ticket> send_telemetry(igateway_telemetry& payload,
                                                       delivery_callback on_delivered = {});
  /// @brief Client attributes (a JSON object) of one sub-device, or a built multi-device payload.
  /// @return The message's delivery ticket, or the errors of send_telemetry.
  [[nodiscard]] result<delivery_ticket> send_attributes(std::string_view device, std::string_view json_text,
                                                        delivery_callback on_delivered = {});
  [[nodiscard]] result<delivery_ticket> send_attributes(igateway_attributes& payload,
                                                        delivery_callback on_delivered = {});

  /// @brief Reads `keys` ("a,b") of `device` in `scope`. `done` gets errc{} and an object of the
  /// values found, or errc::timeout, errc::disconnected, errc::malformed, errc::wrong_type,
  /// errc::cancelled (client destroyed).
  /// @return The request id (as client::request_attributes), or errc::invalid_argument (no device
  /// or key), errc::not_connected, errc::queue_full.
  [[nodiscard]] result<std::uint32_t> request_attributes(std::string_view device, attribute_scope scope,
                                                         std::string_view keys, attributes_callback done);

  /// @brief Calls `update` for every shared-attribute push to a connected sub-device.
  void on_attribute_update(update_handler update);
  /// @brief Handles RPCs for sub-device `device` (replacing an earlier handler for it). Answer with
  /// reply_rpc(), now or later, from any thread. @return ok, or errc::invalid_argument (empty device).
  [[nodiscard]] result<void> on_rpc(std::string_view device, rpc_handler handler);
  /// @brief Handles RPCs for connected sub-devices that have no handler of their own. RPCs that
  /// find no handler at all are answered `{"error":"no handler for device: A"}`.
  void on_any_rpc(rpc_handler handler);
  /// @brief Answers RPC `id` of `device` with JSON.
  /// @return The answer's delivery ticket, or errc::unknown_request, errc::invalid_argument,
  /// errc::payload_too_large, errc::again.
  [[nodiscard]] result<delivery_ticket> reply_rpc(std::string_view device, std::uint32_t id,
                                                  std::string_view json_text);

  /// @brief Claims sub-device `device` (`{"A":{"secretKey":s,"durationMs":n}}`); acknowledged
  /// means "queued". @return The message's delivery ticket, or errc::invalid_argument (empty
  /// device; `duration` negative or above 2^32-1 ms: the wire carries 32 bits), errors as
  /// send_telemetry.
  [[nodiscard]] result<delivery_ticket> claim(std::string_view device, std::string_view secret_key,
                                              std::chrono::milliseconds duration, delivery_callback on_delivered = {});

 private:
  friend class detail::gateway_state;
  explicit gateway_client(detail::gateway_state& state) : state_(state) {}
  detail::gateway_state& state_;
};

}  // namespace tbmqtt
