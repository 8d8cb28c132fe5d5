// pd24 provisioning with device-supplied MQTT basic credentials (client id, user name,
// password) over one-way TLS: the server's certificate is verified against CA_FILE.
//   pd24_basic_tls HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE CLIENT_ID USERNAME PASSWORD
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  char** arg = example::provision_args(argc, argv, "CA_FILE CLIENT_ID USERNAME PASSWORD", 4, p);
  if (!arg) return 2;
  example::use_tls(p, arg[0]);
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = arg[1];
  p.request.username = arg[2];
  p.request.password = arg[3];
  return example::provision_and_send(p, "pd24");
}
