// tbmqtt gateway ...   the ThingsBoard gateway API, run with a gateway device's credentials:
//   serve                                        one lasting session, commands from stdin (see run_gateway_serve)
//   connect DEVICE [--type T]                    announce a sub-device (v1/gateway/connect) for this process's session
//   disconnect DEVICE                            v1/gateway/disconnect
//   telemetry DEVICE JSON                        telemetry of a sub-device ({..}, ts form or an array)
//   attributes set DEVICE JSON                   client attributes of a sub-device
//   attributes get DEVICE [--client k,..] [--shared k,..]   prints {"client":{..},"shared":{..}}
//   attributes watch DEVICE... [--count N]       prints each shared-attribute push {"device":..,"data":..}
//   rpc serve DEVICE... [--count N] [--exec CMD] answers server RPCs to the sub-devices
//   claim DEVICE --secret S [--duration D]    claims a sub-device
// watch and serve connect their sub-devices first (pushes and RPCs flow only to connected ones).
#include <CLI/CLI.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "exec.hpp"

namespace tbmqtt::cli {
namespace {

struct gateway_args {
  std::string device;
  std::vector<std::string> devices;
  std::string type;
  std::string json;
  std::vector<std::string> client_keys;  // each item: one key or "k1,k2"
  std::vector<std::string> shared_keys;
  std::string secret;
  std::chrono::milliseconds duration{0};
  long long count = 0;  // 0: forever
  std::string exec;
};

/// A client for the gateway device with its gateway API created (so that connect() also
/// subscribes the gateway topics and fails with subscription_refused for a plain device).
struct gateway_session {
  client device;
  gateway_client& gateway;
  explicit gateway_session(const global_options& o) : device(to_client_options(o)), gateway(device.gateway()) {}
};

/// Connects the gateway device; from then on, server input the library rejects (malformed, or for a
/// sub-device that is not connected here) is reported on stderr, one line each.
void connect_gateway(gateway_session& s, const global_options& o) {
  try {
    connect_or_fail(s.device, o);
  } catch (const failure& f) {
    if (f.code() != errc::subscription_refused) throw;
    fail(std::string(f.what()) + " (the server refused the gateway topics: is this device a gateway?)", f.code());
  }
  s.device.on_error([](errc e, std::string_view context) { report_error("gateway: " + std::string(context), e); });
}

template <typename T>
void check(const result<T>& r, const std::string& what) {
  if (!r) fail(what, r.error());
}

/// Connects each of `devices` through the gateway (after the gateway itself is connected).
void connect_devices(gateway_session& s, const std::vector<std::string>& devices, const std::string& what) {
  for (const auto& name : devices) check(s.gateway.connect_device(name), what + ": connect " + name);
}

void run_connect(const global_options& o, const gateway_args& a) {
  gateway_session s{o};
  connect_gateway(s, o);
  check(s.gateway.connect_device(a.device, a.type), "gateway connect " + a.device);
  flush_or_fail(s.device, o, "gateway connect");
}

void run_disconnect(const global_options& o, const gateway_args& a) {
  gateway_session s{o};
  connect_gateway(s, o);
  check(s.gateway.disconnect_device(a.device), "gateway disconnect " + a.device);
  flush_or_fail(s.device, o, "gateway disconnect");
}

void run_telemetry(const global_options& o, const gateway_args& a) {
  require_json(a.json, "gateway telemetry: argument");
  gateway_session s{o};
  connect_gateway(s, o);
  check(s.gateway.send_telemetry(a.device, a.json), "gateway telemetry");
  flush_or_fail(s.device, o, "gateway telemetry");
}

void run_set(const global_options& o, const gateway_args& a) {
  require_json_object(a.json, "gateway attributes set: argument");
  gateway_session s{o};
  connect_gateway(s, o);
  check(s.gateway.send_attributes(a.device, a.json), "gateway attributes set");
  flush_or_fail(s.device, o, "gateway attributes set");
}

struct attributes_answer {
  errc error;
  std::string values;
};

void run_get(const global_options& o, const gateway_args& a) {
  const std::string client_keys = join_keys(split_keys(a.client_keys));
  const std::string shared_keys = join_keys(split_keys(a.shared_keys));
  if (client_keys.empty() && shared_keys.empty())
    fail("gateway attributes get: give --client and/or --shared keys", errc::invalid_argument);
  gateway_session s{o};
  connect_gateway(s, o);
  // One request per scope: a gateway request reads one scope.
  auto read = [&](attribute_scope scope, const std::string& keys) -> std::string {
    if (keys.empty()) return "{}";
    auto box = std::make_shared<mailbox<attributes_answer>>();
    check(s.gateway.request_attributes(a.device, scope, keys,
                                       [box](errc e, json::value values) {
                                         box->put({e, values.present() ? std::string(values.raw()) : "{}"});
                                       }),
          "gateway attributes get");
    auto answer = box->wait_for(o.timeout() + callback_grace);
    if (!answer) fail("gateway attributes get: no answer", errc::timeout);
    if (answer->error != errc{}) fail("gateway attributes get", answer->error);
    return compact_json(answer->values);
  };
  const std::string client_values = read(attribute_scope::client, client_keys);
  const std::string shared_values = read(attribute_scope::shared, shared_keys);
  print_line("{\"client\":" + client_values + ",\"shared\":" + shared_values + "}");
}

/// Lines produced on the network thread and printed by the main thread.
struct line_queue {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> lines;
  void push(std::string line) {
    std::lock_guard<std::mutex> lock(mutex);
    lines.push_back(std::move(line));
    cv.notify_one();
  }
  std::string pop() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return !lines.empty(); });
    std::string line = std::move(lines.front());
    lines.pop_front();
    return line;
  }
};

