// pd31 provisioning with a device-supplied X.509 certificate: the request registers CERT_FILE
// (over one-way TLS, verified against CA_FILE); the device then connects over mutual TLS with
// CERT_FILE and KEY_FILE on X509_PORT. ThingsBoard serves both on one port (X509_PORT = PORT);
// the emulator has a separate mutual-TLS port (see emulator/README.md).
//   pd31_x509_certificate HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE CERT_FILE KEY_FILE X509_PORT
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  char** arg = example::provision_args(argc, argv, "CA_FILE CERT_FILE KEY_FILE X509_PORT", 4, p);
  if (!arg) return 2;
  example::use_tls(p, arg[0]);
  if (!example::request_certificate(p, arg[1])) return 2;
  p.device.tls.certificate = arg[1];
  p.device.tls.private_key = arg[2];
  p.device.port = static_cast<std::uint16_t>(std::atoi(arg[3]));
  return example::provision_and_send(p, "pd31");
}
