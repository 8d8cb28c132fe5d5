// tbmqtt ESP-IDF example "a21_basic_client_id":
// MQTT basic authentication with a client id only, no TLS.
// Connects, sends the telemetry {"example":"a21"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a21_basic_client_id.cpp.
// Set server_uri and client_id below.
#include <string_view>

#include "esp_log.h"
#include "../../common/example_platform.hpp"
#include "tbmqtt/esp_client.hpp"

namespace {

const char* const tag = "a21_basic_client_id";
constexpr const char* server_uri = "mqtt://thingsboard.local:1883";
constexpr const char* client_id = "a21-client-id";

struct app_events final : tbmqtt::session_events {
  void on_error(tbmqtt::errc e, std::string_view context) noexcept override {
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  static app_events events;
  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.client_id = client_id;
  static tbmqtt::esp_client device{options, events};

  if (auto r = device.connect(15000); !r) {
    // refused_credentials: the server does not know these credentials.
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    device.stop();
    return;
  }
  ESP_LOGI(tag, "connected");
  if (auto sent = device.send_telemetry("{\"example\":\"a21\"}"); !sent)
    ESP_LOGE(tag, "telemetry not sent: %s", tbmqtt::to_string(sent.error()));
  else if (auto flushed = device.flush(10000); !flushed)
    ESP_LOGE(tag, "telemetry not delivered: %s", tbmqtt::to_string(flushed.error()));
  else
    ESP_LOGI(tag, "telemetry delivered");
  device.stop();
}
