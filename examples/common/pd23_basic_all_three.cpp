// pd23 provisioning with device-supplied MQTT basic credentials: client id, user name and
// password, no TLS.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"pd23"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    pd23_basic_all_three HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CLIENT_ID USERNAME PASSWORD
//   ESP-IDF:  examples/esp-idf/pd23_basic_all_three (TBMQTT_URI, TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_CLIENT_ID, TBMQTT_USERNAME,
//             TBMQTT_PASSWORD)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int pd23_basic_all_three(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "CLIENT_ID USERNAME PASSWORD", 3, p)) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = example::text_arg(argc, argv, 7, "CLIENT_ID", "pd23-client-id");
  p.request.username = example::text_arg(argc, argv, 8, "USERNAME", "pd23-user");
  p.request.password = example::text_arg(argc, argv, 9, "PASSWORD", "pd23-password");
  return example::provision_and_send(p, "pd23");
}

}  // namespace

EXAMPLE_MAIN(pd23_basic_all_three)
