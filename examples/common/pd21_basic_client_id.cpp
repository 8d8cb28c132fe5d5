// pd21 provisioning with device-supplied MQTT basic credentials: a client id only, no TLS.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"pd21"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    pd21_basic_client_id HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CLIENT_ID
//   ESP-IDF:  examples/esp-idf/pd21_basic_client_id (TBMQTT_URI, TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_CLIENT_ID)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int pd21_basic_client_id(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "CLIENT_ID", 1, p)) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = example::text_arg(argc, argv, 7, "CLIENT_ID", "pd21-client-id");
  return example::provision_and_send(p, "pd21");
}

}  // namespace

EXAMPLE_MAIN(pd21_basic_client_id)
