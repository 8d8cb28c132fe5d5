// tbmqtt attributes set JSON | get [--client k ..] [--shared k ..] | watch [--keys k ..] [--count N]
// (keys space- or comma-separated)
#include <CLI/CLI.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"

namespace tbmqtt::cli {
namespace {

struct attributes_args {
  std::string set_json;
  std::vector<std::string> client_keys;  // each item: one key or "k1,k2"
  std::vector<std::string> shared_keys;
  std::vector<std::string> watch_keys;
  long long count = 0;  // 0: forever
};

void run_set(const global_options& o, const attributes_args& a) {
  require_json_object(a.set_json, "attributes set: argument");
  client device{to_client_options(o)};
  const bool store_first = !o.offline_store.empty();  // kept even if the broker is down
  if (!store_first) connect_or_fail(device, o);
  if (auto r = device.send_attributes(a.set_json, o.message_qos()); !r) fail("attributes set", r.error());
  if (store_first) connect_or_fail(device, o);
  flush_or_fail(device, o, "attributes set");
}

struct attributes_answer {
  errc error;
  std::string client_json;  // "" when the section is absent
  std::string shared_json;
};

void run_get(const global_options& o, const attributes_args& a) {
  const std::string client_keys = join_keys(split_keys(a.client_keys));
  const std::string shared_keys = join_keys(split_keys(a.shared_keys));
  client device{to_client_options(o)};
  connect_or_fail(device, o);
  auto box = std::make_shared<mailbox<attributes_answer>>();
  auto r = device.request_attributes(client_keys, shared_keys, [box](errc e, json::value c, json::value s) {
    attributes_answer answer{e, {}, {}};
    if (c.present()) answer.client_json = std::string(c.raw());
    if (s.present()) answer.shared_json = std::string(s.raw());
    box->put(std::move(answer));
  });
  if (!r) fail("attributes get", r.error());
  auto answer = box->wait_for(o.timeout() + callback_grace);
  if (!answer) fail("attributes get: no answer", errc::timeout);
  if (answer->error != errc{}) fail("attributes get", answer->error);
  auto section = [](const std::string& raw) { return raw.empty() ? std::string("{}") : compact_json(raw); };
  print_line("{\"client\":" + section(answer->client_json) + ",\"shared\":" + section(answer->shared_json) + "}");
}

bool wanted(std::string_view raw_key, const std::vector<std::string>& keys) {
  for (const auto& k : keys)
    if (json::key_equals(raw_key, k)) return true;
  return false;
}

bool wanted_plain(std::string_view key, const std::vector<std::string>& keys) {
  for (const auto& k : keys)
    if (k == key) return true;
  return false;
}

/// @brief The part of a shared-attribute push that touches `keys`: its members for those keys,
/// and `"deleted"` reduced to those keys. Empty when nothing is left. No keys: the whole push.
std::string filter_update(std::string_view text, const std::vector<std::string>& keys) {
  if (keys.empty()) return compact_json(text);
  auto doc = json::value::parse(text);
  if (!doc || !doc->is_object()) return {};
  std::string members;
  std::string deleted;
  std::vector<char> buf(text.size() + 1);
  for (auto m : doc->members()) {
    if (json::key_equals(m.key, "deleted") && m.val.is_array()) {
      for (auto element : m.val.elements()) {
        auto name = element.as_string(span<char>{buf.data(), buf.size()});
        if (!name || !wanted_plain(*name, keys)) continue;
        if (!deleted.empty()) deleted += ',';
        deleted += element.raw();
      }
    } else if (wanted(m.key, keys)) {
      if (!members.empty()) members += ',';
      members += '"';
      members += m.key;
      members += "\":";
      members += compact_json(m.val.raw());
    }
  }
  if (!deleted.empty()) {
    if (!members.empty()) members += ',';
    members += "\"deleted\":[" + deleted + "]";
  }
  return members.empty() ? std::string() : "{" + members + "}";
}

void run_watch(const global_options& o, const attributes_args& a) {
  const std::vector<std::string> keys = split_keys(a.watch_keys);
  struct queue_state {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::string> updates;
  };
  auto queue = std::make_shared<queue_state>();
  client device{to_client_options(o)};
  // Register before connecting: connect() returns once this subscription is granted.
  auto r = device.subscribe_shared_attributes(join_keys(keys), [queue](json::value update) {
    std::lock_guard<std::mutex> lock(queue->mutex);
    queue->updates.emplace_back(update.raw());
    queue->cv.notify_one();
  });
  if (!r) fail("attributes watch", r.error());
  report_dropped_messages(device, "attributes watch");
  connect_or_fail(device, o);

  long long printed = 0;
  while (a.count == 0 || printed < a.count) {
    std::string update;
    {
      std::unique_lock<std::mutex> lock(queue->mutex);
      queue->cv.wait(lock, [&] { return !queue->updates.empty(); });
      update = std::move(queue->updates.front());
      queue->updates.pop_front();
    }
    std::string line = filter_update(update, keys);
    if (line.empty()) continue;
    print_line(line);
    ++printed;
  }
}

}  // namespace

void add_attributes_commands(CLI::App& app, global_options& options) {
  auto args = std::make_shared<attributes_args>();
  auto* group = app.add_subcommand("attributes", "Client and shared attributes");
  group->require_subcommand(1);

  auto* set = group->add_subcommand("set", "Publish client attributes (a flat JSON object)");
  set->add_option("json", args->set_json, "JSON object, e.g. {\"fw\":\"1.0\"}")->required();
  set->callback([&options, args] { run_set(options, *args); });

  auto* get =
      group->add_subcommand("get", "Read client and shared attributes; prints {\"client\":{..},\"shared\":{..}}");
  get->add_option("--client", args->client_keys, "Client attribute keys: k1 k2 or k1,k2")->expected(1, -1);
  get->add_option("--shared", args->shared_keys, "Shared attribute keys: k1 k2 or k1,k2")->expected(1, -1);
  get->callback([&options, args] { run_get(options, *args); });

  auto* watch = group->add_subcommand("watch", "Print each shared-attribute update as one JSON line");
  watch->add_option("--keys", args->watch_keys, "Only these keys: k1 k2 or k1,k2")->expected(1, -1);
  watch->add_option("--count", args->count, "Exit after N updates")->check(CLI::PositiveNumber);
  watch->callback([&options, args] { run_watch(options, *args); });
}

}  // namespace tbmqtt::cli
