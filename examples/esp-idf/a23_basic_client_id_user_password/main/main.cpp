// tbmqtt ESP-IDF example "a23_basic_client_id_user_password":
// MQTT basic authentication with client id, user name and
// password, no TLS.
// Connects, sends the telemetry {"example":"a23"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a23_basic_client_id_user_password.cpp.
// Set server_uri, client_id, username and password below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"

namespace {

const char* const tag = "a23_basic_client_id_user_password";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const client_id = example::settings::client_id("a23-client-id");
const char* const username = example::settings::username("a23-user");
const char* const password = example::settings::password("a23-password");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.uri = server_uri;
  options.client_id = client_id;
  options.username = username;
  options.password = password;
  example::connect_and_send_once(tag, options, "{\"example\":\"a23\"}");
}
