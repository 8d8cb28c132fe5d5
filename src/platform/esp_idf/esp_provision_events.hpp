// tbmqtt — the pure half of ESP-IDF provisioning: esp-mqtt events of the `provision` connection
// -> detail::provision_engine. No ESP-IDF header is included, so it is unit-tested on the host
// (tests/unit/test_esp_provision_events.cpp). Not part of the public API.
#pragma once

#include <cstdint>

#include "../../transport/esp_mqtt/esp_event_mapping.hpp"
#include "tbmqtt/detail/provision_engine.hpp"

namespace tbmqtt::detail {

/// @brief Feeds one provisioning connection's esp-mqtt events into an exchange:
/// - CONNECTED -> on_connack(ok); ERROR with a CONNACK refusal -> on_connack(refused_credentials,
///   identifier_rejected, ...);
/// - ERROR of the TCP/TLS transport -> remembered, and passed to on_connection_lost by the
///   DISCONNECTED that follows (errc::unreachable or errc::tls_error);
/// - SUBSCRIBED -> on_suback(msg_id, the first SUBACK code; 0x80 when v5.x flags
///   MQTT_ERROR_TYPE_SUBSCRIBE_FAILED; QoS 1 when the event carries no codes);
/// - DATA -> on_message_fragment.
/// Not thread-safe: one consumer task.
class esp_provision_mapper {
 public:
  explicit esp_provision_mapper(provision_engine& exchange) noexcept : exchange_(exchange) {}

  void handle(const esp_event_view& e) noexcept {
    switch (e.kind) {
      case esp_event_kind::connected: exchange_.on_connack(errc{}); break;
      case esp_event_kind::error:
        if (e.error.type == esp_error_type::connection_refused)
          exchange_.on_connack(errc_from_esp_error(e.error));
        else if (e.error.type != esp_error_type::subscribe_failed)
          last_error_ = errc_from_esp_error(e.error);
        break;
      case esp_event_kind::disconnected: exchange_.on_connection_lost(last_error_); break;
      case esp_event_kind::subscribed: {
        std::uint8_t granted = e.data.empty() ? 1 : static_cast<std::uint8_t>(e.data[0]);
        if (e.error.type == esp_error_type::subscribe_failed) granted = 0x80;
        exchange_.on_suback(static_cast<message_id>(e.msg_id), granted);
        break;
      }
      case esp_event_kind::data: exchange_.on_message_fragment(e.topic, e.data, e.offset, e.total); break;
      case esp_event_kind::published:
      case esp_event_kind::unsubscribed:
      case esp_event_kind::before_connect:
      case esp_event_kind::deleted: break;
    }
  }

 private:
  provision_engine& exchange_;
  errc last_error_{};
};

}  // namespace tbmqtt::detail
