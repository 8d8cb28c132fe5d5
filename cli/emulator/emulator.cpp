// tbmqtt emulator ...: runs and drives the local ThingsBoard emulator (emulator/README.md).
//
//   tbmqtt emulator start [--port P] [--state DIR] [--plugin PATH] [--tls [--tls-port P] [--x509-port Q]]
//   tbmqtt emulator cert issue NAME [--out DIR]                      device key + cert signed by the emulator CA
//   tbmqtt emulator device add NAME [--token T | --client-id C --username U --password P | --cert-file PEM]
//   tbmqtt emulator device list                                       every device, with "active"
//   tbmqtt emulator attributes set DEVICE JSON                        shared attributes (pushed)
//   tbmqtt emulator attributes get DEVICE                             client, shared and server attributes
//   tbmqtt emulator telemetry DEVICE                                  latest values as JSON
//   tbmqtt emulator rpc DEVICE METHOD [PARAMS] [--oneway] [--timeout-ms N]
//   tbmqtt emulator rpc DEVICE METHOD [PARAMS] --persistent [--expiration-ms N] [--retries N]   prints {"rpcId"}
//   tbmqtt emulator rpc-status RPC_ID | rpc-list DEVICE                persistent RPCs and their states
//   tbmqtt emulator rpc-handler set METHOD REPLY_JSON [--device D] | set --get-current-time | remove METHOD
//   tbmqtt emulator claim accept DEVICE [--secret-key K]             the user's claim call
//   tbmqtt emulator ota assign DEVICE FILE --title T --version V [--checksum-algorithm ALG] [--software]
//   tbmqtt emulator ota state DEVICE
//   tbmqtt emulator profile add --key K --secret S [--strategy allow-create|check-preprovisioned]
//   tbmqtt emulator device-profile add NAME [--telemetry-proto F] [--attributes-proto F] [--rpc-request-proto F]
//       [--rpc-response-proto F] [--payload-type JSON|PROTOBUF] [--send-ack-on-validation-exception] [--json-compatibility]
//       [--json-downlink]
//   tbmqtt emulator device-profile assign DEVICE PROFILE
//
// Built as the library target tbmqtt_cli_emulator (emulator/CMakeLists.txt), which cli/main.cpp
// registers when it exists. The admin commands reach the running emulator through the global
// --host/--port (default: the host and port recorded in the state directory) and read the admin
// credentials from --state DIR (default: tbmqtt::emulator::default_state_dir(), as for start).
//
// The admin library reports every failure as an admin_error of a kind; errc_of() turns the kind
// into an errc so that main()'s exit_code() stays the one place that maps errors to exit codes.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "common.hpp"
#include "emulator_admin.hpp"

#ifndef TBMQTT_CLI_EMULATOR_PLUGIN_INSTALLED
#define TBMQTT_CLI_EMULATOR_PLUGIN_INSTALLED "/usr/local/lib/libtbmqtt_emulator.so"
#endif

