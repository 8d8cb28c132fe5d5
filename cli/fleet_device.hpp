// tbmqtt fleet — one simulated device: the core session (tbmqtt/session.hpp) on a link of the
// fleet's event loop (fleet_loop.hpp). The only place where the session meets the loop: this
// file and fleet_device.cpp translate link events into session inputs, the session's
// transport_port calls into link calls, and the session's events into device_hooks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fleet_loop.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/wire_format.hpp"

namespace tbmqtt::fleet {

class device;

/// @brief Settings every device shares.
struct device_settings {
  std::string host = "127.0.0.1";
  int port = 1883;
  int keepalive_s = 60;
  qos telemetry_qos = qos::at_least_once;
  std::string rpc_reply;  ///< Answer to every server RPC; empty: echo the request's params.
  wire_format wire;       ///< Topic family and payload format (--topics, --payload, --proto ...).
};

/// @brief What a device tells the fleet (on the loop's thread).
class device_hooks {
 public:
  virtual void on_ready(device&) noexcept = 0;               ///< Connected and subscribed.
  virtual void on_down(device&, bool refused) noexcept = 0;  ///< Refused (CONNACK) or lost.
  virtual void on_delivered(device&) noexcept = 0;           ///< A telemetry message acknowledged.
  virtual void on_rpc_answered(device&, errc e) noexcept = 0;
  /// A client-side RPC or attribute request ended: round trip in microseconds, or an error.
  virtual void on_round_trip(device&, bool rpc, errc e, std::uint64_t micros) noexcept = 0;
  virtual void on_error(device&, errc e, std::string_view context) noexcept = 0;

 protected:
  ~device_hooks() = default;
};

/// @brief One device (or one gateway with its sub-devices).
class device final : private link_events, private transport_port, private session_events {
 public:
  device(event_loop& loop, const device_settings& settings, device_hooks& hooks, std::string name, std::string token);
  ~device();
  device(const device&) = delete;
  device& operator=(const device&) = delete;

  /// @brief Makes this device a gateway for `children` (before the first connect).
  void make_gateway(std::vector<std::string> children);
  /// @brief Starts connecting with the token. @return errc{} or the reason it could not start.
  errc connect() noexcept;
  /// @brief Sends DISCONNECT and closes.
  void close() noexcept;
  bool ready() const noexcept { return session_.state() == session_state::ready && link_.is_open(); }
  bool connecting() const noexcept { return link_.is_open() && !ready(); }
  /// @brief Unacknowledged telemetry messages.
  std::size_t in_flight() const noexcept { return in_flight_; }
  /// @brief Telemetry messages this device may have unacknowledged at once (libmosquitto keeps
  /// 20 in flight per connection; a gateway the same per sub-device).
  std::size_t window() const noexcept { return 20 * (children() > 0 ? children() : 1); }

  /// @brief Publishes telemetry for the device itself, or for sub-device `child` of a gateway.
  result<delivery_ticket> publish_telemetry(std::string_view json, std::size_t child = 0) noexcept;
  /// @brief A client-side RPC (its round trip reaches device_hooks::on_round_trip).
  result<void> call_rpc(std::string_view method, std::string_view params) noexcept;
  /// @brief Requests every client and shared attribute (round trip as for call_rpc).
  result<void> request_attributes() noexcept;
  /// @brief Time passes: expires requests.
  void tick() noexcept;

  const std::string& name() const noexcept { return name_; }
  std::size_t children() const noexcept;
  const std::string& child_name(std::size_t i) const noexcept;

  // The fleet's per-device bookkeeping (owned by the runner).
  std::uint64_t next_due_ms = 0;  ///< Next telemetry (or reconnect, or first connect).
  std::uint32_t seq = 0;          ///< Telemetry messages made.
  std::uint32_t attempt = 0;      ///< Failed connects in a row (back-off).
  bool started = false;           ///< Connected once (attribute request done).

 private:
  // link_events
  void on_connack(int code) noexcept override;
  void on_lost(int rc) noexcept override;
  void on_message(std::string_view topic, span<const std::byte> payload) noexcept override;
  void on_suback(int mid, int granted) noexcept override;
  void on_puback(int mid) noexcept override;
  // transport_port
  result<message_id> publish(std::string_view topic, span<const std::byte> payload, qos q) noexcept override;
  result<message_id> subscribe(std::string_view filter, qos q) noexcept override;
  // session_events
  void on_ready() noexcept override;
  void on_delivered(delivery_ticket ticket, errc e) noexcept override;
  void on_attributes_response(std::uint32_t id, errc e, json::value, json::value) noexcept override;
  void on_rpc_response(std::uint32_t id, errc e, json::value) noexcept override;
  void on_rpc_request(const rpc_request& request) noexcept override;
  void on_error(errc e, std::string_view context) noexcept override;

  std::uint32_t clock() const noexcept;
  void track(delivery_ticket id) noexcept;

  struct gateway_part;
  const device_settings& settings_;
  device_hooks& hooks_;
  std::string name_, token_;
  link link_;
  std::vector<delivery_slot> slots_;  // a gateway's: one per message its sub-devices may have in flight
  session session_;
  std::unique_ptr<gateway_part> gateway_;
  // Telemetry packet ids waiting for their PUBACK (few: libmosquitto keeps 20 in flight).
  std::vector<delivery_ticket> pending_;
  std::size_t in_flight_ = 0;
  std::uint32_t request_id_ = 0;  // the client RPC or attribute request in flight
  bool request_is_rpc_ = false;
  std::uint64_t request_sent_us_ = 0;
  bool was_ready_ = false;
  bool refused_ = false;  // CONNACK refused: the loss that follows is a refusal
};

}  // namespace tbmqtt::fleet