void run_watch(const global_options& o, const gateway_args& a) {
  auto queue = std::make_shared<line_queue>();
  gateway_session s{o};
  s.gateway.on_attribute_update([queue](std::string_view device, json::value data) {
    queue->push("{\"device\":" + quote_json(device) + ",\"data\":" + compact_json(data.raw()) + "}");
  });
  connect_gateway(s, o);
  connect_devices(s, a.devices, "gateway attributes watch");
  for (long long printed = 0; a.count == 0 || printed < a.count; ++printed) print_line(queue->pop());
}

void run_serve(const global_options& o, const gateway_args& a) {
  struct rpc_queue {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<gateway_rpc> requests;
  };
  auto queue = std::make_shared<rpc_queue>();
  gateway_session s{o};
  // Requests are answered on this thread, so a slow --exec never blocks the network thread.
  s.gateway.on_any_rpc([queue](const gateway_rpc& request) {
    std::lock_guard<std::mutex> lock(queue->mutex);
    queue->requests.push_back(request);
    queue->cv.notify_one();
  });
  connect_gateway(s, o);
  connect_devices(s, a.devices, "gateway rpc serve");

  for (long long served = 0; a.count == 0 || served < a.count; ++served) {
    gateway_rpc request;
    {
      std::unique_lock<std::mutex> lock(queue->mutex);
      queue->cv.wait(lock, [&] { return !queue->requests.empty(); });
      request = std::move(queue->requests.front());
      queue->requests.pop_front();
    }
    const std::string params = request.params_json.empty() ? std::string("null") : compact_json(request.params_json);
    const std::string line = "{\"device\":" + quote_json(request.device) + ",\"id\":" + std::to_string(request.id) +
                             ",\"method\":" + quote_json(request.method) + ",\"params\":" + params + "}";
    print_line(line);
    const std::string what = "gateway rpc serve: " + request.device + " request " + std::to_string(request.id);
    const std::string reply = exec_reply(o, a.exec, what, request.params_json, line);
    if (auto sent = s.gateway.reply_rpc(request.device, request.id, reply); !sent) report_error(what, sent.error());
  }
  flush_or_fail(s.device, o, "gateway rpc serve");
}

