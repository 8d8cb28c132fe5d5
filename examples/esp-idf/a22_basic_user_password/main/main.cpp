// tbmqtt ESP-IDF example "a22_basic_user_password":
// MQTT basic authentication with a user name and password, no TLS
// (esp-mqtt's default client id).
// Connects, sends the telemetry {"example":"a22"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a22_basic_user_password.cpp.
// Set server_uri, username and password below.
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"

namespace {

const char* const tag = "a22_basic_user_password";
constexpr const char* server_uri = "mqtt://thingsboard.local:1883";
constexpr const char* username = "a22-user";
constexpr const char* password = "a22-password";

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.username = username;
  options.password = password;
  example::connect_and_send_once(tag, options, "{\"example\":\"a22\"}");
}
