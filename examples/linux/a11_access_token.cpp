// a11 authentication with an access token, no TLS: the token is the MQTT user name.
//   a11_access_token HOST PORT TOKEN
#include "auth_example.hpp"

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  char** arg = example::auth_args(argc, argv, "TOKEN", 1, options);
  if (!arg) return 2;
  options.access_token = arg[0];
  return example::send_once(options, "a11");
}
