// Shared by the ESP-IDF authentication examples (a11-a31): connect with the given options,
// send one telemetry message, wait until it is delivered, stop. Not part of the library.
#pragma once

#include "esp_log.h"
#include "example_client.hpp"
#include "tbmqtt/esp_idf/client.hpp"

namespace example {

/// Sends `telemetry` once on the connected `device`, waits up to 10 s for its delivery, stops it.
inline void send_once(const char* tag, tbmqtt::esp_client& device, const char* telemetry) {
  if (auto sent = device.send_telemetry(telemetry); !sent)
    ESP_LOGE(tag, "telemetry not sent: %s", tbmqtt::to_string(sent.error()));
  else if (auto flushed = device.flush(std::chrono::seconds(10)); !flushed)
    ESP_LOGE(tag, "telemetry not delivered: %s", tbmqtt::to_string(flushed.error()));
  else
    ESP_LOGI(tag, "telemetry delivered");
  device.disconnect();
}

/// Connects with `options` (the credentials are the point of each example), then send_once. A
/// refusal is logged with its typed error, e.g. refused_credentials when the server does not
/// know the credentials.
inline void connect_and_send_once(const char* tag, const tbmqtt::esp_client_options& options, const char* telemetry) {
  static tbmqtt::esp_client device{options};
  log_errors(device, tag);
  if (connect(device, tag)) send_once(tag, device, telemetry);
}

}  // namespace example
