// a31 X.509 certificate authentication over mutual TLS: the device certificate identifies the
// device (no token, no password); the server's certificate is verified against CA_FILE.
//   a31_x509_certificate HOST PORT CA_FILE CERT_FILE KEY_FILE
#include "auth_example.hpp"

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  char** arg = example::auth_args(argc, argv, "CA_FILE CERT_FILE KEY_FILE", 3, options);
  if (!arg) return 2;
  options.tls.enabled = true;
  options.tls.ca = arg[0];
  options.tls.certificate = arg[1];
  options.tls.private_key = arg[2];
  return example::send_once(options, "a31");
}
