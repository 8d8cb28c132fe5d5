// tbmqtt ESP-IDF example "a31_x509_certificate":
// X.509 certificate authentication over mutual TLS: the device
// certificate identifies the device (no token, no password).
// Connects, sends the telemetry {"example":"a31"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a31_x509_certificate.cpp.
// Set server_uri, ca_pem, client_cert_pem and client_key_pem below.
#include <string_view>

#include "esp_log.h"
#include "../../common/example_platform.hpp"
#include "tbmqtt/esp_client.hpp"

namespace {

const char* const tag = "a31_x509_certificate";
constexpr const char* server_uri = "mqtts://thingsboard.local:8883";
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
constexpr const char* ca_pem =
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n";
// The device certificate and its private key (PEM), as registered for the device.
constexpr const char* client_cert_pem =
    "-----BEGIN CERTIFICATE-----\n"
    "...paste the device certificate here...\n"
    "-----END CERTIFICATE-----\n";
constexpr const char* client_key_pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "...paste the device private key here...\n"
    "-----END PRIVATE KEY-----\n";

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
  options.tls.ca_pem = ca_pem;
  options.tls.client_cert_pem = client_cert_pem;
  options.tls.client_key_pem = client_key_pem;
  static tbmqtt::esp_client device{options, events};

  if (auto r = device.connect(15000); !r) {
    // refused_credentials: the server does not know these credentials.
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    device.stop();
    return;
  }
  ESP_LOGI(tag, "connected");
  if (auto sent = device.send_telemetry("{\"example\":\"a31\"}"); !sent)
    ESP_LOGE(tag, "telemetry not sent: %s", tbmqtt::to_string(sent.error()));
  else if (auto flushed = device.flush(10000); !flushed)
    ESP_LOGE(tag, "telemetry not delivered: %s", tbmqtt::to_string(flushed.error()));
  else
    ESP_LOGI(tag, "telemetry delivered");
  device.stop();
}
