// tbmqtt — the ThingsBoard MQTT device command-line tool. Option parsing and dispatch only;
// each subcommand group lives in its own file (see commands.hpp).
//
// Exit codes: 0 ok, 2 usage / invalid JSON argument, 3 refused or unreachable, 4 timeout,
// 5 error or malformed reply from the server, 6 saved --credentials refused, 130 interrupted,
// 1 anything else (see common.cpp: exit_code()).
#include <CLI/CLI.hpp>

#include <csignal>
#include <exception>
#include <string>

#include "commands.hpp"
#include "common.hpp"

#if TBMQTT_CLI_HAS_EMULATOR
namespace tbmqtt::cli {
/// `tbmqtt emulator ...`: defined by the emulator's CLI library (target tbmqtt_cli_emulator).
void add_emulator_commands(CLI::App& app);
}  // namespace tbmqtt::cli
#endif

int main(int argc, char** argv) {
  using namespace tbmqtt::cli;
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout pipe or --exec child must not kill us

  CLI::App app{"tbmqtt: ThingsBoard MQTT device tool (JSON in, JSON out)", "tbmqtt"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand (inherited by subcommands)

  global_options options;
  add_global_options(app, options);

  // One line per subcommand group; later: ota, provision, sample.
  add_telemetry_commands(app, options);
  add_attributes_commands(app, options);
  add_rpc_commands(app, options);
  add_claim_commands(app, options);
  add_sample_commands(app, options);
  add_ota_commands(app, options);
  add_provision_commands(app, options);
  add_gateway_commands(app, options);
#if TBMQTT_CLI_HAS_EMULATOR
  add_emulator_commands(app);
#endif

  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    report_error(std::string("usage: ") + e.what() + " (see --help)", tbmqtt::errc::invalid_argument);
    return exit_usage;
  } catch (const failure& f) {
    report_error(f.what(), f.code());
    return exit_code(f.code());
  } catch (const tbmqtt::store_error& e) {  // e.g. the offline store is locked by another process
    report_error(e.what(), e.code());
    return exit_code(e.code());
  } catch (const std::exception& e) {
    report_message(std::string("error: ") + e.what());
    return exit_other;
  }
  return exit_ok;
}
