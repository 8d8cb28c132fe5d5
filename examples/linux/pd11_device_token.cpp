// pd11 provisioning with a device-supplied access token, no TLS: the device chooses its token,
// provisions, saves the credentials, connects with the token and sends telemetry once.
//   pd11_device_token HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME TOKEN
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  char** arg = example::provision_args(argc, argv, "TOKEN", 1, p);
  if (!arg) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::access_token;
  p.request.token = arg[0];
  return example::provision_and_send(p, "pd11");
}
