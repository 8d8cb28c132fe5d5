// tbmqtt ESP-IDF example "a24_basic_tls":
// MQTT basic authentication with client id, user name and password
// over one-way TLS (the server certificate is verified against ca_pem).
// Connects, sends the telemetry {"example":"a24"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a24_basic_tls.cpp.
// Set server_uri, the credentials and ca_pem below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"

namespace {

const char* const tag = "a24_basic_tls";
const char* const server_uri = example::settings::uri("mqtts://thingsboard.local:8883");
const char* const client_id = example::settings::client_id("a24-client-id");
const char* const username = example::settings::username("a24-user");
const char* const password = example::settings::password("a24-password");
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
const char* const ca_pem = example::settings::ca_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.client_id = client_id;
  options.username = username;
  options.password = password;
  options.tls.ca = ca_pem;
  example::connect_and_send_once(tag, options, "{\"example\":\"a24\"}");
}
