// tbmqtt ESP-IDF example "pd21_basic_client_id":
// provisions with device-supplied MQTT basic credentials: a client id only, no TLS.
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"pd21"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/pd21_basic_client_id.cpp.
// Set server_uri, the provisioning key and secret, device_name, client_id below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "pd21_basic_client_id";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const provision_key =
    example::settings::provision_key("PD21_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PD21_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("pd21-device");
const char* const client_id = example::settings::client_id("pd21-client-id");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name);
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = client_id;
  example::provision_and_send_once(tag, p, "{\"example\":\"pd21\"}");
}
