// tbmqtt telemetry JSON...   publishes each argument ("-": one JSON document per stdin line)
// and returns once every message is acknowledged (QoS 1) or written (QoS 0).
//
// It connects first and publishes as it reads, so a slow producer (`sensor | tbmqtt telemetry -`)
// streams. With --offline-store DIR every message goes through the store's log (appended,
// group-committed, sent once committed, done when acknowledged), so the store holds only what
// cannot go now: in flight, paced, or everything while the broker is down (the run then exits 3
// saying how many messages it kept; any later run with the same DIR sends them first; `telemetry
// -` with an empty stdin only sends what is stored). While connected, a full store makes the
// reading wait for room instead of dropping anything; while disconnected, --offline-full decides:
// refuse stops reading and says how many were stored and from where on nothing was, drop-oldest
// drops the oldest and says how many. Either way the exit status is not 0. A full store first gives
// a missing connection (a reset, a broker restart, a failed first connect) --timeout to come.
//
// The documents are not a CLI11 vector positional (CLI11 splits a bracketed value like
// '[{"a":1},{"b":2}]' at its commas): they are the subcommand's extra arguments, taken verbatim.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "common.hpp"

namespace tbmqtt::cli {
namespace {

/// First delivery failure reported by the library, if any (a message dropped from a full store
/// is reported as queue_full: counted separately).
struct delivery_state {
  std::atomic<int> first_error{0};
  void record(errc e) {
    int expected = 0;
    if (e != errc{} && e != errc::queue_full) first_error.compare_exchange_strong(expected, static_cast<int>(e));
  }
};

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

class publisher {
 public:
  publisher(client& device, const global_options& o) : device_(device), o_(o) {}

  /// Publishes one document. Returns false when the store is full and refuses (the caller stops).
  bool publish(std::string_view doc, const std::string& what) {
    if (!o_.offline_store.empty()) {
      (void)note_connection();
      wait_for_room();
    }
    auto state = state_;
    auto send = [&] { return device_.send_telemetry(doc, o_.message_qos(), [state](errc e) { state->record(e); }); };
    auto r = send();
    if (!r && (r.error() == errc::again || r.error() == errc::queue_full) && device_.connected()) {
      // The library's queue (or the store) is full while connected: let it drain, then once more.
      flush_or_fail(device_, o_, "telemetry");
      r = send();
    }
    if (!r && r.error() == errc::queue_full && !o_.offline_store.empty()) {
      refused_at_ = what;
      return false;
    }
    if (!r) fail("telemetry: " + what, r.error());
    ++published_;
    return true;
  }

  /// Ends the run: waits for the acknowledgements, reports what the store kept, dropped or refused.
  void finish(errc connect_error) {
    const bool store = !o_.offline_store.empty();
    std::uint32_t dropped = 0;
    const std::size_t kept = store ? device_.offline_queued(&dropped) : 0;
    // One line says it all: what was kept, dropped (drop-oldest) or refused.
    const std::string drop_note = dropped == 0 ? std::string{}
                                               : "; " + std::to_string(dropped) +
                                                     " oldest message(s) dropped: the store was full (--offline-max " +
                                                     std::to_string(o_.offline_max) + ", --offline-full drop-oldest)";
    if (!refused_at_.empty()) {
      (void)device_.sync_offline_store();
      if (device_.connected()) (void)device_.flush(o_.timeout());
      fail("telemetry: the offline store " + o_.offline_store + " is full (" +
               std::to_string(device_.offline_queued()) + " message(s) kept, --offline-max " +
               std::to_string(o_.offline_max) + ", --offline-full refuse): " + std::to_string(published_) +
               " stored or sent; " + refused_at_ + " and everything after it not stored",
           errc::queue_full);
    }
    if (store && note_connection() && connect_error != errc{} && !seen_connected_) {
      (void)device_.sync_offline_store();
      fail(connection_context(o_, "connect to", connect_error) + " (" + std::to_string(kept) + " message(s) kept in " +
               o_.offline_store + drop_note + ")",
           connect_error);
    }
    flush_or_fail(device_, o_, "telemetry");
    if (dropped > 0) fail("telemetry: " + std::to_string(dropped) + " message(s) lost" + drop_note, errc::queue_full);
    if (int e = state_->first_error.load()) fail("telemetry: delivery", static_cast<errc>(e));
  }