/// One word of a `gateway serve` line: a JSON string ("a name with spaces") or a run of non-blanks.
bool next_word(std::string_view& rest, std::string& word) {
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (rest.empty()) return false;
  if (rest.front() == '"') {
    std::size_t end = 1;
    while (end < rest.size() && rest[end] != '"') end += rest[end] == '\\' ? 2 : 1;
    if (end >= rest.size()) return false;
    const std::string_view quoted = rest.substr(0, end + 1);
    auto v = json::value::parse(quoted);
    std::vector<char> buf(quoted.size() + 1);
    auto text = v ? v->as_string(span<char>{buf.data(), buf.size()}) : result<std::string_view>(errc::malformed);
    if (!text) return false;
    word.assign(text->data(), text->size());
    rest.remove_prefix(end + 1);
    return true;
  }
  std::size_t end = 0;
  while (end < rest.size() && rest[end] != ' ' && rest[end] != '\t') ++end;
  word.assign(rest.substr(0, end));
  rest.remove_prefix(end);
  return true;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

/// The failed lines of `gateway serve`, in the order they failed: a bad line (main thread), or a
/// message the library reports lost or that is unacknowledged at the end. Each is reported on
/// stderr as it is found; the first decides the exit code.
class serve_failures {
 public:
  void add(const std::string& what, errc code) {
    std::lock_guard<std::mutex> lock(mutex_);
    report_error(what, code);
    ++count_;
    if (!first_) first_ = failure(what, code);
  }
  long count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  std::optional<failure> first() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_;
  }

 private:
  mutable std::mutex mutex_;
  long count_ = 0;
  std::optional<failure> first_;
};

/// The messages `gateway serve` sent and whose outcome is not known yet, named by their line
/// ("gateway serve: line 3: telemetry D"). A message the library reports lost is a failed line
/// (`...: delivery: <errc>`, as `telemetry: delivery: <errc>`); close() ends the watch and
/// returns those still unacknowledged (their `cancelled` at the client's end is not news).
class delivery_watch : public std::enable_shared_from_this<delivery_watch> {
 public:
  explicit delivery_watch(std::shared_ptr<serve_failures> failures) : failures_(std::move(failures)) {}

  /// Sends one message through `send(on_delivered)`; its outcome is reported as `what`.
  template <typename Send>
  void send(const std::string& what, Send&& send_message) {
    std::uint64_t id;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      id = next_id_++;
      pending_.emplace(id, what);  // before the send: the acknowledgement may come first
    }
    auto sent = send_message([self = shared_from_this(), id](errc e) { self->on_outcome(id, e); });
    if (!sent) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_.erase(id);
      }
      fail(what, sent.error());
    }
  }

  /// Waits up to `wait` for the outcomes still due (after a flush they are decided, but their
  /// callbacks may still be on their way), then returns the messages without one, in the order
  /// they were sent; later outcomes are ignored.
  std::vector<std::string> close(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    outcome_.wait_for(lock, wait, [&] { return pending_.empty(); });
    closed_ = true;
    std::vector<std::string> left;
    for (auto& entry : pending_) left.push_back(std::move(entry.second));
    pending_.clear();
    return left;
  }

 private:
  void on_outcome(std::uint64_t id, errc e) {
    std::string what;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = pending_.find(id);
      if (closed_ || it == pending_.end()) return;
      what = std::move(it->second);
      pending_.erase(it);
      outcome_.notify_all();
    }
    if (e != errc{}) failures_->add(what + ": delivery", e);
  }

  std::shared_ptr<serve_failures> failures_;
  std::mutex mutex_;
  std::condition_variable outcome_;
  std::map<std::uint64_t, std::string> pending_;
  std::uint64_t next_id_ = 0;
  bool closed_ = false;
};

