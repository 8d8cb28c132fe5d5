// a12 authentication with an access token over one-way TLS: the server's certificate is
// verified against CA_FILE; the device proves itself with the token (the MQTT user name).
// Connects, sends the telemetry {"example":"a12"} once, waits for its PUBACK, stops.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    a12_access_token_tls HOST PORT CA_FILE TOKEN
//   ESP-IDF:  examples/esp-idf/a12_access_token_tls (TBMQTT_URI mqtts://..., TBMQTT_CA_FILE, TBMQTT_TOKEN)
// Exit status: 0 delivered, 3 connect failed (the typed error printed), 1 not delivered, 2 usage.
#include "example_device.hpp"

namespace {

int a12_access_token_tls(int argc, char** argv) {
  example::device_options options;
  if (!example::server_settings(argc, argv, "CA_FILE TOKEN", 2, options)) return 2;
  example::use_tls(options, example::text_arg(argc, argv, 3, "CA_FILE", example::pasted_ca));
  options.access_token = example::text_arg(argc, argv, 4, "TOKEN", "A12_TEST_TOKEN");
  return example::connect_and_send_once(options, "a12");
}

}  // namespace

EXAMPLE_MAIN(a12_access_token_tls)
