// tbmqtt ESP-IDF example "a11_access_token":
// authenticates with an access token (the MQTT user name), no TLS.
// Connects, sends the telemetry {"example":"a11"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a11_access_token.cpp.
// Set server_uri and access_token below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"

namespace {

const char* const tag = "a11_access_token";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A11_TEST_TOKEN");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  example::connect_and_send_once(tag, options, "{\"example\":\"a11\"}");
}
