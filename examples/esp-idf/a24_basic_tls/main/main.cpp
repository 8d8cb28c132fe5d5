// tbmqtt ESP-IDF example "a24_basic_tls":
// MQTT basic authentication with client id, user name and password
// over one-way TLS (the server certificate is verified against ca_pem).
// Connects, sends the telemetry {"example":"a24"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a24_basic_tls.cpp.
// Set server_uri, the credentials and ca_pem below.
#include <string_view>

#include "esp_log.h"
#include "../../common/example_platform.hpp"
#include "tbmqtt/esp_client.hpp"

namespace {

const char* const tag = "a24_basic_tls";
constexpr const char* server_uri = "mqtts://thingsboard.local:8883";
constexpr const char* client_id = "a24-client-id";
constexpr const char* username = "a24-user";
constexpr const char* password = "a24-password";
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
constexpr const char* ca_pem =
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n";

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
  options.username = username;
  options.password = password;
  options.tls.ca_pem = ca_pem;
  static tbmqtt::esp_client device{options, events};

  if (auto r = device.connect(15000); !r) {
    // refused_credentials: the server does not know these credentials.
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    device.stop();
    return;
  }
  ESP_LOGI(tag, "connected");
  if (auto sent = device.send_telemetry("{\"example\":\"a24\"}"); !sent)
    ESP_LOGE(tag, "telemetry not sent: %s", tbmqtt::to_string(sent.error()));
  else if (auto flushed = device.flush(10000); !flushed)
    ESP_LOGE(tag, "telemetry not delivered: %s", tbmqtt::to_string(flushed.error()));
  else
    ESP_LOGI(tag, "telemetry delivered");
  device.stop();
}
