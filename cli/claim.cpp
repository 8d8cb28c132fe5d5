// tbmqtt claim --secret S [--duration D]   sends a claim request (acknowledged = queued)
#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "commands.hpp"
#include "common.hpp"

namespace tbmqtt::cli {
namespace {

struct claim_args {
  std::string secret;
  std::chrono::milliseconds duration{0};  // 0: left out, the server's default (24 h)
};

void run(const global_options& o, const claim_args& a) {
  if (a.secret.empty()) fail_usage("claim needs --secret, --secret-file or env TBMQTT_CLAIM_SECRET");
  client device{to_client_options(o)};
  connect_or_fail(device, o);
  if (auto r = device.claim(a.secret, a.duration); !r) fail("claim", r.error());
  flush_or_fail(device, o, "claim");
}

}  // namespace

void add_claim_commands(CLI::App& app, global_options& options) {
  auto args = std::make_shared<claim_args>();
  auto* cmd = app.add_subcommand("claim", "Claim the device: {\"secretKey\":S,\"durationMs\":N}");
  cmd->add_option("--secret", args->secret,
                  "Secret key (or env TBMQTT_CLAIM_SECRET, or --secret-file; argv shows in ps)")
      ->envname("TBMQTT_CLAIM_SECRET");
  add_secret_file_option(*cmd, "--secret", args->secret);
  add_duration_option(*cmd, "--duration,--duration-ms", args->duration, std::chrono::milliseconds(1),
                      "Claim window: 60s, 10m, 24h (a plain number: ms; default: the server's, 24 h)");
  cmd->callback([&options, args] { run(options, *args); });
}

}  // namespace tbmqtt::cli
