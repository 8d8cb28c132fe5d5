// tbmqtt ESP-IDF example "get_started": connects to ThingsBoard with an access token, sends
// telemetry every 5 s and answers the server-side RPC "ping". Linux twin: examples/linux.
// Set server_uri and access_token below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include <cstdio>

#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "get_started";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");

void on_connection(const tbmqtt::connection_event& event) {
  if (event.connected)
    ESP_LOGI(tag, "connected to ThingsBoard");
  else
    ESP_LOGW(tag, "disconnected: %s", tbmqtt::to_string(event.reason));
}

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options};
  device.on_connection(&on_connection);
  device.on_error([](tbmqtt::errc e, std::string_view context) {  // errors no request owns
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  });
  auto ping = [](const tbmqtt::server_rpc& rpc) {
    // Runs on the tbmqtt task; calling back into the client is allowed.
    if (auto sent = device.reply_rpc(rpc.id, "{\"pong\":true}"); !sent)
      ESP_LOGW(tag, "reply failed: %s", tbmqtt::to_string(sent.error()));
  };
  if (auto r = device.on_rpc("ping", ping); !r) ESP_LOGE(tag, "on_rpc: %s", tbmqtt::to_string(r.error()));

  if (auto r = device.connect(std::chrono::seconds(15)); !r) {
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    return;
  }
  for (int i = 0;; ++i) {
    char json[48];
    std::snprintf(json, sizeof json, "{\"counter\":%d}", i);
    if (auto sent = device.send_telemetry(json); !sent)
      ESP_LOGW(tag, "telemetry not sent: %s", tbmqtt::to_string(sent.error()));
    vTaskDelay(pdMS_TO_TICKS(5000));
  }
}
