// tbmqtt ESP-IDF example "a12_access_token_tls":
// authenticates with an access token over one-way TLS (the server
// certificate is verified against ca_pem).
// Connects, sends the telemetry {"example":"a12"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a12_access_token_tls.cpp.
// Set server_uri, access_token and ca_pem below.
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"

namespace {

const char* const tag = "a12_access_token_tls";
constexpr const char* server_uri = "mqtts://thingsboard.local:8883";
constexpr const char* access_token = "A12_TEST_TOKEN";
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
  options.access_token = access_token;
  options.tls.ca_pem = ca_pem;
  example::connect_and_send_once(tag, options, "{\"example\":\"a12\"}");
}
