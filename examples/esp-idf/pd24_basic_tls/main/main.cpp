// tbmqtt ESP-IDF example "pd24_basic_tls":
// provisions with device-supplied MQTT basic credentials (client id, user
// name, password) over one-way TLS (the server certificate is verified against ca_pem).
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"pd24"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/pd24_basic_tls.cpp.
// Set server_uri, the provisioning key and secret, device_name, client_id, username, password, ca_pem below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "pd24_basic_tls";
const char* const server_uri = example::settings::uri("mqtts://thingsboard.local:8883");
const char* const provision_key =
    example::settings::provision_key("PD24_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PD24_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("pd24-device");
const char* const client_id = example::settings::client_id("pd24-client-id");
const char* const username = example::settings::username("pd24-user");
const char* const password = example::settings::password("pd24-password");
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
const char* const ca_pem = example::settings::ca_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name, ca_pem);
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = client_id;
  p.request.username = username;
  p.request.password = password;
  example::provision_and_send_once(tag, p, "{\"example\":\"pd24\"}");
}
