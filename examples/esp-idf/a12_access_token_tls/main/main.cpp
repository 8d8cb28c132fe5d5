// tbmqtt ESP-IDF example "a12_access_token_tls":
// authenticates with an access token over one-way TLS (the server
// certificate is verified against ca_pem).
// Connects, sends the telemetry {"example":"a12"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a12_access_token_tls.cpp.
// Set server_uri, access_token and ca_pem below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"

namespace {

const char* const tag = "a12_access_token_tls";
const char* const server_uri = example::settings::uri("mqtts://thingsboard.local:8883");
const char* const access_token = example::settings::token("A12_TEST_TOKEN");
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
const char* const ca_pem = example::settings::ca_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  options.tls.ca = ca_pem;
  example::connect_and_send_once(tag, options, "{\"example\":\"a12\"}");
}
