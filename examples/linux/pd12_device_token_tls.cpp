// pd12 provisioning with a device-supplied access token over one-way TLS: provisioning and the
// device connection verify the server's certificate against CA_FILE.
//   pd12_device_token_tls HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE TOKEN
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  char** arg = example::provision_args(argc, argv, "CA_FILE TOKEN", 2, p);
  if (!arg) return 2;
  example::use_tls(p, arg[0]);
  p.request.credentials_type = tbmqtt::provision_credentials_type::access_token;
  p.request.token = arg[1];
  return example::provision_and_send(p, "pd12");
}
