// pd12 provisioning with a device-supplied access token over one-way TLS: provisioning and the
// device connection verify the server's certificate against CA_FILE.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"pd12"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    pd12_device_token_tls HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE TOKEN
//   ESP-IDF:  examples/esp-idf/pd12_device_token_tls (TBMQTT_URI mqtts://..., TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_CA_FILE, TBMQTT_TOKEN)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int pd12_device_token_tls(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "CA_FILE TOKEN", 2, p)) return 2;
  example::use_tls(p, example::text_arg(argc, argv, 7, "CA_FILE", example::pasted_ca));
  p.request.credentials_type = tbmqtt::provision_credentials_type::access_token;
  p.request.token = example::text_arg(argc, argv, 8, "TOKEN", "PD12_DEVICE_TOKEN");
  return example::provision_and_send(p, "pd12");
}

}  // namespace

EXAMPLE_MAIN(pd12_device_token_tls)
