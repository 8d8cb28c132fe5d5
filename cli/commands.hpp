// tbmqtt CLI — one registration function per subcommand group. Each adds its subcommands to the
// top-level app; their callbacks run the command and throw cli::failure on error.
// To add a group: write cli/<group>.cpp with `void add_<group>_commands(...)`, declare it here
// and call it from main.cpp (cli/CMakeLists.txt picks up every cli/*.cpp).
#pragma once

namespace CLI {
class App;
}

namespace tbmqtt::cli {

struct global_options;

void add_telemetry_commands(CLI::App& app, global_options& options);
void add_attributes_commands(CLI::App& app, global_options& options);
void add_rpc_commands(CLI::App& app, global_options& options);
void add_claim_commands(CLI::App& app, global_options& options);
void add_sample_commands(CLI::App& app, global_options& options);
void add_ota_commands(CLI::App& app, global_options& options);
void add_provision_commands(CLI::App& app, global_options& options);
void add_gateway_commands(CLI::App& app, global_options& options);
void add_fleet_commands(CLI::App& app, global_options& options);

}  // namespace tbmqtt::cli
