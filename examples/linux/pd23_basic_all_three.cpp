// pd23 provisioning with device-supplied MQTT basic credentials: client id, user name and
// password, no TLS.
//   pd23_basic_all_three HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CLIENT_ID USERNAME PASSWORD
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  char** arg = example::provision_args(argc, argv, "CLIENT_ID USERNAME PASSWORD", 3, p);
  if (!arg) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = arg[0];
  p.request.username = arg[1];
  p.request.password = arg[2];
  return example::provision_and_send(p, "pd23");
}
