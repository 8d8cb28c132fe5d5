// a11 authentication with an access token, no TLS: the token is the MQTT user name.
// Connects, sends the telemetry {"example":"a11"} once, waits for its PUBACK, stops.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    a11_access_token HOST PORT TOKEN
//   ESP-IDF:  examples/esp-idf/a11_access_token (TBMQTT_URI, TBMQTT_TOKEN)
// Exit status: 0 delivered, 3 connect failed (the typed error printed), 1 not delivered, 2 usage.
#include "example_device.hpp"

namespace {

int a11_access_token(int argc, char** argv) {
  example::device_options options;
  if (!example::server_settings(argc, argv, "TOKEN", 1, options)) return 2;
  options.access_token = example::text_arg(argc, argv, 3, "TOKEN", "A1_TEST_TOKEN");
  return example::connect_and_send_once(options, "a11");
}

}  // namespace

EXAMPLE_MAIN(a11_access_token)
