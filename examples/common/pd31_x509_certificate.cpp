// pd31 provisioning with a device-supplied X.509 certificate: the request registers CERT_FILE
// (over one-way TLS, verified against CA_FILE); the device then connects over mutual TLS with
// CERT_FILE and KEY_FILE on X509_PORT (ESP-IDF: TBMQTT_DEVICE_URI). ThingsBoard serves both on
// one port (X509_PORT = PORT); the emulator has a separate mutual-TLS port (see emulator/README.md).
// Stores the credentials (Linux: CREDENTIALS_FILE, mode 0600; ESP-IDF: NVS) before use, connects
// with them, sends the telemetry {"example":"pd31"} once and waits for its PUBACK.
// The device profile must allow provisioning ("Allow to create new devices", or "Check for
// pre-provisioned devices" with a device of this name created beforehand).
// One source for Linux and ESP-IDF (settings: example_provisioning.hpp):
//   Linux:    pd31_x509_certificate HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE CERT_FILE KEY_FILE X509_PORT
//   ESP-IDF:  examples/esp-idf/pd31_x509_certificate (TBMQTT_URI mqtts://..., TBMQTT_PROVISION_KEY,
//             TBMQTT_PROVISION_SECRET, TBMQTT_DEVICE_NAME, TBMQTT_CA_FILE, TBMQTT_CERT_FILE,
//             TBMQTT_KEY_FILE, TBMQTT_DEVICE_URI)
// Exit status: 0 delivered, 2 usage, else as the `tbmqtt` CLI (example_provisioning.hpp).
#include "example_provisioning.hpp"

namespace {

int pd31_x509_certificate(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_settings(argc, argv, "CA_FILE CERT_FILE KEY_FILE X509_PORT", 4, p)) return 2;
  example::use_tls(p, example::text_arg(argc, argv, 7, "CA_FILE", example::pasted_ca));
  const char* certificate = example::text_arg(argc, argv, 8, "CERT_FILE", example::pasted_certificate);
  if (!example::request_certificate(p, certificate)) return 2;
  p.device.tls.certificate = certificate;
  p.device.tls.private_key = example::text_arg(argc, argv, 9, "KEY_FILE", example::pasted_private_key);
  if (!example::device_server(argc, argv, 10, p)) return 2;
  return example::provision_and_send(p, "pd31");
}

}  // namespace

EXAMPLE_MAIN(pd31_x509_certificate)
