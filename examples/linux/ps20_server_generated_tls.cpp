// ps20 provisioning with server-generated credentials over one-way TLS: the server's
// certificate is verified against CA_FILE for provisioning and for the device connection.
//   ps20_server_generated_tls HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME CA_FILE
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;  // request.credentials_type: server_token by default
  char** arg = example::provision_args(argc, argv, "CA_FILE", 1, p);
  if (!arg) return 2;
  example::use_tls(p, arg[0]);
  return example::provision_and_send(p, "ps20");
}