// `gateway serve`: one gateway session for as long as stdin is open. Each line is one command
// (connect DEVICE [TYPE] | disconnect DEVICE | telemetry DEVICE JSON | attributes DEVICE JSON;
// a DEVICE with spaces in double quotes; empty lines and # comments are skipped). Sub-devices stay
// connected until `disconnect` or the end of input; shared-attribute pushes for them are printed
// as {"device":..,"data":..} lines. A bad line is reported on stderr and skipped, and so is a
// message the library reports lost (`line N: telemetry D: delivery: <errc>`, as `telemetry`
// reports its own); at the end every message still unacknowledged after --timeout is named
// (`line N: telemetry D: not acknowledged: timeout`). The exit code is that of the first failure
// (0 if none: every message was acknowledged).
void run_gateway_serve(const global_options& o) {
  auto failures = std::make_shared<serve_failures>();
  auto deliveries = std::make_shared<delivery_watch>(failures);
  gateway_session s{o};
  s.gateway.on_attribute_update([](std::string_view device, json::value data) {
    print_line("{\"device\":" + quote_json(device) + ",\"data\":" + compact_json(data.raw()) + "}");
  });
  connect_gateway(s, o);
  std::string line;
  for (long number = 1; std::getline(std::cin, line); ++number) {
    std::string_view rest = trimmed(line);
    if (rest.empty() || rest.front() == '#') continue;
    const std::string where = "gateway serve: line " + std::to_string(number);
    try {
      std::string command, device;
      if (!next_word(rest, command) || !next_word(rest, device))
        fail(where + ": expected COMMAND DEVICE ... (connect, disconnect, telemetry, attributes)",
             errc::invalid_argument);
      const std::string_view argument = trimmed(rest);
      if (command == "connect") {
        check(s.gateway.connect_device(device, argument), where + ": connect " + device);
      } else if (command == "disconnect") {
        check(s.gateway.disconnect_device(device), where + ": disconnect " + device);
      } else if (command == "telemetry") {
        require_json(argument, where + ": telemetry");
        deliveries->send(where + ": telemetry " + device, [&](gateway_client::delivery_callback done) {
          return s.gateway.send_telemetry(device, argument, std::move(done));
        });
      } else if (command == "attributes") {
        require_json_object(argument, where + ": attributes");
        deliveries->send(where + ": attributes " + device, [&](gateway_client::delivery_callback done) {
          return s.gateway.send_attributes(device, argument, std::move(done));
        });
      } else {
        fail(where + ": unknown command '" + command + "' (connect, disconnect, telemetry, attributes)",
             errc::invalid_argument);
      }
    } catch (const failure& f) {
      failures->add(f.what(), f.code());
    }
  }
  const auto flushed = s.device.flush(o.timeout());
  const std::vector<std::string> unacknowledged =
      deliveries->close(flushed ? callback_grace : std::chrono::milliseconds(0));
  for (const std::string& what : unacknowledged)
    failures->add(what + ": not acknowledged", flushed ? errc::timeout : flushed.error());
  if (!flushed && unacknowledged.empty())  // e.g. a connect or disconnect announcement
    failures->add("gateway serve: waiting for acknowledgements", flushed.error());
  const std::optional<failure> first = failures->first();
  if (!first) return;
  fail("gateway serve: " + std::to_string(failures->count()) + " line(s) failed, the others were delivered (first: " +
           std::string(first->what()).substr(std::string("gateway serve: ").size()) + ")",
       first->code());
}

void run_claim(const global_options& o, const gateway_args& a) {
  if (a.secret.empty()) fail_usage("gateway claim needs --secret, --secret-file or env TBMQTT_CLAIM_SECRET");
  gateway_session s{o};
  connect_gateway(s, o);
  check(s.gateway.claim(a.device, a.secret, a.duration), "gateway claim " + a.device);
  flush_or_fail(s.device, o, "gateway claim");
}

}  // namespace

