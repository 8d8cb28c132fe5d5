// tbmqtt provision --key K --secret S [--name N] [--type token|basic|x509] [--device-token T]
//                  [--client-id C --username U --password P] [--cert-file F] [--gateway] [--save FILE [--force]]
//   provisions a new device (protocol doc §4) and prints its credentials as JSON, or saves them
//   (mode 0600) and says where on stderr without printing them.
// Global --credentials FILE: connect every other command with credentials saved by --save.
// With --provision-key K --provision-secret S [--provision-name N] [--provision-type T]
// [--reprovision] [--provision-attempts N] it runs the credential lifecycle first
// (tbmqtt::provisioned_client): FILE missing -> provision (retrying after 0, 1, 2, 4, ... s),
// save (0600), connect; FILE present -> connect with it; refused -> exit 6, or with --reprovision
// provision again. The requested credentials come from the global --token (device-chosen token),
// --client-id/--username/--password (basic) or --cert-file/--key-file (x509). SIGINT/SIGTERM
// cancel it.
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "commands.hpp"
#include "common.hpp"
#include "tbmqtt/linux/provisioned_client.hpp"

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
  bool force = false;  // --force: --save may replace an existing file
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path, errc::invalid_argument);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the device asks for. `certificate` receives the PEM the request's view points into.
provision_request request_for(std::string kind, const provision_args& a, std::string& certificate) {
  using type = provision_credentials_type;
  if (kind.empty())
    kind = !a.cert_file.empty() ? "x509" : (!a.client_id.empty() || !a.username.empty()) ? "basic" : "token";
  provision_request req;
  req.device_name = a.name;
  req.key = a.key;
  req.secret = a.secret;
  req.gateway = a.gateway;
  if (kind == "token") {
    req.credentials_type = a.device_token.empty() ? type::server_token : type::access_token;
    req.token = a.device_token;
  } else if (kind == "basic") {
    if (a.client_id.empty() && a.username.empty())
      fail("basic credentials need --client-id and/or --username", errc::invalid_argument);
    req.credentials_type = type::mqtt_basic;
    req.client_id = a.client_id;
    req.username = a.username;
    req.password = a.password;
  } else {
    if (a.cert_file.empty()) fail("x509 credentials need --cert-file", errc::invalid_argument);
    certificate = read_file(a.cert_file);
    req.credentials_type = type::x509;
    req.certificate_pem = certificate;
  }
  return req;
}

// Where to provision: host, port and server trust; no device credentials.
client_options server_of(const global_options& o) {
  client_options server;
  server.host = o.host;
  server.port = static_cast<std::uint16_t>(o.port);
  server.tls.enabled = o.tls;
  server.tls.ca = o.ca_file;
  server.tls.ca_dir = o.ca_dir;
  server.tls.insecure = o.insecure;
  return server;
}

// --save onto an existing file would replace credentials that may exist nowhere else (a
// server-generated token cannot be read back): refused unless --force, before anything is sent.
void check_save_target(const provision_args& a) {
  struct stat st {};
  if (a.save.empty() || a.force || ::lstat(a.save.c_str(), &st) != 0) return;
  fail_usage("provision: " + a.save +
             " exists and may hold the only copy of a device's credentials; choose another file, or add --force to "
             "replace it");
}

void run(const global_options& o, const provision_args& a) {
  if (a.secret.empty()) fail_usage("provision needs --secret, --secret-file or env TBMQTT_PROVISION_SECRET");
  check_save_target(a);
  std::string certificate;
  const provision_request req = request_for(a.type, a, certificate);
  auto creds = std::make_unique<credentials>();
  if (auto r = provision(server_of(o), req, o.timeout(), *creds); !r)
    fail(connection_context(o, "provision on", r.error()), r.error());
  if (a.save.empty()) {
    const std::string text = to_json(*creds);
    if (text.empty()) fail("provision: credentials longer than the SDK stores", errc::not_enough_space);
    print_line(text);
    return;
  }
  check_save_target(a);  // created meanwhile?
  if (auto r = save_credentials(a.save, *creds); !r) fail("cannot save credentials to " + a.save, r.error());
  report_message("credentials saved to " + a.save);
}
// Sets the connection credentials of every later command.
void use_credentials(global_options& o, const credentials& c) {
  if (c.type == provision_credentials_type::x509) return;  // the TLS client certificate is the credential
  client_options applied;
  apply_credentials(applied, c);
  o.token = applied.access_token;
  o.client_id = applied.client_id;
  o.username = applied.username;
  o.password = applied.password;
}

