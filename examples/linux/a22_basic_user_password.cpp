// a22 MQTT basic authentication with a user name and password, no TLS (the client id is
// generated).
//   a22_basic_user_password HOST PORT USERNAME PASSWORD
#include "auth_example.hpp"

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  char** arg = example::auth_args(argc, argv, "USERNAME PASSWORD", 2, options);
  if (!arg) return 2;
  options.username = arg[0];
  options.password = arg[1];
  return example::send_once(options, "a22");
}
