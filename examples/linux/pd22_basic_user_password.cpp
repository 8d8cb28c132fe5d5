// pd22 provisioning with device-supplied MQTT basic credentials, user name + password, no TLS.
//   pd22_basic_user_password HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME USERNAME PASSWORD
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  char** arg = example::provision_args(argc, argv, "USERNAME PASSWORD", 2, p);
  if (!arg) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.username = arg[0];
  p.request.password = arg[1];
  return example::provision_and_send(p, "pd22");
}
