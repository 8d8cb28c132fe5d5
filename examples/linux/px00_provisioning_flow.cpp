// px00 the general provisioning flow, with tbmqtt::provisioned_client (the credential
// lifecycle): the first start provisions (server-generated token; a failed attempt is retried
// after 0, 1, 2 s, at most 3 attempts), saves the credentials to CREDENTIALS_FILE (mode 0600)
// before connecting with them; every later start connects with the saved credentials and does
// not provision again. Saved credentials the server refuses exit 6 (stored_credentials_refused)
// and stay; delete the file to provision anew. Other failures exit with the typed error (5:
// provision_not_found, provision_failed; 3: connection; 4: timeout).
//   px00_provisioning_flow HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_args(argc, argv, "", 0, p)) return 2;
  return example::provision_flow_and_send(p, "px00", /*max_attempts=*/3);
}