void add_gateway_commands(CLI::App& app, global_options& options) {
  auto args = std::make_shared<gateway_args>();
  auto* group =
      app.add_subcommand("gateway", "Gateway API: act for sub-devices (run with a gateway device's credentials)");
  group->require_subcommand(1);

  auto* connect = group->add_subcommand(
      "connect",
      "Announce a sub-device once ({\"device\":D,\"type\":T}): creates it on ThingsBoard if new; it stays connected "
      "only "
      "while this gateway's session lasts, i.e. until this command exits. For a lasting session use `gateway serve`");
  connect->add_option("device", args->device, "Sub-device name")->required();
  connect->add_option("--type", args->type, "Device type (profile) for a new sub-device");
  connect->callback([&options, args] { run_connect(options, *args); });

  auto* serve_lines = group->add_subcommand(
      "serve",
      "One lasting gateway session driven by stdin, one command per line: connect DEVICE [TYPE] | disconnect DEVICE | "
      "telemetry DEVICE JSON | attributes DEVICE JSON (DEVICE with spaces in \"quotes\"). Sub-devices stay connected "
      "until disconnect or end of input; their shared-attribute pushes are printed as {\"device\":..,\"data\":..}");
  serve_lines->callback([&options] { run_gateway_serve(options); });

  auto* disconnect = group->add_subcommand("disconnect", "Disconnect a sub-device");
  disconnect->add_option("device", args->device, "Sub-device name")->required();
  disconnect->callback([&options, args] { run_disconnect(options, *args); });

  auto* telemetry = group->add_subcommand("telemetry", "Publish telemetry of a sub-device");
  telemetry->add_option("device", args->device, "Sub-device name")->required();
  // One document (a string option): CLI11 splits a vector option's argument `[..,..]` at its commas.
  telemetry->add_option("json", args->json, "JSON: {..}, {\"ts\":..,\"values\":{..}} or an array of those")->required();
  telemetry->callback([&options, args] { run_telemetry(options, *args); });

  auto* attributes = group->add_subcommand("attributes", "Attributes of sub-devices");
  attributes->require_subcommand(1);
  auto* set = attributes->add_subcommand("set", "Publish client attributes of a sub-device (a JSON object)");
  set->add_option("device", args->device, "Sub-device name")->required();
  set->add_option("json", args->json, "JSON object")->required();
  set->callback([&options, args] { run_set(options, *args); });
  auto* get =
      attributes->add_subcommand("get", "Read attributes of a sub-device; prints {\"client\":{..},\"shared\":{..}}");
  get->add_option("device", args->device, "Sub-device name")->required();
  get->add_option("--client", args->client_keys, "Client attribute keys: k1 k2 or k1,k2")->expected(1, -1);
  get->add_option("--shared", args->shared_keys, "Shared attribute keys: k1 k2 or k1,k2")->expected(1, -1);
  get->callback([&options, args] { run_get(options, *args); });
  auto* watch =
      attributes->add_subcommand("watch", "Connect sub-devices and print each shared-attribute push as one JSON line");
  watch->add_option("devices", args->devices, "Sub-device names")->required();
  watch->add_option("--count", args->count, "Exit after N updates")->check(CLI::PositiveNumber);
  watch->callback([&options, args] { run_watch(options, *args); });

  auto* rpc = group->add_subcommand("rpc", "Server-side RPCs to sub-devices");
  rpc->require_subcommand(1);
  auto* serve =
      rpc->add_subcommand("serve", "Connect sub-devices and answer their RPCs; prints each request as one JSON line");
  serve->add_option("devices", args->devices, "Sub-device names")->required();
  serve->add_option("--count", args->count, "Exit after answering N requests")->check(CLI::PositiveNumber);
  serve->add_option(
      "--exec", args->exec,
      "Reply with the JSON printed by CMD (run with /bin/sh -c, request JSON on stdin); default: echo params");
  serve->callback([&options, args] { run_serve(options, *args); });

  auto* claim = group->add_subcommand("claim", "Claim a sub-device: {D:{\"secretKey\":S,\"durationMs\":N}}");
  claim->add_option("device", args->device, "Sub-device name")->required();
  claim
      ->add_option("--secret", args->secret,
                   "Secret key (or env TBMQTT_CLAIM_SECRET, or --secret-file; argv shows in ps)")
      ->envname("TBMQTT_CLAIM_SECRET");
  add_secret_file_option(*claim, "--secret", args->secret);
  add_duration_option(*claim, "--duration,--duration-ms", args->duration, std::chrono::milliseconds(1),
                      "Claim window: 60s, 10m, 24h (a plain number: ms; default: the server's, 24 h)");
  claim->callback([&options, args] { run_claim(options, *args); });
}

}  // namespace tbmqtt::cli
