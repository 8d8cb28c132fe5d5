// a24 MQTT basic authentication (client id, user name, password) over one-way TLS: the
// server's certificate is verified against CA_FILE.
// Connects, sends the telemetry {"example":"a24"} once, waits for its PUBACK, stops.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    a24_basic_tls HOST PORT CA_FILE CLIENT_ID USERNAME PASSWORD
//   ESP-IDF:  examples/esp-idf/a24_basic_tls (TBMQTT_URI mqtts://..., TBMQTT_CA_FILE, TBMQTT_CLIENT_ID,
//             TBMQTT_USERNAME, TBMQTT_PASSWORD)
// Exit status: 0 delivered, 3 connect failed (the typed error printed), 1 not delivered, 2 usage.
#include "example_device.hpp"

namespace {

int a24_basic_tls(int argc, char** argv) {
  example::device_options options;
  if (!example::server_settings(argc, argv, "CA_FILE CLIENT_ID USERNAME PASSWORD", 4, options)) return 2;
  example::use_tls(options, example::text_arg(argc, argv, 3, "CA_FILE", example::pasted_ca));
  options.client_id = example::text_arg(argc, argv, 4, "CLIENT_ID", "a24-client-id");
  options.username = example::text_arg(argc, argv, 5, "USERNAME", "a24-user");
  options.password = example::text_arg(argc, argv, 6, "PASSWORD", "a24-password");
  return example::connect_and_send_once(options, "a24");
}

}  // namespace

EXAMPLE_MAIN(a24_basic_tls)
