// a21 MQTT basic authentication with a client id only, no TLS: no user name, no password.
//   a21_basic_client_id HOST PORT CLIENT_ID
#include "auth_example.hpp"

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  char** arg = example::auth_args(argc, argv, "CLIENT_ID", 1, options);
  if (!arg) return 2;
  options.client_id = arg[0];
  return example::send_once(options, "a21");
}
