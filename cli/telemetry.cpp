// tbmqtt telemetry JSON...   publishes each argument ("-": one JSON document per stdin line)
// and returns once every message is acknowledged (QoS 1) or written (QoS 0). With
// --offline-store DIR every message is stored before connecting, so a run with the broker down
// (or killed) keeps them; any later run with the same DIR sends them first (`telemetry -` with an
// empty stdin only sends what is stored).
#include <CLI/CLI.hpp>

#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"

namespace tbmqtt::cli {
namespace {

/// First delivery failure reported by the library, if any.
struct delivery_state {
  std::atomic<int> first_error{0};
  void record(errc e) {
    int expected = 0;
    if (e != errc{}) first_error.compare_exchange_strong(expected, static_cast<int>(e));
  }
};

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

void publish_one(client& device, const global_options& o, const std::shared_ptr<delivery_state>& state,
                 std::string_view doc, const std::string& what) {
  auto send = [&] { return device.send_telemetry(doc, o.message_qos(), [state](errc e) { state->record(e); }); };
  auto r = send();
  if (!r && (r.error() == errc::again || r.error() == errc::queue_full) && device.connected()) {
    // The library's queue is full: let it drain, then try again once.
    flush_or_fail(device, o, "telemetry");
    r = send();
  }
  if (!r) fail(what, r.error());
}

void run(const global_options& o, const std::vector<std::string>& docs) {
  // Check every argument before connecting, so a typo publishes nothing.
  for (std::size_t i = 0; i < docs.size(); ++i)
    if (docs[i] != "-") require_json(docs[i], "telemetry: argument " + std::to_string(i + 1));

  client device{to_client_options(o)};
  // With an offline store, everything is stored first: it is kept even if the broker is down.
  const bool store_first = !o.offline_store.empty();
  if (!store_first) connect_or_fail(device, o);
  auto state = std::make_shared<delivery_state>();

  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (docs[i] != "-") {
      publish_one(device, o, state, docs[i], "telemetry: argument " + std::to_string(i + 1));
      continue;
    }
    std::string line;
    std::size_t number = 0;
    while (std::getline(std::cin, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (blank(line)) continue;
      const std::string what = "telemetry: stdin line " + std::to_string(number);
      if (!json::validate(line)) {
        (void)device.flush(o.timeout());  // keep what was already sent
        fail(what + ": not valid JSON", errc::invalid_argument);
      }
      publish_one(device, o, state, line, what);
    }
  }
  if (store_first) connect_or_fail(device, o);
  flush_or_fail(device, o, "telemetry");
  if (int e = state->first_error.load()) fail("telemetry: delivery", static_cast<errc>(e));
}

}  // namespace

void add_telemetry_commands(CLI::App& app, global_options& options) {
  auto* cmd = app.add_subcommand("telemetry", "Publish telemetry (JSON arguments, or '-' for one JSON per stdin line)");
  auto docs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("json", *docs, "JSON documents to publish, or '-' to read stdin")->required();
  cmd->callback([&options, docs] { run(options, *docs); });
}

}  // namespace tbmqtt::cli