namespace tbmqtt::cli {
namespace {

namespace em = tbmqtt::emulator;

struct emulator_args {
  std::string state_dir;
  std::string plugin;
  // device add
  std::string name;
  em::device_credentials creds;
  bool gateway = false;
  long count = 0;  // device add --count: bulk
  std::string prefix, tokens_out;
  // attributes / telemetry / rpc / ota
  std::string device;
  std::string json;
  std::string method;
  std::string params;
  bool oneway = false;
  long long timeout_ms = 10000;
  bool persistent = false;
  long long expiration_ms = 60000;
  int retries = -1;
  std::string rpc_id;
  std::string reply;
  bool current_time = false;
  std::string secret_key;
  std::string file;
  std::string title;
  std::string version;
  std::string checksum_algorithm = "SHA256";
  bool software = false;
  // profile add
  std::string key;
  std::string secret;
  // device-profile add / assign (payload type PROTOBUF, issue 18)
  std::string payload_type;
  std::string telemetry_proto, attributes_proto, rpc_request_proto, rpc_response_proto;
  bool send_ack = false, json_compat = false, json_downlink = false;
  std::string profile_name;
  // start --tls, cert issue
  bool tls = false;
  int tls_port = 8883;
  int x509_port = 0;
  std::string out_dir = ".";
  std::string strategy = "allow-create";
};

/// The global options this group reads (added to the top-level app before us).
struct globals {
  CLI::Option* host = nullptr;
  CLI::Option* port = nullptr;
  CLI::Option* timeout = nullptr;
};

errc errc_of(em::admin_error::kind k) {
  using kind = em::admin_error::kind;
  switch (k) {
    case kind::unreachable: return errc::unreachable;
    case kind::refused: return errc::refused_credentials;
    case kind::disconnected: return errc::disconnected;
    case kind::timeout: return errc::timeout;
    case kind::invalid_argument: return errc::invalid_argument;
    case kind::local: return errc::system_error;
    case kind::server: return errc::server_error;
  }
  return errc::server_error;
}

em::connection connection_of(const globals& g, const emulator_args& a) {
  em::connection c;
  c.state_dir = a.state_dir;
  if (g.host->count() > 0) c.host = g.host->as<std::string>();
  if (g.port->count() > 0) c.port = g.port->as<int>();
  if (g.timeout->count() > 0)
    c.timeout = parse_duration(g.timeout->as<std::string>(), std::chrono::seconds(1)).value_or(c.timeout);
  return c;
}

/// Runs one admin call and prints its JSON result; failures become cli::failure.
template <typename F>
void run_admin(const std::string& what, F&& call) {
  std::string out;
  try {
    out = call();
  } catch (const em::admin_error& e) {
    fail(what + ": " + e.what(), errc_of(e.which()));
  }
  print_line(out);
}

/// `device add --count N --prefix P [--tokens-out FILE]`: bulk creation for load tests.
void add_many(const globals& g, const emulator_args& a) {
  const std::string what = "emulator device add --count " + std::to_string(a.count);
  int fd = -1;
  if (!a.tokens_out.empty()) {  // created first: a bad path fails before any device is added
    fd = ::open(a.tokens_out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
      fail(what + ": --tokens-out " + a.tokens_out + ": " + std::strerror(errno) + " (it must not exist)",
           errc::invalid_argument);
  }
  std::string out;
  try {
    out = em::device_add_many(connection_of(g, a), a.prefix, a.count, a.gateway);
  } catch (const em::admin_error& e) {
    if (fd >= 0) {
      ::close(fd);
      ::unlink(a.tokens_out.c_str());
    }
    fail(what + ": " + e.what(), errc_of(e.which()));
  }
  if (fd < 0) return print_line(out);
  const auto devices = nlohmann::json::parse(out);
  std::string text;
  for (const auto& d : devices) text += d.at("token").get<std::string>() + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) fail(what + ": writing " + a.tokens_out + " failed", errc::storage_error);
  print_line(nlohmann::json{
      {"added", devices.size()}, {"prefix", a.prefix}, {"gateway", a.gateway}, {"tokensOut", a.tokens_out}}
                 .dump());
}

bool readable(const std::string& path) { return !path.empty() && ::access(path.c_str(), R_OK) == 0; }

/// @brief The plugin: --plugin, else $TBMQTT_EMULATOR_PLUGIN, else ../lib next to this binary,
/// else the compiled-in install path; empty lets the admin library try its build-tree path.
std::string find_plugin(const std::string& flag) {
  if (!flag.empty()) {
    if (!readable(flag))
      fail("emulator start: cannot read plugin " + flag + " (check the path; built as lib/libtbmqtt_emulator.so)",
           errc::invalid_argument);
    return flag;
  }
  if (const char* env = std::getenv("TBMQTT_EMULATOR_PLUGIN"); env && *env) return env;
  char exe[4096] = {0};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string dir(exe, static_cast<std::size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    if (std::string p = dir + "/../lib/libtbmqtt_emulator.so"; readable(p)) return p;
  }
  if (readable(TBMQTT_CLI_EMULATOR_PLUGIN_INSTALLED)) return TBMQTT_CLI_EMULATOR_PLUGIN_INSTALLED;
  return {};
}

/// The ready-made client-side RPC handler: getCurrentTime answered with {"time":<epoch ms>}
/// (what ThingsBoard's documented rule chain example returns, and what the h31 example reads).
constexpr const char* current_time_method = "getCurrentTime";
constexpr const char* current_time_reply = R"({"time":"${now}"})";

void run_start(const globals& g, const emulator_args& a) {
  em::start_options so;
  so.state_dir = a.state_dir;
  so.port = g.port->count() > 0 ? g.port->as<int>() : 1883;
  so.plugin_path = find_plugin(a.plugin);
  so.tls = a.tls;
  so.tls_port = a.tls_port;
  so.x509_port = a.x509_port;
  if (a.current_time) {
    so.on_ready = [](const em::connection& c) {
      em::rpc_handler_set(c, current_time_method, current_time_reply);
      return std::string("client-side RPC ") + current_time_method + " answers " + current_time_reply;
    };
  }
  int status = 0;
  try {
    status = em::start(so, std::cout);
  } catch (const failure&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("emulator start: ") + e.what());
  }
  if (status != 0)
    throw std::runtime_error("emulator start: mosquitto exited with status " + std::to_string(status) +
                             " (see its log above)");
}

/// A JSON object argument (attributes set): exit 2 when it is not one.
void require_object(const std::string& text, const std::string& what) {
  require_json(text, what);
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{')
    fail(what + ": not a JSON object (e.g. '{\"mode\":\"eco\"}', quoted for the shell)", errc::invalid_argument);
}

}  // namespace

void add_emulator_commands(CLI::App& app) {
  auto a = std::make_shared<emulator_args>();
  globals g;
  g.host = app.get_option("--host");
  g.port = app.get_option("--port");
  g.timeout = app.get_option("--timeout");

  auto* emu = app.add_subcommand("emulator", "Run and drive the local ThingsBoard emulator (a mosquitto plugin)");
  emu->require_subcommand(1);
  emu->add_option("--state", a->state_dir,
                  "Emulator state directory (default $TBMQTT_EMULATOR_STATE, else " + em::default_state_dir() +
                      "); holds the admin credentials");

  auto* start = emu->add_subcommand(
      "start",
      "Run the emulator in the foreground on 127.0.0.1:--port (default 1883); prints the default device's token");
  start->add_option("--plugin", a->plugin, "Path of libtbmqtt_emulator.so (default: ../lib next to tbmqtt)");
  start->add_flag("--tls", a->tls,
                  "Also listen with TLS: one-way on --tls-port, X.509 client certificates on --x509-port "
                  "(CA and server certificate created in the state directory)");
  start->add_option("--tls-port", a->tls_port, "One-way TLS port (token / basic credentials)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  start
      ->add_option("--x509-port", a->x509_port,
                   "Mutual TLS port for X.509 device certificates (default --tls-port + 1)")
      ->check(CLI::Range(1, 65535));
  start->add_flag("--get-current-time", a->current_time,
                  "Answer every device's client-side RPC getCurrentTime with {\"time\":<epoch ms>}");
  start->callback([g, a] { run_start(g, *a); });

  auto* certs = emu->add_subcommand("cert", "Device certificates signed by the emulator CA");
  certs->require_subcommand(1);
  auto* issue = certs->add_subcommand(
      "issue", "Write OUT/NAME.key and OUT/NAME.crt signed by the emulator CA; register with device add --cert-file");
  issue->add_option("name", a->name, "Certificate (and file) name; also its CN")->required();
  issue->add_option("--out", a->out_dir, "Output directory")->capture_default_str();
  issue->callback([a] {
    run_admin("emulator cert issue " + a->name,
              [&] { return em::issue_device_cert(a->state_dir, a->name, a->out_dir); });
  });

  auto* device = emu->add_subcommand("device", "Devices");
  device->require_subcommand(1);
  auto* add =
      device->add_subcommand("add", "Add a device; prints it with its credentials (default: a new access token)");
  auto* add_name = add->add_option("name", a->name, "Device name");
  auto* count =
      add->add_option("--count", a->count, "Bulk: add N devices named <prefix>0 .. <prefix>N-1 with new access tokens")
          ->check(CLI::Range(1L, 1000000L));
  auto* prefix = add->add_option("--prefix", a->prefix, "Bulk: name prefix (with --count)");
  auto* tokens_out = add->add_option(
      "--tokens-out", a->tokens_out,
      "Bulk: write the tokens, one a line in name order, to this new file (0600; must not exist) and print a "
      "summary instead of the tokens (the input of tbmqtt fleet --tokens)");
  count->needs(prefix)->excludes(add_name);
  prefix->needs(count);
  tokens_out->needs(count);
  auto* token = add->add_option("--token", a->creds.token, "Access token");
  auto* cid = add->add_option("--client-id", a->creds.client_id, "MQTT basic client id");
  auto* user = add->add_option("--username", a->creds.username, "MQTT basic user name");
  auto* pass = add->add_option("--password", a->creds.password, "MQTT basic password");
  auto* cert =
      add->add_option("--cert-file", a->creds.cert_file, "X.509 client certificate (PEM)")->check(CLI::ExistingFile);
  token->excludes(cid)->excludes(user)->excludes(pass)->excludes(cert);
  for (auto* o : {token, cid, user, pass, cert}) o->excludes(count);
  cert->excludes(cid)->excludes(user)->excludes(pass);
  add->add_flag("--gateway", a->gateway, "The device is a gateway");
  add->callback([g, a] {
    if (a->count > 0) return add_many(g, *a);
    if (a->name.empty()) fail_usage("device add needs NAME, or --count N --prefix P");
    run_admin("emulator device add " + a->name,
              [&] { return em::device_add(connection_of(g, *a), a->name, a->creds, a->gateway); });
  });
  auto* stats = emu->add_subcommand(
      "stats", "The server side of a load test: devices, active ones, telemetry messages stored (per device)");
  stats->add_option("--prefix", a->prefix, "Only devices whose name starts with this");
  stats->callback([g, a] { run_admin("emulator stats", [&] { return em::stats(connection_of(g, *a), a->prefix); }); });
  auto* list =
      device->add_subcommand("list", "Print every device (credentials, gateway, parent, active) as a JSON array");
  list->callback([g, a] { run_admin("emulator device list", [&] { return em::device_list(connection_of(g, *a)); }); });

  auto* attrs = emu->add_subcommand("attributes", "Attributes: set shared ones (pushed), get all three scopes");
  attrs->require_subcommand(1);
  auto* set = attrs->add_subcommand("set", "Set shared attributes (null deletes) and push them to the device");
  set->add_option("device", a->device, "Device name")->required();
  set->add_option("json", a->json, "JSON object, e.g. {\"mode\":\"eco\"}")->required();
  set->callback([g, a] {
    require_object(a->json, "attributes");
    run_admin("emulator attributes set " + a->device,
              [&] { return em::attributes_set(connection_of(g, *a), a->device, a->json); });
  });

  auto* get = attrs->add_subcommand("get", "Print the device's client, shared and server attributes as JSON");
  get->add_option("device", a->device, "Device name")->required();
  get->callback([g, a] {
    run_admin("emulator attributes get " + a->device,
              [&] { return em::attributes_get(connection_of(g, *a), a->device); });
  });

  auto* tel = emu->add_subcommand("telemetry", "Print the device's latest telemetry values as JSON");
  tel->add_option("device", a->device, "Device name")->required();
  tel->callback([g, a] {
    run_admin("emulator telemetry " + a->device, [&] { return em::telemetry(connection_of(g, *a), a->device); });
  });

  auto* rpc = emu->add_subcommand(
      "rpc", "Server-side RPC to a device; prints the device's reply (with --persistent: the RPC id, see rpc-status)");
  rpc->add_option("device", a->device, "Device name")->required();
  rpc->add_option("method", a->method, "Method name")->required();
  rpc->add_option("params", a->params, "Params as JSON (default {})");
  rpc->add_flag("--oneway", a->oneway, "One-way RPC: prints {\"delivered\":true} once sent");
  auto* timeout_ms = rpc->add_option("--timeout-ms", a->timeout_ms, "How long the emulator waits for the reply")
                         ->check(CLI::PositiveNumber)
                         ->capture_default_str();
  auto* persistent = rpc->add_flag("--persistent", a->persistent,
                                   "A persistent RPC (ThingsBoard's QUEUED/SENT/DELIVERED/SUCCESSFUL/TIMEOUT/EXPIRED/"
                                   "FAILED states): prints {\"rpcId\":..} at once; read it with rpc-status");
  auto* expiration = rpc->add_option("--expiration-ms", a->expiration_ms,
                                     "Persistent RPC: expires this long after it is sent (then EXPIRED)")
                         ->check(CLI::PositiveNumber)
                         ->capture_default_str();
  auto* retries =
      rpc->add_option("--retries", a->retries, "Persistent RPC: delivery retries before FAILED (default and maximum 5)")
          ->check(CLI::Range(0, 5));
  expiration->needs(persistent);
  retries->needs(persistent);
  timeout_ms->excludes(persistent);
  rpc->callback([g, a] {
    if (a->params.empty()) a->params = "{}";
    require_json(a->params, "params");
    if (a->persistent) {
      em::persistent_rpc_options po;
      po.oneway = a->oneway;
      po.expiration = std::chrono::milliseconds(a->expiration_ms);
      po.retries = a->retries;
      run_admin("emulator rpc " + a->device + " " + a->method,
                [&] { return em::rpc_persistent(connection_of(g, *a), a->device, a->method, a->params, po); });
      return;
    }
    em::rpc_options ro;
    ro.oneway = a->oneway;
    ro.timeout = std::chrono::milliseconds(a->timeout_ms);
    run_admin("emulator rpc " + a->device + " " + a->method,
              [&] { return em::rpc(connection_of(g, *a), a->device, a->method, a->params, ro); });
  });

  auto* status = emu->add_subcommand("rpc-status", "Print a persistent RPC: status, retries, response, history");
  status->add_option("rpc_id", a->rpc_id, "The id printed by rpc --persistent")->required();
  status->callback([g, a] {
    run_admin("emulator rpc-status " + a->rpc_id, [&] { return em::rpc_status(connection_of(g, *a), a->rpc_id); });
  });
  auto* rpc_list = emu->add_subcommand("rpc-list", "Print the device's persistent RPCs (oldest first)");
  rpc_list->add_option("device", a->device, "Device name")->required();
  rpc_list->callback([g, a] {
    run_admin("emulator rpc-list " + a->device, [&] { return em::rpc_list(connection_of(g, *a), a->device); });
  });

  auto* handler = emu->add_subcommand("rpc-handler", "Answers to the devices' client-side RPCs");
  handler->require_subcommand(1);
  auto* hset = handler->add_subcommand(
      "set", "Answer client-side RPC METHOD with REPLY_JSON (\"${now}\", \"${params}\", \"${method}\" are filled in)");
  auto* hmethod = hset->add_option("method", a->method, "Method name, e.g. getCurrentTime");
  auto* hreply = hset->add_option("reply", a->reply, "Reply JSON, e.g. '{\"time\":\"${now}\"}'");
  auto* hcurrent = hset->add_flag("--get-current-time", a->current_time,
                                  "The ready handler: getCurrentTime answers {\"time\":<epoch ms>}");
  hcurrent->excludes(hmethod)->excludes(hreply);
  hset->add_option("--device", a->device, "Only for this device (default: every device)");
  hset->callback([g, a] {
    if (a->current_time) {
      a->method = current_time_method;
      a->reply = current_time_reply;
    }
    if (a->method.empty() || a->reply.empty())
      fail("emulator rpc-handler set: give METHOD and REPLY_JSON, or --get-current-time", errc::invalid_argument);
    require_json(a->reply, "reply");
    run_admin("emulator rpc-handler set " + a->method,
              [&] { return em::rpc_handler_set(connection_of(g, *a), a->method, a->reply, a->device); });
  });
  auto* hremove = handler->add_subcommand("remove", "Stop answering client-side RPC METHOD");
  hremove->add_option("method", a->method, "Method name")->required();
  hremove->add_option("--device", a->device, "The per-device handler (default: the one for every device)");
  hremove->callback([g, a] {
    run_admin("emulator rpc-handler remove " + a->method,
              [&] { return em::rpc_handler_set(connection_of(g, *a), a->method, "", a->device); });
  });

  auto* claim = emu->add_subcommand("claim", "Device claiming");
  claim->require_subcommand(1);
  auto* accept = claim->add_subcommand(
      "accept", "Claim DEVICE as a user would: prints {\"result\":\"SUCCESS\"|\"FAILURE\"|\"CLAIMED\"}");
  accept->add_option("device", a->device, "Device name")->required();
  accept->add_option("--secret-key", a->secret_key, "The secret key the device sent (default: empty)");
  accept->callback([g, a] {
    run_admin("emulator claim accept " + a->device,
              [&] { return em::claim_accept(connection_of(g, *a), a->device, a->secret_key); });
  });

  auto* ota = emu->add_subcommand("ota", "Firmware / software updates");
  ota->require_subcommand(1);
  auto* assign = ota->add_subcommand("assign", "Assign a package: sets the fw_* (or sw_*) shared attributes");
  assign->add_option("device", a->device, "Device name")->required();
  assign->add_option("file", a->file, "Package file")->required()->check(CLI::ExistingFile);
  assign->add_option("--title", a->title, "Package title")->required();
  assign->add_option("--version", a->version, "Package version")->required();
  assign->add_option("--checksum-algorithm", a->checksum_algorithm, "Checksum algorithm")
      ->check(CLI::IsMember({"MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128"}))
      ->capture_default_str();
  assign->add_flag("--software", a->software, "A software package (sw_*) rather than firmware");
  assign->callback([g, a] {
    run_admin("emulator ota assign " + a->device, [&] {
      return em::ota_assign(connection_of(g, *a), a->device, a->file, a->title, a->version, a->checksum_algorithm,
                            a->software);
    });
  });
  auto* state = ota->add_subcommand("state", "Print the device's OTA state history (oldest first)");
  state->add_option("device", a->device, "Device name")->required();
  state->callback([g, a] {
    run_admin("emulator ota state " + a->device, [&] { return em::ota_state(connection_of(g, *a), a->device); });
  });

  auto* profile = emu->add_subcommand("profile", "Device provisioning profiles");
  profile->require_subcommand(1);
  auto* padd = profile->add_subcommand("add", "Add a provisioning profile");
  padd->add_option("--key", a->key, "Provision device key")->required();
  padd->add_option("--secret", a->secret, "Provision device secret")->required();
  padd->add_option("--strategy", a->strategy, "Provisioning strategy")
      ->check(CLI::IsMember({"allow-create", "check-preprovisioned"}))
      ->capture_default_str();
  padd->callback([g, a] {
    run_admin("emulator profile add " + a->key,
              [&] { return em::profile_add(connection_of(g, *a), a->key, a->secret, a->strategy); });
  });

  // Device profiles with MQTT transport: payload type JSON or PROTOBUF and the .proto schemas.
  auto* dprof =
      emu->add_subcommand("device-profile", "Device profiles: payload type JSON or PROTOBUF with .proto schemas");
  dprof->require_subcommand(1);
  auto* dadd = dprof->add_subcommand("add", "Add or replace a device profile (a --*-proto file means PROTOBUF)");
  dadd->add_option("name", a->profile_name, "Profile name")->required();
  dadd->add_option("--payload-type", a->payload_type, "JSON or PROTOBUF (default: PROTOBUF when a schema is given)")
      ->check(CLI::IsMember({"JSON", "PROTOBUF"}));
  dadd->add_option("--telemetry-proto", a->telemetry_proto, "Telemetry schema (.proto, proto3)")
      ->check(CLI::ExistingFile);
  dadd->add_option("--attributes-proto", a->attributes_proto, "Attributes schema")->check(CLI::ExistingFile);
  dadd->add_option("--rpc-request-proto", a->rpc_request_proto, "Server RPC request schema (default: ThingsBoard's)")
      ->check(CLI::ExistingFile);
  dadd->add_option("--rpc-response-proto", a->rpc_response_proto, "RPC response schema (default: ThingsBoard's)")
      ->check(CLI::ExistingFile);
  dadd->add_flag("--send-ack-on-validation-exception", a->send_ack,
                 "PUBACK a payload that does not decode instead of closing the session");
  dadd->add_flag("--json-compatibility", a->json_compat, "enableCompatibilityWithJsonPayloadFormat");
  dadd->add_flag("--json-downlink", a->json_downlink,
                 "useJsonPayloadFormatForDefaultDownlinkTopics (with --json-compatibility)");
  dadd->callback([g, a] {
    auto text_of = [](const std::string& path) {
      std::ifstream in(path, std::ios::binary);
      if (!in) fail("emulator device-profile add: cannot read " + path, errc::invalid_argument);
      std::ostringstream ss;
      ss << in.rdbuf();
      return ss.str();
    };
    nlohmann::json args = {{"name", a->profile_name},
                           {"sendAckOnValidationException", a->send_ack},
                           {"enableCompatibilityWithJsonPayloadFormat", a->json_compat},
                           {"useJsonPayloadFormatForDefaultDownlinkTopics", a->json_downlink}};
    bool any_schema = false;
    for (const auto& [key, path] : {std::pair<const char*, const std::string*>{"telemetryProto", &a->telemetry_proto},
                                    {"attributesProto", &a->attributes_proto},
                                    {"rpcRequestProto", &a->rpc_request_proto},
                                    {"rpcResponseProto", &a->rpc_response_proto}}) {
      if (path->empty()) continue;
      args[key] = text_of(*path);
      any_schema = true;
    }
    args["payloadType"] = !a->payload_type.empty() ? a->payload_type : any_schema ? "PROTOBUF" : "JSON";
    run_admin("emulator device-profile add " + a->profile_name,
              [&] { return em::request(connection_of(g, *a), "device_profile.add", args.dump()); });
  });
  auto* dassign = dprof->add_subcommand("assign", "Give a device a device profile (\"\" for the default, JSON)");
  dassign->add_option("device", a->device, "Device name")->required();
  dassign->add_option("profile", a->profile_name, "Device profile name")->required();
  dassign->callback([g, a] {
    const nlohmann::json args = {{"device", a->device}, {"profile", a->profile_name}};
    run_admin("emulator device-profile assign " + a->device,
              [&] { return em::request(connection_of(g, *a), "device.set_profile", args.dump()); });
  });
}

}  // namespace tbmqtt::cli
