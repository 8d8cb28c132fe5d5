// a23 MQTT basic authentication with client id, user name and password, no TLS: all three
// must match the device's credentials.
//   a23_basic_client_id_user_password HOST PORT CLIENT_ID USERNAME PASSWORD
#include "auth_example.hpp"

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  char** arg = example::auth_args(argc, argv, "CLIENT_ID USERNAME PASSWORD", 3, options);
  if (!arg) return 2;
  options.client_id = arg[0];
  options.username = arg[1];
  options.password = arg[2];
  return example::send_once(options, "a23");
}
