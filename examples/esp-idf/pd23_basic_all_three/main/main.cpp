// tbmqtt ESP-IDF example "pd23_basic_all_three":
// provisions with device-supplied MQTT basic credentials: client id, user
// name and password, no TLS.
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"pd23"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/pd23_basic_all_three.cpp.
// Set server_uri, the provisioning key and secret, device_name, client_id, username, password below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "pd23_basic_all_three";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const provision_key =
    example::settings::provision_key("PD23_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PD23_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("pd23-device");
const char* const client_id = example::settings::client_id("pd23-client-id");
const char* const username = example::settings::username("pd23-user");
const char* const password = example::settings::password("pd23-password");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name);
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = client_id;
  p.request.username = username;
  p.request.password = password;
  example::provision_and_send_once(tag, p, "{\"example\":\"pd23\"}");
}
