// pd11 provisioning with a device-supplied access token, no TLS: the device chooses its token,
// provisions, stores the credentials, connects with the token and sends telemetry once.
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"pd11"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    pd11_device_token HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME TOKEN
//   ESP-IDF:  examples/esp-idf/pd11_device_token (TBMQTT_URI, TBMQTT_PROVISION_KEY, TBMQTT_PROVISION_SECRET,
//             TBMQTT_DEVICE_NAME, TBMQTT_TOKEN)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int pd11_device_token(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "TOKEN", 1, p)) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::access_token;
  p.request.token = example::text_arg(argc, argv, 7, "TOKEN", "PD11_DEVICE_TOKEN");
  return example::provision_and_send(p, "pd11");
}

}  // namespace

EXAMPLE_MAIN(pd11_device_token)
