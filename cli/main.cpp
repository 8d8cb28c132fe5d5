// tbmqtt — the ThingsBoard MQTT device command-line tool. Option parsing and dispatch only;
// each subcommand group lives in its own file (see commands.hpp).
//
// Exit codes: 0 ok, 2 usage / invalid JSON argument, 3 refused or unreachable, 4 timeout,
// 5 error or malformed reply from the server, 6 saved --credentials refused, 130 interrupted,
// 1 anything else (see common.cpp: exit_code()).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <exception>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"

#if TBMQTT_CLI_HAS_EMULATOR
namespace tbmqtt::cli {
/// `tbmqtt emulator ...`: defined by the emulator's CLI library (target tbmqtt_cli_emulator).
void add_emulator_commands(CLI::App& app);
}  // namespace tbmqtt::cli
#endif

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool has_positionals(const CLI::App* app) {
  for (const CLI::Option* opt : app->get_options())
    if (opt->get_positional()) return true;
  return false;
}

const CLI::Option* find_option(const CLI::App* app, const std::string& name) {
  for (; app != nullptr; app = app->get_parent())  // global options also follow the command
    if (const CLI::Option* opt = app->get_option_no_throw(name)) return opt;
  return nullptr;
}

/// After a usage error: the first word that is not a command of the level it stands at, with the
/// nearest command names ("unknown command 'telemetri': did you mean 'telemetry'?"); "" if none.
std::string command_typo(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return {};
    if (arg.size() > 1 && arg[0] == '-') {
      const auto eq = arg.find('=');
      const CLI::Option* opt = find_option(level, arg.substr(0, eq));
      if (opt == nullptr) return {};  // an unknown option: CLI11's own message says so
      if (eq == std::string::npos && opt->get_expected_min() > 0) ++i;  // its value
      continue;
    }
    const auto commands = level->get_subcommands({});
    if (commands.empty() || has_positionals(level)) return {};
    const CLI::App* next = nullptr;
    std::vector<std::string> names;
    std::string best;
    std::size_t best_distance = arg.size();
    for (const CLI::App* c : commands) {
      if (c->get_name() == arg) next = c;
      names.push_back(c->get_name());
      const std::size_t d = edit_distance(arg, c->get_name());
      if (d < best_distance) {
        best_distance = d;
        best = c->get_name();
      }
    }
    if (next != nullptr) {
      level = next;
      continue;
    }
    std::string text = "unknown command '" + arg + "'";
    if (!best.empty() && best_distance <= std::max<std::size_t>(2, arg.size() / 3))
      return text + ": did you mean '" + best + "'?";
    text += " (commands:";
    for (const auto& n : names) text += " " + n;
    return text + ")";
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tbmqtt::cli;
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout pipe or --exec child must not kill us

  CLI::App app{"tbmqtt: ThingsBoard MQTT device tool (JSON in, JSON out)", "tbmqtt"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand (inherited by subcommands)

  app.set_version_flag("--version", std::string("tbmqtt ") + TBMQTT_VERSION);
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
  add_fleet_commands(app, options);
#if TBMQTT_CLI_HAS_EMULATOR
  add_emulator_commands(app);
#endif
  add_help_footers(app);

  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    const std::string typo = command_typo(app, argc, argv);
    report_message("usage: " + (typo.empty() ? std::string(e.what()) : typo) + " (see --help)");
    return exit_usage;
  } catch (const failure& f) {
    if (f.usage())
      report_message(std::string("usage: ") + f.what() + " (see --help)");
    else if (f.code() == tbmqtt::errc::payload_too_large)
      report_error(std::string(f.what()) + " (a message may be at most " +
                       std::to_string(tbmqtt::client_options{}.max_payload) + " bytes, ThingsBoard's default limit)",
                   f.code());
    else
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
