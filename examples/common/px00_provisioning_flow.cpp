// px00 the general provisioning flow, with tbmqtt::provisioned_client (the credential
// lifecycle): the first start provisions (server-generated token; a failed attempt is retried
// after 0, 1, 2 s, at most 3 attempts), stores the credentials (Linux: CREDENTIALS_FILE, mode
// 0600; ESP-IDF: NVS) before connecting with them; every later start connects with the stored
// credentials and does not provision again. Stored credentials the server refuses exit 6
// (stored_credentials_refused) and stay; delete them to provision anew. Other failures exit with
// the typed error (5: provision_not_found, provision_failed; 3: connection; 4: timeout).
// Then sends the telemetry {"example":"px00"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    px00_provisioning_flow HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME
//   ESP-IDF:  examples/esp-idf/px00_provisioning_flow (TBMQTT_URI, TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int px00_provisioning_flow(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "", 0, p)) return 2;
  return example::provision_flow_and_send(p, "px00", /*max_attempts=*/3);
}

}  // namespace

EXAMPLE_MAIN(px00_provisioning_flow)
