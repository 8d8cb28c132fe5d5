// tbmqtt ESP-IDF example "pd11_device_token":
// provisions with a device-supplied access token, no TLS.
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"pd11"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/pd11_device_token.cpp.
// Set server_uri, the provisioning key and secret, device_name, the token below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "pd11_device_token";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const provision_key =
    example::settings::provision_key("PD11_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PD11_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("pd11-device");
const char* const device_token = example::settings::token("PD11_DEVICE_TOKEN");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name);
  p.request.credentials_type = tbmqtt::provision_credentials_type::access_token;
  p.request.token = device_token;
  example::provision_and_send_once(tag, p, "{\"example\":\"pd11\"}");
}
