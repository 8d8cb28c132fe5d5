// a21 MQTT basic authentication with a client id only, no TLS: the server knows the device by its
// MQTT client id.
// Connects, sends the telemetry {"example":"a21"} once, waits for its PUBACK, stops.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    a21_basic_client_id HOST PORT CLIENT_ID
//   ESP-IDF:  examples/esp-idf/a21_basic_client_id (TBMQTT_URI, TBMQTT_CLIENT_ID)
// Exit status: 0 delivered, 3 connect failed (the typed error printed), 1 not delivered, 2 usage.
#include "example_device.hpp"

namespace {

int a21_basic_client_id(int argc, char** argv) {
  example::device_options options;
  if (!example::server_settings(argc, argv, "CLIENT_ID", 1, options)) return 2;
  options.client_id = example::text_arg(argc, argv, 3, "CLIENT_ID", "a21-client-id");
  return example::connect_and_send_once(options, "a21");
}

}  // namespace

EXAMPLE_MAIN(a21_basic_client_id)
