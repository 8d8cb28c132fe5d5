// ps10 provisioning with server-generated credentials, no TLS: the request carries no
// credentials and the server answers with a new access token.
//   ps10_server_generated HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;  // request.credentials_type: server_token by default
  if (!example::provision_args(argc, argv, "", 0, p)) return 2;
  return example::provision_and_send(p, "ps10");
}
