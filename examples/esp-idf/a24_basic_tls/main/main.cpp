// tbmqtt ESP-IDF example "a24_basic_tls":
// MQTT basic authentication with client id, user name and password
// over one-way TLS (the server certificate is verified against ca_pem).
// Connects, sends the telemetry {"example":"a24"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a24_basic_tls.cpp.
// Set server_uri, the credentials and ca_pem below.
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"

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

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.client_id = client_id;
  options.username = username;
  options.password = password;
  options.tls.ca_pem = ca_pem;
  example::connect_and_send_once(tag, options, "{\"example\":\"a24\"}");
}
