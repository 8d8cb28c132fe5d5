// tbmqtt ESP-IDF example "a22_basic_user_password":
// MQTT basic authentication with a user name and password, no TLS
// (esp-mqtt's default client id).
// Connects, sends the telemetry {"example":"a22"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a22_basic_user_password.cpp.
// Set server_uri, username and password below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"

namespace {

const char* const tag = "a22_basic_user_password";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const username = example::settings::username("a22-user");
const char* const password = example::settings::password("a22-password");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.username = username;
  options.password = password;
  example::connect_and_send_once(tag, options, "{\"example\":\"a22\"}");
}