 private:
  // A full store waits for acknowledgements instead of dropping or refusing while connected, and
  // for up to --timeout while disconnected (a reset, a broker restart, a first connect that failed:
  // the client keeps trying by itself). An outage longer than that is left to --offline-full.
  void wait_for_room() {
    using clock = std::chrono::steady_clock;
    const auto limit = static_cast<std::size_t>(o_.offline_max);
    auto deadline = clock::now() + o_.timeout();
    std::size_t last = device_.offline_queued();
    while (last >= limit) {
      const auto now = clock::now();
      if (note_connection()) {
        if (outage_since_ == clock::time_point{}) outage_since_ = now;
        if (now - outage_since_ > o_.timeout()) return;
        deadline = now + o_.timeout();  // no acknowledgement is due while disconnected
        // A failed connect() leaves the client stopped (a lost connection is retried by the client
        // itself: connect() then answers errc::again at once): try again, at most every 250 ms.
        if (now >= next_connect_) {
          next_connect_ = now + std::chrono::milliseconds(250);
          const auto left = o_.timeout() - std::chrono::duration_cast<std::chrono::milliseconds>(now - outage_since_);
          (void)device_.connect(std::max(left, std::chrono::milliseconds(1)));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const std::size_t queued = device_.offline_queued();
      if (queued < last) deadline = clock::now() + o_.timeout();  // progress
      last = queued;
      if (clock::now() > deadline)
        fail("telemetry: the offline store stays full (no acknowledgement for --timeout)", errc::timeout);
    }
  }

  // Records whether the device is connected now; true when it is not.
  bool note_connection() {
    if (!device_.connected()) return true;
    seen_connected_ = true;
    outage_since_ = {};
    return false;
  }

  client& device_;
  const global_options& o_;
  std::shared_ptr<delivery_state> state_ = std::make_shared<delivery_state>();
  std::size_t published_ = 0;
  std::string refused_at_;                                // where a full store (refuse) stopped us
  bool seen_connected_ = false;                           // connected at some time in this run
  std::chrono::steady_clock::time_point outage_since_{};  // since when a full store waits for a connection
  std::chrono::steady_clock::time_point next_connect_{};  // the next connect() while it waits
};

void run(const global_options& o, const std::vector<std::string>& docs) {
  if (docs.empty()) fail_usage("telemetry: give JSON documents, or '-' to read stdin");
  // Check every argument before connecting, so a typo publishes nothing.
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (docs[i].size() > 1 && docs[i][0] == '-') fail_usage("telemetry: unknown option " + docs[i]);
    if (docs[i] != "-") require_json(docs[i], "telemetry: argument " + std::to_string(i + 1));
  }

  client device{to_client_options(o)};
  errc connect_error{};
  if (o.offline_store.empty()) {
    connect_or_fail(device, o);
  } else if (auto r = device.connect(o.timeout()); !r) {
    // The store keeps everything while the broker is down (a full store tries to connect again).
    // A refusal or a TLS failure will not mend itself: fail now, as without a store.
    const bool refused = r.error() == errc::refused_credentials || r.error() == errc::identifier_rejected;
    if (refused || is_tls_failure(r.error()))
      fail(connection_context(o, "connect to", r.error()),
           o.stored_credentials && refused ? errc::stored_credentials_refused : r.error());
    connect_error = r.error();
  }
  publisher out{device, o};

  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (docs[i] != "-") {
      if (!out.publish(docs[i], "argument " + std::to_string(i + 1))) return out.finish(connect_error);
      continue;
    }
    std::string line;
    std::size_t number = 0;
    while (std::getline(std::cin, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (blank(line)) continue;
      const std::string what = "stdin line " + std::to_string(number);
      if (const std::string problem = json_problem(line); !problem.empty()) {
        (void)device.flush(o.timeout());  // keep what was already sent
        fail("telemetry: " + what + ": " + problem, errc::invalid_argument);
      }
      if (!out.publish(line, what)) return out.finish(connect_error);
    }
  }
  out.finish(connect_error);
}

}  // namespace

void add_telemetry_commands(CLI::App& app, global_options& options) {
  auto* cmd = app.add_subcommand(
      "telemetry", "Publish telemetry: JSON documents as arguments, or '-' for one JSON document per stdin line");
  // The documents are taken verbatim from the extra arguments (a vector positional would split
  // '[{"a":1},{"b":2}]' at its commas). Global options after `telemetry` are this subcommand's own
  // copies (bound to the same variables), since extra arguments do not fall through.
  add_global_options(*cmd, options);
  // TBMQTT_TOKEN is read once, by the top level: here it would override a --token given before
  // the subcommand.
  cmd->get_option("--token")->envname("");
  cmd->fallthrough(false);
  cmd->allow_extras();
  cmd->callback([&options, cmd] { run(options, cmd->remaining()); });
}

}  // namespace tbmqtt::cli
