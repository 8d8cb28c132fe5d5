// tbmqtt CLI — the footer of each command's --help: the global options it uses (they live on the
// top level, so CLI11 would not show them there) and one example.
#include <CLI/CLI.hpp>

#include <map>
#include <string>

#include "common.hpp"

namespace tbmqtt::cli {
namespace {

const char* const device_globals =
    "Global options it uses (before or after the command; see tbmqtt --help): --host, --port, --token (or env "
    "TBMQTT_TOKEN), --client-id, --username, --password, --credentials, --tls, --ca-file, --ca-dir, --cert-file, "
    "--key-file, --key-password-file, --insecure, --timeout, --keepalive, --mqtt5-inbound-limit";
const char* const store_globals = ", --qos, --offline-store, --offline-max, --offline-full, --offline-no-fsync, --pace";
const char* const qos_globals = ", --qos";
const char* const server_globals =
    "Global options it uses (before or after the command; see tbmqtt --help): --host, --port, --tls, --ca-file, "
    "--ca-dir, --insecure, --timeout";
const char* const emulator_globals =
    "Global options it uses (before or after the command): --host, --port (of the emulator), --timeout";

struct help_entry {
  std::string globals;
  std::string example;
};

const std::map<std::string, help_entry>& entries() {
  static const std::map<std::string, help_entry> table = {
      {"telemetry", {std::string(device_globals) + store_globals, "tbmqtt --token T telemetry '{\"temp\":21.5}'"}},
      {"attributes", {device_globals, "tbmqtt --token T attributes get --client fw model --shared mode"}},
      {"attributes set",
       {std::string(device_globals) + store_globals, "tbmqtt --token T attributes set '{\"fw\":\"1.0\"}'"}},
      {"attributes get", {device_globals, "tbmqtt --token T attributes get --client fw model --shared mode"}},
      {"attributes watch", {device_globals, "tbmqtt --token T attributes watch --keys mode --count 1"}},
      {"rpc", {device_globals, "tbmqtt --token T rpc serve --exec ./handler.sh"}},
      {"rpc serve", {device_globals, "tbmqtt --token T rpc serve --exec ./handler.sh"}},
      {"rpc call", {device_globals, "tbmqtt --token T rpc call getCurrentTime '{}'"}},
      {"claim", {std::string(device_globals) + qos_globals, "tbmqtt --token T claim --secret abc --duration 1m"}},
      {"sample",
       {std::string(device_globals) + qos_globals,
        "tbmqtt --token T sample --every 1s --delta 0.5 --heartbeat 15m --point temperature='cat /tmp/temp'"}},
      {"ota",
       {device_globals, "tbmqtt --token T ota --out fw.bin --current-title myfw --current-version 1.0 --wait 1m"}},
      {"ota confirm", {device_globals, "tbmqtt --token T ota confirm --current-title myfw --current-version 1.1"}},
      {"fleet",
       {"Global options it uses (before or after the command): --host, --port, --qos (of the telemetry), --keepalive, "
        "--timeout (to wait for the last acknowledgements)",
        "tbmqtt fleet --tokens tokens.txt --shard 0/2 --telemetry-every 5s --duration 10m"}},
      {"provision", {server_globals, "tbmqtt provision --key K --secret S --name dev-1 --save dev-1.json"}},
      {"gateway", {device_globals, "tbmqtt --token GW gateway serve < commands.txt"}},
      {"gateway serve",
       {device_globals,
        "printf 'connect th-1 thermostat\\ntelemetry th-1 {\"temp\":21}\\n' | tbmqtt --token GW gateway serve"}},
      {"gateway connect", {device_globals, "tbmqtt --token GW gateway connect thermostat-1 --type thermostat"}},
      {"gateway disconnect", {device_globals, "tbmqtt --token GW gateway disconnect thermostat-1"}},
      {"gateway telemetry", {device_globals, "tbmqtt --token GW gateway telemetry thermostat-1 '{\"temp\":21.5}'"}},
      {"gateway attributes", {device_globals, "tbmqtt --token GW gateway attributes get thermostat-1 --shared target"}},
      {"gateway attributes set",
       {device_globals, "tbmqtt --token GW gateway attributes set thermostat-1 '{\"fw\":\"1.0\"}'"}},
      {"gateway attributes get",
       {device_globals, "tbmqtt --token GW gateway attributes get thermostat-1 --shared target"}},
      {"gateway attributes watch",
       {device_globals, "tbmqtt --token GW gateway attributes watch thermostat-1 --count 1"}},
      {"gateway rpc", {device_globals, "tbmqtt --token GW gateway rpc serve thermostat-1 --exec ./handler.sh"}},
      {"gateway rpc serve", {device_globals, "tbmqtt --token GW gateway rpc serve thermostat-1 --exec ./handler.sh"}},
      {"gateway claim", {device_globals, "tbmqtt --token GW gateway claim thermostat-1 --secret abc"}},
      {"emulator", {emulator_globals, "tbmqtt emulator start"}},
      {"emulator start", {emulator_globals, "tbmqtt emulator start --port 1883 --state ./emulator-state"}},
      {"emulator device", {emulator_globals, "tbmqtt emulator device add thermostat-1 --token T1"}},
      {"emulator device add", {emulator_globals, "tbmqtt emulator device add thermostat-1 --token T1"}},
      {"emulator device list", {emulator_globals, "tbmqtt emulator device list"}},
      {"emulator attributes", {emulator_globals, "tbmqtt emulator attributes set thermostat-1 '{\"mode\":\"eco\"}'"}},
      {"emulator attributes set",
       {emulator_globals, "tbmqtt emulator attributes set thermostat-1 '{\"mode\":\"eco\"}'"}},
      {"emulator attributes get", {emulator_globals, "tbmqtt emulator attributes get thermostat-1"}},
      {"emulator telemetry", {emulator_globals, "tbmqtt emulator telemetry thermostat-1"}},
      {"emulator rpc", {emulator_globals, "tbmqtt emulator rpc thermostat-1 setMode '{\"mode\":\"eco\"}'"}},
      {"emulator ota", {emulator_globals, "tbmqtt emulator ota assign thermostat-1 fw.bin --title myfw --version 1.1"}},
      {"emulator ota assign",
       {emulator_globals, "tbmqtt emulator ota assign thermostat-1 fw.bin --title myfw --version 1.1"}},
      {"emulator ota state", {emulator_globals, "tbmqtt emulator ota state thermostat-1"}},
      {"emulator profile",
       {emulator_globals, "tbmqtt emulator profile add --key K --secret S --strategy allow-create"}},
      {"emulator profile add",
       {emulator_globals, "tbmqtt emulator profile add --key K --secret S --strategy allow-create"}},
  };
  return table;
}

void add_footers(CLI::App& command, const std::string& path) {
  const auto& table = entries();
  auto found = table.find(path);
  if (found == table.end() && path.rfind("emulator", 0) == 0) found = table.find("emulator");
  if (found != table.end()) command.footer(found->second.globals + "\n\nExample:\n  " + found->second.example + "\n");
  for (CLI::App* sub : command.get_subcommands({})) add_footers(*sub, path + " " + sub->get_name());
}

}  // namespace

void add_help_footers(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) add_footers(*sub, sub->get_name());
}

}  // namespace tbmqtt::cli
