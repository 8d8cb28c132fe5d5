// pd22 provisioning with device-supplied MQTT basic credentials: user name and password, no
// TLS.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"pd22"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    pd22_basic_user_password HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME USERNAME PASSWORD
//   ESP-IDF:  examples/esp-idf/pd22_basic_user_password (TBMQTT_URI, TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_USERNAME, TBMQTT_PASSWORD)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int pd22_basic_user_password(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "USERNAME PASSWORD", 2, p)) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.username = example::text_arg(argc, argv, 7, "USERNAME", "pd22-user");
  p.request.password = example::text_arg(argc, argv, 8, "PASSWORD", "pd22-password");
  return example::provision_and_send(p, "pd22");
}

}  // namespace

EXAMPLE_MAIN(pd22_basic_user_password)
