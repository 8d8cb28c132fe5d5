// a31 X.509 certificate authentication over mutual TLS: the device certificate identifies the
// device (no token, no password); the server's certificate is verified against CA_FILE.
// Connects, sends the telemetry {"example":"a31"} once, waits for its PUBACK, stops.
// One source for Linux and ESP-IDF (settings: example_device.hpp):
//   Linux:    a31_x509_certificate HOST PORT CA_FILE CERT_FILE KEY_FILE
//   ESP-IDF:  examples/esp-idf/a31_x509_certificate (TBMQTT_URI mqtts://..., TBMQTT_CA_FILE,
//             TBMQTT_CERT_FILE, TBMQTT_KEY_FILE)
// Exit status: 0 delivered, 3 connect failed (the typed error printed), 1 not delivered, 2 usage.
#include "example_device.hpp"

namespace {

int a31_x509_certificate(int argc, char** argv) {
  example::device_options options;
  if (!example::server_settings(argc, argv, "CA_FILE CERT_FILE KEY_FILE", 3, options)) return 2;
  example::use_tls(options, example::text_arg(argc, argv, 3, "CA_FILE", example::pasted_ca));
  options.tls.certificate = example::text_arg(argc, argv, 4, "CERT_FILE", example::pasted_certificate);
  options.tls.private_key = example::text_arg(argc, argv, 5, "KEY_FILE", example::pasted_private_key);
  return example::connect_and_send_once(options, "a31");
}

}  // namespace

EXAMPLE_MAIN(a31_x509_certificate)
