// tbmqtt ESP-IDF example "a21_basic_client_id":
// MQTT basic authentication with a client id only, no TLS.
// Connects, sends the telemetry {"example":"a21"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a21_basic_client_id.cpp.
// Set server_uri and client_id below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"

namespace {

const char* const tag = "a21_basic_client_id";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const client_id = example::settings::client_id("a21-client-id");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.client_id = client_id;
  example::connect_and_send_once(tag, options, "{\"example\":\"a21\"}");
}
