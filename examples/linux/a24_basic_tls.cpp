// a24 MQTT basic authentication (client id, user name, password) over one-way TLS: the
// server's certificate is verified against CA_FILE.
//   a24_basic_tls HOST PORT CA_FILE CLIENT_ID USERNAME PASSWORD
#include "auth_example.hpp"

int main(int argc, char** argv) {
  tbmqtt::client_options options;
  char** arg = example::auth_args(argc, argv, "CA_FILE CLIENT_ID USERNAME PASSWORD", 4, options);
  if (!arg) return 2;
  options.tls.enabled = true;
  options.tls.ca = arg[0];
  options.client_id = arg[1];
  options.username = arg[2];
  options.password = arg[3];
  return example::send_once(options, "a24");
}
