// ps20 provisioning with server-generated credentials over one-way TLS: the server's
// certificate is verified against CA_FILE for provisioning and for the device connection.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"ps20"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    ps20_server_generated_tls HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE
//   ESP-IDF:  examples/esp-idf/ps20_server_generated_tls (TBMQTT_URI mqtts://..., TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_CA_FILE)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int ps20_server_generated_tls(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "CA_FILE", 1, p)) return 2;
  example::use_tls(p, example::text_arg(argc, argv, 7, "CA_FILE", example::pasted_ca));
  return example::provision_and_send(p, "ps20");  // request.credentials_type: server_token by default
}

}  // namespace

EXAMPLE_MAIN(ps20_server_generated_tls)
