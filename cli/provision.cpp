// tbmqtt provision --key K --secret S [--name N] [--type token|basic|x509] [--device-token T]
//                  [--client-id C --username U --password P] [--cert-file F] [--gateway] [--save FILE]
//   provisions a new device (protocol doc §4) and prints its credentials as JSON, or saves them
//   (mode 0600) and says where on stderr without printing them.
// Global --credentials FILE: connect every other command with credentials saved by --save.
#include <CLI/CLI.hpp>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "common.hpp"
#include "tbmqtt/provisioning.hpp"

namespace tbmqtt::cli {
namespace {

struct provision_args {
  std::string key;
  std::string secret;
  std::string name;
  std::string type;  // "": from the other options
  std::string device_token;
  std::string client_id;
  std::string username;
  std::string password;
  std::string cert_file;
  bool gateway = false;
  std::string save;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path, errc::invalid_argument);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void run(const global_options& o, const provision_args& a) {
  using type = provision_credentials_type;
  std::string kind = a.type;
  if (kind.empty())
    kind = !a.cert_file.empty() ? "x509" : (!a.client_id.empty() || !a.username.empty()) ? "basic" : "token";
  provision_request req;
  req.device_name = a.name;
  req.key = a.key;
  req.secret = a.secret;
  req.gateway = a.gateway;
  std::string certificate;
  if (kind == "token") {
    req.credentials_type = a.device_token.empty() ? type::server_token : type::access_token;
    req.token = a.device_token;
  } else if (kind == "basic") {
    if (a.client_id.empty() && a.username.empty())
      fail("--type basic needs --client-id and/or --username", errc::invalid_argument);
    req.credentials_type = type::mqtt_basic;
    req.client_id = a.client_id;
    req.username = a.username;
    req.password = a.password;
  } else {
    if (a.cert_file.empty()) fail("--type x509 needs --cert-file", errc::invalid_argument);
    certificate = read_file(a.cert_file);
    req.credentials_type = type::x509;
    req.certificate_pem = certificate;
  }

  client_options server;
  server.host = o.host;
  server.port = static_cast<std::uint16_t>(o.port);
  server.tls.enabled = o.tls;
  server.tls.ca_file = o.ca_file;
  server.tls.ca_dir = o.ca_dir;
  server.tls.insecure = o.insecure;
  auto creds = provision(server, req, o.timeout());
  if (!creds) fail(connection_context(o, "provision on", creds.error()), creds.error());
  if (a.save.empty()) {
    print_line(to_json(*creds));
    return;
  }
  if (auto r = save_credentials(a.save, *creds); !r) fail("cannot save credentials to " + a.save, r.error());
  report_message("credentials saved to " + a.save);
}

void use_saved_credentials(global_options& o, const std::string& path) {
  auto c = load_credentials(path);
  // An unreadable or malformed local file is the user's mistake (exit 2), not the server's.
  if (!c) fail("--credentials " + path + " (" + to_string(c.error()) + ")", errc::invalid_argument);
  client_options applied;
  apply_credentials(applied, *c);
  if (c->type == provision_credentials_type::x509) return;  // the TLS client certificate is the credential
  o.token = applied.access_token;
  o.client_id = applied.client_id;
  o.username = applied.username;
  o.password = applied.password;
}

}  // namespace

void add_provision_commands(CLI::App& app, global_options& options) {
  app.add_option_function<std::string>(
         "--credentials", [&options](const std::string& path) { use_saved_credentials(options, path); },
         "Connect with credentials saved by `provision --save`")
      ->check(CLI::ExistingFile)
      ->group("Connection");

  auto args = std::make_shared<provision_args>();
  auto* cmd = app.add_subcommand("provision", "Provision a new device with a provisioning key and secret");
  cmd->add_option("--key", args->key, "Provision device key")->required();
  cmd->add_option("--secret", args->secret, "Provision device secret")->required();
  cmd->add_option("--name", args->name, "Device name (default: the server picks one)");
  cmd->add_option("--type", args->type, "Credentials: token (server-generated or --device-token), basic, x509")
      ->check(CLI::IsMember({"token", "basic", "x509"}));
  cmd->add_option("--device-token", args->device_token, "Access token the device chooses");
  cmd->add_option("--client-id", args->client_id, "MQTT basic client id");
  cmd->add_option("--username", args->username, "MQTT basic user name");
  cmd->add_option("--password", args->password, "MQTT basic password");
  cmd->add_option("--cert-file", args->cert_file, "X.509 certificate (PEM) of the device")->check(CLI::ExistingFile);
  cmd->add_flag("--gateway", args->gateway, "Provision the device as a gateway");
  cmd->add_option("--save", args->save, "Save the credentials to this file (mode 0600) instead of printing them");
  cmd->callback([&options, args] { run(options, *args); });
}

}  // namespace tbmqtt::cli
