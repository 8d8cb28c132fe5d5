// tbmqtt — detail: one provisioning round trip (protocol doc §4) over any MQTT transport,
// sans-I/O. The platform opens a connection with the username `provision` and feeds its events
// here; the exchange subscribes, publishes the request and collects the answer:
//
//     CONNACK ok -> SUBSCRIBE /provision/response -> SUBACK -> PUBLISH /provision/request
//     -> the response (reassembled from fragments into the caller's buffer) -> finished
//
// Any failure on the way (refused CONNACK, refused SUBSCRIBE, lost connection, deadline, a
// response larger than the buffer) finishes it with a typed error. Used by the ESP-IDF
// provisioning call (src/platform/esp_idf/provisioned_client.cpp). Not part of the contract.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt::detail {

class provision_engine {
 public:
  /// @param transport Receives the SUBSCRIBE and the PUBLISH.
  /// @param request   The /provision/request payload (build_provision_request); must outlive this.
  /// @param response  Memory for the answer; must outlive this and hold the whole response.
  provision_engine(transport_port& transport, std::string_view request, span<char> response) noexcept
      : transport_(transport), request_(request), response_(response) {}

  /// @brief CONNACK: errc{} subscribes to /provision/response (QoS 1); a refusal
  /// (errc::refused_credentials, ...) finishes with it.
  void on_connack(errc result) noexcept;
  /// @brief SUBACK for the subscription: publishes the request (QoS 1). `granted` 0x80 finishes
  /// with errc::subscription_refused. SUBACKs for other ids are ignored.
  void on_suback(message_id id, std::uint8_t granted) noexcept;
  /// @brief One fragment of an inbound message of `total` bytes (a whole message: offset 0 and
  /// fragment.size() == total). `topic` is read at offset 0 only; messages on other topics are
  /// skipped. Finishes with the response, or errc::payload_too_large (total larger than the
  /// response buffer), errc::malformed (a fragment out of order or past `total`).
  void on_message_fragment(std::string_view topic, span<const std::byte> fragment, std::size_t offset,
                           std::size_t total) noexcept;
  /// @brief The connection closed or could not be opened. Before an answer this finishes with
  /// errc::disconnected once CONNACK was accepted, else with `reason` (errc{}: errc::unreachable).
  void on_connection_lost(errc reason) noexcept;
  /// @brief The caller's deadline passed: finishes with errc::timeout unless already finished.
  void on_deadline() noexcept;

  /// True once the outcome is known (the caller then disconnects).
  bool finished() const noexcept { return finished_; }
  /// @return The response payload (a view into the response buffer) once finished with it;
  /// the error it finished with; errc::again while not finished.
  result<std::string_view> outcome() const noexcept;

 private:
  void finish(errc e) noexcept;

  transport_port& transport_;
  std::string_view request_;
  span<char> response_;
  message_id subscribe_id_ = 0;
  bool subscribing_ = false;
  bool connected_ = false;
  bool finished_ = false;
  bool skipping_ = true;  // inside a message on another topic (or none started yet)
  errc error_{};
  std::size_t received_ = 0;
  std::size_t total_ = 0;
};

}  // namespace tbmqtt::detail
