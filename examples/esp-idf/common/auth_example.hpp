// Shared by the ESP-IDF authentication examples (a11-a31): connect with the given options,
// send one telemetry message, wait until it is delivered, stop. Not part of the library.
#pragma once

#include <string_view>

#include "esp_log.h"
#include "tbmqtt/esp_client.hpp"

namespace example {

/// Connects with `options` (the credentials are the point of each example), sends `telemetry`
/// once and waits up to 10 s for its delivery. A refusal is logged with its typed error, e.g.
/// refused_credentials when the server does not know the credentials.
inline void connect_and_send_once(const char* tag, const tbmqtt::esp_client_options& options, const char* telemetry) {
  struct log_errors final : tbmqtt::session_events {
    const char* tag = nullptr;
    void on_error(tbmqtt::errc e, std::string_view context) noexcept override {
      ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
    }
  };
  static log_errors events;
  events.tag = tag;
  static tbmqtt::esp_client device{options, events};
  if (auto r = device.connect(15000); !r) {
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    device.stop();
    return;
  }
  ESP_LOGI(tag, "connected");
  if (auto sent = device.send_telemetry(telemetry); !sent)
    ESP_LOGE(tag, "telemetry not sent: %s", tbmqtt::to_string(sent.error()));
  else if (auto flushed = device.flush(10000); !flushed)
    ESP_LOGE(tag, "telemetry not delivered: %s", tbmqtt::to_string(flushed.error()));
  else
    ESP_LOGI(tag, "telemetry delivered");
  device.stop();
}

}  // namespace example
