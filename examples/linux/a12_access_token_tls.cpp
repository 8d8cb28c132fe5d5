// a12 authentication with an access token over one-way TLS: the server's certificate is
// verified against CA_FILE; the device proves itself with the token (the MQTT user name).
//   a12_access_token_tls HOST PORT CA_FILE TOKEN
#include "auth_example.hpp"

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  char** arg = example::auth_args(argc, argv, "CA_FILE TOKEN", 2, options);
  if (!arg) return 2;
  options.tls.enabled = true;
  options.tls.ca = arg[0];
  options.access_token = arg[1];
  return example::send_once(options, "a12");
}
