// a23 MQTT basic authentication with client id, user name and password, no TLS: all three must
// match the device's credentials.
// Connects, sends the telemetry {"example":"a23"} once, waits for its PUBACK, stops.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    a23_basic_client_id_user_password HOST PORT CLIENT_ID USERNAME PASSWORD
//   ESP-IDF:  examples/esp-idf/a23_basic_client_id_user_password (TBMQTT_URI, TBMQTT_CLIENT_ID, TBMQTT_USERNAME, TBMQTT_PASSWORD)
// Exit status: 0 delivered, 3 connect failed (the typed error printed), 1 not delivered, 2 usage.
#include "example_device.hpp"

namespace {

int a23_basic_client_id_user_password(int argc, char** argv) {
  example::device_options options;
  if (!example::server_settings(argc, argv, "CLIENT_ID USERNAME PASSWORD", 3, options)) return 2;
  options.client_id = example::text_arg(argc, argv, 3, "CLIENT_ID", "a23-client-id");
  options.username = example::text_arg(argc, argv, 4, "USERNAME", "a23-user");
  options.password = example::text_arg(argc, argv, 5, "PASSWORD", "a23-password");
  return example::connect_and_send_once(options, "a23");
}

}  // namespace

EXAMPLE_MAIN(a23_basic_client_id_user_password)
