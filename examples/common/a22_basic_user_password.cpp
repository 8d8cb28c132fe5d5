// a22 MQTT basic authentication with a user name and password, no TLS (on Linux the client id is
// generated; on the ESP-IDF linux target it is unique per process).
// Connects, sends the telemetry {"example":"a22"} once, waits for its PUBACK, stops.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    a22_basic_user_password HOST PORT USERNAME PASSWORD
//   ESP-IDF:  examples/esp-idf/a22_basic_user_password (TBMQTT_URI, TBMQTT_USERNAME, TBMQTT_PASSWORD)
// Exit status: 0 delivered, 3 connect failed (the typed error printed), 1 not delivered, 2 usage.
#include "example_device.hpp"

namespace {

int a22_basic_user_password(int argc, char** argv) {
  example::device_options options;
  if (!example::server_settings(argc, argv, "USERNAME PASSWORD", 2, options)) return 2;
  options.username = example::text_arg(argc, argv, 3, "USERNAME", "a22-user");
  options.password = example::text_arg(argc, argv, 4, "PASSWORD", "a22-password");
  return example::connect_and_send_once(options, "a22");
}

}  // namespace

EXAMPLE_MAIN(a22_basic_user_password)
