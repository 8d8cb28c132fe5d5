// tbmqtt ESP-IDF example "ps10_server_generated":
// provisions with server-generated credentials (the server answers with a
// new access token), no TLS.
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"ps10"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/ps10_server_generated.cpp.
// Set server_uri, the provisioning key and secret, device_name below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "ps10_server_generated";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const provision_key =
    example::settings::provision_key("PS10_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PS10_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("ps10-device");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name);
  example::provision_and_send_once(tag, p, "{\"example\":\"ps10\"}");
}
