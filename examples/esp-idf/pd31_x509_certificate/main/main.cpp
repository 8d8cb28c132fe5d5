// tbmqtt ESP-IDF example "pd31_x509_certificate":
// provisions with a device-supplied X.509 certificate: the request registers
// client_cert_pem, then the device authenticates with it over mutual TLS.
// Stores the credentials in NVS, connects with them, sends the telemetry {"example":"pd31"} once.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// Linux twin: examples/linux/pd31_x509_certificate.cpp.
// Set server_uri, the provisioning key and secret, device_name, ca_pem, client_cert_pem, client_key_pem below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "../../common/provision_example.hpp"

namespace {

const char* const tag = "pd31_x509_certificate";
const char* const server_uri = example::settings::uri("mqtts://thingsboard.local:8883");
const char* const provision_key =
    example::settings::provision_key("PD31_PROVISION_KEY");  // the device profile's key and secret
const char* const provision_secret = example::settings::provision_secret("PD31_PROVISION_SECRET");
const char* const device_name = example::settings::device_name("pd31-device");
// The device certificate (registered by the request) and its private key, PEM.
const char* const client_cert_pem = example::settings::cert_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste the device certificate here...\n"
    "-----END CERTIFICATE-----\n");
const char* const client_key_pem = example::settings::key_pem(
    "-----BEGIN PRIVATE KEY-----\n"
    "...paste the device private key here...\n"
    "-----END PRIVATE KEY-----\n");
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
const char* const ca_pem = example::settings::ca_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  example::provisioning p = example::provisioning_to(server_uri, provision_key, provision_secret, device_name, ca_pem);
  p.request.credentials_type = tbmqtt::provision_credentials_type::x509;
  p.request.certificate_pem = client_cert_pem;
  p.device.uri = example::settings::device_uri(server_uri);  // ThingsBoard: the same; the emulator: its X.509 port
  p.device.tls.certificate = client_cert_pem;
  p.device.tls.private_key = client_key_pem;
  example::provision_and_send_once(tag, p, "{\"example\":\"pd31\"}");
}
