// pd24 provisioning with device-supplied MQTT basic credentials (client id, user name,
// password) over one-way TLS: the server's certificate is verified against CA_FILE.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"pd24"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    pd24_basic_tls HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE CLIENT_ID USERNAME PASSWORD
//   ESP-IDF:  examples/esp-idf/pd24_basic_tls (TBMQTT_URI mqtts://..., TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_CA_FILE, TBMQTT_CLIENT_ID,
//             TBMQTT_USERNAME, TBMQTT_PASSWORD)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int pd24_basic_tls(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "CA_FILE CLIENT_ID USERNAME PASSWORD", 4, p)) return 2;
  example::use_tls(p, example::text_arg(argc, argv, 7, "CA_FILE", example::pasted_ca));
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = example::text_arg(argc, argv, 8, "CLIENT_ID", "pd24-client-id");
  p.request.username = example::text_arg(argc, argv, 9, "USERNAME", "pd24-user");
  p.request.password = example::text_arg(argc, argv, 10, "PASSWORD", "pd24-password");
  return example::provision_and_send(p, "pd24");
}

}  // namespace

EXAMPLE_MAIN(pd24_basic_tls)
