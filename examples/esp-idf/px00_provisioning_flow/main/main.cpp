// tbmqtt ESP-IDF example "px00_provisioning_flow":
// the general provisioning flow (tbmqtt::esp_provisioned_client): the first start provisions
// (server-generated token; a failed attempt is retried after 0, 1, 2, 4, ... s, at most 8
// attempts) and stores the credentials in NVS; every later start connects with the stored
// credentials and does not provision again. Stored credentials the server refuses end with
// stored_credentials_refused and are kept (erase NVS to provision anew).
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"px00"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/px00_provisioning_flow.cpp.
// Set server_uri, the provisioning key and secret, device_name below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "px00_provisioning_flow";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const provision_key =
    example::settings::provision_key("PX00_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PX00_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("px00-device");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name);
  example::provision_flow_and_send_once(tag, p, "{\"example\":\"px00\"}", /*max_attempts=*/8);
}
