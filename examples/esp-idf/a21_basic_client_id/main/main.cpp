// tbmqtt ESP-IDF example "a21_basic_client_id":
// MQTT basic authentication with a client id only, no TLS.
// Connects, sends the telemetry {"example":"a21"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a21_basic_client_id.cpp.
// Set server_uri and client_id below.
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"

namespace {

const char* const tag = "a21_basic_client_id";
constexpr const char* server_uri = "mqtt://thingsboard.local:1883";
constexpr const char* client_id = "a21-client-id";

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.client_id = client_id;
  example::connect_and_send_once(tag, options, "{\"example\":\"a21\"}");
}
