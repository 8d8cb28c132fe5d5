// ps10 provisioning with server-generated credentials, no TLS: the request carries no
// credentials and the server answers with a new access token.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"ps10"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    ps10_server_generated HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME
//   ESP-IDF:  examples/esp-idf/ps10_server_generated (TBMQTT_URI, TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int ps10_server_generated(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "", 0, p)) return 2;
  // request.credentials_type: server_token by default
  return example::provision_and_send(p, "ps10");
}

}  // namespace

EXAMPLE_MAIN(ps10_server_generated)