void use_saved_credentials(global_options& o, const std::string& path, bool allow_readable) {
  auto c = load_credentials(path, allow_readable);
  // An unreadable or malformed local file is the user's mistake (exit 2), not the server's.
  if (!c) fail("--credentials " + path + " (" + to_string(c.error()) + ")", errc::invalid_argument);
  use_credentials(o, *c);
  o.stored_credentials = true;
}

/// The global options of the credential lifecycle.
struct lifecycle_args {
  std::string file;  // --credentials
  std::string key;
  std::string secret;
  std::string name;
  std::string type;
  bool reprovision = false;
  unsigned attempts = 0;
  bool allow_readable = false;  // --allow-readable-credentials
};

// Like OpenSSH with private keys: a credentials file that group or others may read (or write) is
// refused, unless the user says otherwise. A missing file is not checked here.
void check_credentials_mode(const lifecycle_args& a) {
  struct stat st {};
  if (a.allow_readable || ::stat(a.file.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  fail("--credentials " + a.file + " is accessible by others (mode " + mode +
           "): chmod 600 it, or pass "
           "--allow-readable-credentials",
       errc::invalid_argument);
}

// While alive, SIGINT and SIGTERM cancel `target` instead of ending the process: they are blocked
// in every thread started meanwhile and taken by one sigwait() thread.
class cancel_on_signal {
 public:
  explicit cancel_on_signal(provisioned_client& target) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);  // our own "stop watching"
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
    watcher_ = std::thread([this, &target] {
      int signo = 0;
      while (sigwait(&set_, &signo) == 0 && signo == SIGUSR1 && !done_) {}
      if (signo != SIGUSR1) {
        caught_ = signo;
        target.cancel();
      }
    });
  }
  ~cancel_on_signal() {
    done_ = true;
    pthread_kill(watcher_.native_handle(), SIGUSR1);
    watcher_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  /// The signal that cancelled, or 0.
  int caught() const { return caught_; }

 private:
  sigset_t set_{};
  sigset_t previous_{};
  std::atomic<bool> done_{false};
  std::atomic<int> caught_{0};
  std::thread watcher_;
};

// --credentials FILE with --provision-key: the lifecycle, checked with one connection that ends
// before the command connects with the same credentials.
void run_lifecycle(global_options& o, const lifecycle_args& a) {
  if (a.secret.empty()) fail("--provision-key needs --provision-secret", errc::invalid_argument);
  provision_args request_args;
  request_args.key = a.key;
  request_args.secret = a.secret;
  request_args.name = a.name;
  request_args.device_token = o.token_from_env ? std::string() : o.token;  // only an explicit --token
  request_args.client_id = o.client_id;
  request_args.username = o.username;
  request_args.password = o.password;
  request_args.cert_file = o.cert_file;
  std::string certificate;
  provisioning_options p;
  p.request = request_for(a.type, request_args, certificate);
  p.credentials_file = a.file;
  p.allow_readable_credentials_file = a.allow_readable;
  p.allow_reprovision = a.reprovision;
  p.max_attempts = a.attempts;
  p.attempt_timeout = o.timeout();
  p.on_retry = [](std::uint32_t attempt, errc e, std::chrono::milliseconds wait) {
    report_message("provisioning attempt " + std::to_string(attempt) + " failed (" + to_string(e) + "); next in " +
                   std::to_string(wait.count() / 1000) + " s");
  };
  client_options server = server_of(o);
  server.tls.certificate = o.cert_file;
  server.tls.private_key = o.key_file;
  server.tls.key_password = key_password(o);
  server.default_qos = o.message_qos();

  provisioned_client device{server, p};
  result<void> r;
  int signo = 0;
  {
    cancel_on_signal signals{device};
    r = device.connect(o.timeout());
    signo = signals.caught();
  }
  if (signo != 0)
    fail(std::string("provisioning interrupted by ") + (signo == SIGINT ? "SIGINT" : "SIGTERM"), errc::cancelled);
  if (!r && r.error() == errc::stored_credentials_refused)
    fail("the server refused the credentials in " + a.file + " (--reprovision replaces them)", r.error());
  if (!r && device.attempts() > 0)
    fail(connection_context(o, "provisioning on", r.error()) + " (" + std::to_string(device.attempts()) + " attempts" +
             (device.attempts() == a.attempts ? ", the --provision-attempts bound" : "") + ")",
         r.error());
  if (!r) fail("--credentials " + a.file + ": " + connection_context(o, "connect to", r.error()), r.error());
  if (device.provisioned()) report_message("provisioned; credentials saved to " + a.file);
  use_credentials(o, device.current());
}

void resolve_credentials(CLI::App& app, global_options& o, const lifecycle_args& a) {
  const bool provisioning = !a.key.empty() || !a.secret.empty() || a.reprovision || !a.name.empty() || !a.type.empty();
  if (a.file.empty()) {
    if (provisioning) fail("--provision-* and --reprovision need --credentials FILE", errc::invalid_argument);
    return;
  }
  for (const auto* sub : app.get_subcommands())
    if (sub->get_name() == "provision" || sub->get_name() == "emulator") return;  // they do not connect as a device
  check_credentials_mode(a);
  if (provisioning) {
    if (a.key.empty()) fail("--reprovision and --provision-* need --provision-key", errc::invalid_argument);
    run_lifecycle(o, a);
    return;
  }
  if (::access(a.file.c_str(), F_OK) != 0)
    fail("--credentials " + a.file + ": no such file (--provision-key and --provision-secret provision one)",
         errc::invalid_argument);
  use_saved_credentials(o, a.file, a.allow_readable);
}

}  // namespace

