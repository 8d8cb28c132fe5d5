// pd21 provisioning with device-supplied MQTT basic credentials, client id only, no TLS.
//   pd21_basic_client_id HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CLIENT_ID
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  char** arg = example::provision_args(argc, argv, "CLIENT_ID", 1, p);
  if (!arg) return 2;
  p.request.credentials_type = tbmqtt::provision_credentials_type::mqtt_basic;
  p.request.client_id = arg[0];
  return example::provision_and_send(p, "pd21");
}
