// tbmqtt ESP-IDF example "h10_telemetry_upload": sends time-series data periodically, each
// message stamped with the device's clock once SNTP has set it ({"ts":..,"values":{..}}; before
// that without "ts", and the server stamps it). The values are a made-up sensor: temperature
// 20 + 0.5 per message, humidity 40 + 1 per message; 5 messages, one per second, then it stops.
// Linux twin (tested against the emulator): examples/linux/h10_telemetry_upload.cpp.
// Compile-checked only (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include <cstdint>

#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "h10_telemetry";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");
constexpr int messages = 5;
constexpr std::uint32_t period_ms = 1000;

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  static example::logged_events events{tag};
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  if (!example::connect(device, tag)) return;
  for (int i = 0; i < messages; ++i) {
    if (i > 0) vTaskDelay(pdMS_TO_TICKS(period_ms));
    const double temperature = 20.0 + 0.5 * i;
    const int humidity = 40 + i;
    tbmqtt::telemetry<128> t;  // built in place: no allocation
    if (const std::uint64_t now = example::unix_ms(); now != 0) t.at(now);
    t.add("temperature", temperature).add("humidity", humidity);
    if (auto sent = device.send_telemetry(t, tbmqtt::qos::at_least_once); !sent)  // e.g. not_enough_space
      ESP_LOGE(tag, "message %d not sent: %s", i + 1, tbmqtt::to_string(sent.error()));
    else
      ESP_LOGI(tag, "sent temperature %.1f, humidity %d", temperature, humidity);
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r)  // wait for every PUBACK
    ESP_LOGW(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
  else
    ESP_LOGI(tag, "%d messages delivered", messages);
  device.disconnect();
}