void add_provision_commands(CLI::App& app, global_options& options) {
  auto life = std::make_shared<lifecycle_args>();
  const char* group = "Provisioning";
  app.add_option("--credentials", life->file,
                 "Connect with credentials saved by `provision --save`; with --provision-key: provision and save "
                 "them first when FILE is missing")
      ->group("Connection");
  app.add_option("--provision-key", life->key, "With --credentials: provision device key")->group(group);
  app.add_option("--provision-secret", life->secret,
                 "With --credentials: provision device secret (or env "
                 "TBMQTT_PROVISION_SECRET, or --provision-secret-file; argv shows in ps)")
      ->envname("TBMQTT_PROVISION_SECRET")
      ->group(group);
  add_secret_file_option(app, "--provision-secret", life->secret);
  app.add_flag("--allow-readable-credentials", life->allow_readable,
               "Use a --credentials file even when its group or others may read it (refused otherwise)")
      ->group("Connection");
  app.add_option("--provision-name", life->name, "Device name to provision (default: the server picks one)")
      ->group(group);
  app.add_option("--provision-type", life->type,
                 "Credentials to provision: token (server-generated, or --token), basic (--client-id, --username, "
                 "--password), x509 (--cert-file)")
      ->check(CLI::IsMember({"token", "basic", "x509"}))
      ->group(group);
  app.add_flag("--reprovision", life->reprovision, "Provision again when the server refuses the saved credentials")
      ->group(group);
  app.add_option("--provision-attempts", life->attempts, "Provisioning attempts before giving up (0: until SIGINT)")
      ->capture_default_str()
      ->group(group);
  app.parse_complete_callback([&app, &options, life] { resolve_credentials(app, options, *life); });

  auto args = std::make_shared<provision_args>();
  auto* cmd = app.add_subcommand("provision", "Provision a new device with a provisioning key and secret");
  cmd->add_option("--key", args->key, "Provision device key")->required();
  cmd->add_option("--secret", args->secret,
                  "Provision device secret (or env TBMQTT_PROVISION_SECRET, or --secret-file; argv shows in ps)")
      ->envname("TBMQTT_PROVISION_SECRET");
  add_secret_file_option(*cmd, "--secret", args->secret);
  cmd->add_option("--name", args->name, "Device name (default: the server picks one)");
  cmd->add_option("--type", args->type, "Credentials: token (server-generated or --device-token), basic, x509")
      ->check(CLI::IsMember({"token", "basic", "x509"}));
  cmd->add_option("--device-token", args->device_token, "Access token the device chooses (argv shows in ps)");
  add_secret_file_option(*cmd, "--device-token", args->device_token);
  cmd->add_option("--client-id", args->client_id, "MQTT basic client id");
  cmd->add_option("--username", args->username, "MQTT basic user name");
  cmd->add_option("--password", args->password, "MQTT basic password (or --password-file; argv shows in ps)");
  add_secret_file_option(*cmd, "--password", args->password);
  cmd->add_option("--cert-file", args->cert_file, "X.509 certificate (PEM) of the device")->check(CLI::ExistingFile);
  cmd->add_flag("--gateway", args->gateway, "Provision the device as a gateway");
  cmd->add_option("--save", args->save,
                  "Save the credentials to this new file (mode 0600) instead of printing them; an existing file is "
                  "refused unless --force");
  cmd->add_flag("--force", args->force, "With --save: replace an existing file");
  cmd->callback([&options, args] { run(options, *args); });
}

}  // namespace tbmqtt::cli
