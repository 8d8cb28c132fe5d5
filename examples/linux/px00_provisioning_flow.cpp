// px00 the general provisioning flow: the first start provisions (server-generated token),
// saves the credentials to CREDENTIALS_FILE (mode 0600) and connects with them; every later
// start connects with the saved credentials and does not provision again. Delete the file to
// provision anew. A refused request exits with the typed error (5: provision_not_found,
// provision_failed; 3: connection; 4: timeout).
//   px00_provisioning_flow HOST PORT KEY SECRET CREDENTIALS_FILE DEVICE_NAME
#include "provision_example.hpp"

int main(int argc, char** argv) {
  example::provisioning p;
  if (!example::provision_args(argc, argv, "", 0, p)) return 2;
  return example::provision_and_send(p, "px00", /*reuse_saved=*/true);
}
