// tbmqtt ESP-IDF example "ps20_server_generated_tls":
// provisions with server-generated credentials over one-way TLS (the server
// certificate is verified against ca_pem).
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"ps20"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/ps20_server_generated_tls.cpp.
// Set server_uri, the provisioning key and secret, device_name, ca_pem below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "ps20_server_generated_tls";
const char* const server_uri = example::settings::uri("mqtts://thingsboard.local:8883");
const char* const provision_key =
    example::settings::provision_key("PS20_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PS20_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("ps20-device");
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
const char* const ca_pem = example::settings::ca_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name, ca_pem);
  example::provision_and_send_once(tag, p, "{\"example\":\"ps20\"}");
}
