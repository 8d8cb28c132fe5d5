// tbmqtt ESP-IDF example "a31_x509_certificate":
// X.509 certificate authentication over mutual TLS: the device
// certificate identifies the device (no token, no password).
// Connects, sends the telemetry {"example":"a31"} once, waits until it is delivered, stops.
// Linux twin: examples/linux/a31_x509_certificate.cpp.
// Set server_uri, ca_pem, client_cert_pem and client_key_pem below, or see ../../common/example_settings.hpp (TBMQTT_* variables).
#include "../../common/auth_example.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"

namespace {

const char* const tag = "a31_x509_certificate";
const char* const server_uri = example::settings::uri("mqtts://thingsboard.local:8883");
// The CA that signed the server's certificate (PEM, NUL-terminated; must outlive the client).
const char* const ca_pem = example::settings::ca_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste your server's CA certificate here...\n"
    "-----END CERTIFICATE-----\n");
// The device certificate and its private key (PEM), as registered for the device.
const char* const client_cert_pem = example::settings::cert_pem(
    "-----BEGIN CERTIFICATE-----\n"
    "...paste the device certificate here...\n"
    "-----END CERTIFICATE-----\n");
const char* const client_key_pem = example::settings::key_pem(
    "-----BEGIN PRIVATE KEY-----\n"
    "...paste the device private key here...\n"
    "-----END PRIVATE KEY-----\n");

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.tls.ca = ca_pem;
  options.tls.certificate = client_cert_pem;
  options.tls.private_key = client_key_pem;
  example::connect_and_send_once(tag, options, "{\"example\":\"a31\"}");
}
