// tbmqtt ota [--software] --out PATH [--chunk-size N] [--window N] [--wait S] [--state DIR] [--confirm]
//
// Waits for a firmware (or software) package assignment, or takes the current one, downloads it
// over ThingsBoard's MQTT chunk API (tbmqtt/ota.hpp), verifies its checksum and writes PATH
// atomically (PATH.part, then rename). States and progress go to stderr (a bar on a terminal,
// lines otherwise); the package goes to stdout as one JSON line:
//   {"title":..,"version":..,"size":..,"checksumAlgorithm":..,"path":..}
// --current-title/--current-version name what runs (reported as current_fw_*): an assignment of
// that package is installed already and ends the command at once (stdout {..,"installed":true}).
// `tbmqtt ota confirm --current-title T --current-version V` reports UPDATED after the restart. Progress is
// checkpointed in --state DIR, so a killed download resumes on the next run. After the file is
// written the state is UPDATING; --confirm also reports UPDATED.
//
// Exit codes: 0 ok, 4 no assignment within --wait or a chunk timeout, 5 checksum failure, server
// error (v2/fw/error) or malformed package, 3 refused/unreachable/connection lost, 2 usage, 1 other.
#include <CLI/CLI.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "tbmqtt/linux/platform.hpp"

namespace tbmqtt::cli {
namespace {

struct ota_args {
  bool software = false;
  std::string out;
  std::uint32_t chunk_size = 0;              // 0: the engine's default
  int window = tbmqtt::ota_config{}.window;  // the engine default, chosen by bench/ota_throughput.py
  std::chrono::milliseconds wait{-1};        // < 0: --timeout
  std::string state_dir;
  bool confirm = false;
  std::chrono::milliseconds chunk_timeout{0};  // 0: the engine's default
  std::string current_title;                   // what runs now (reported as current_fw_title); "" unknown
  std::string current_version;
  int max_retries = -1;  // < 0: the engine's default
};

std::string default_state_dir() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x == '/') return std::string(x) + "/tbmqtt";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return std::string(h) + "/.local/state/tbmqtt";
  return "/tmp/tbmqtt-state";
}

// mkdir -p (0700 for what it creates).
bool make_dirs(const std::string& path) {
  if (path.empty()) return false;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    const std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

struct state_event {
  ota_state state;
  errc error;
  std::string detail;
  bool progress = false;  // a 10 % step: state/error unused
  std::uint64_t received = 0;
  std::uint64_t total = 0;
};

// What the network thread tells the main thread.
struct shared_progress {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<state_event> events;
  std::uint64_t received = 0;
  std::uint64_t total = 0;
  int step = -1;  // last 10 % step queued as an event
  bool have_package = false;
  std::string title, version, algorithm;
  std::uint64_t size = 0;
};

class progress_view {
 public:
  explicit progress_view(bool tty) : tty_(tty) {}

  /// A new download: the rate counts from here.
  void start() {
    total_ = 0;
    started_ = std::chrono::steady_clock::now();
    drawn_ = false;
  }
  /// The size, once known (not a new start: the rate would count from now and be absurd).
  void set_total(std::uint64_t total) { total_ = total; }

  void show(std::uint64_t received) {
    if (total_ == 0) return;
    const int percent = static_cast<int>(received * 100 / total_);
    if (tty_) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      const double rate = secs > 0 ? static_cast<double>(received) / secs / 1e6 : 0.0;
      constexpr int width = 30;
      const int filled = percent * width / 100;
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.append(static_cast<std::size_t>(width - filled), '.');
      // \033[K erases what a longer earlier line left behind (no "MB/ss/s").
      std::fprintf(stderr, "\r[%s] %3d%% %llu/%llu bytes %.2f MB/s\033[K", bar.c_str(), percent,
                   static_cast<unsigned long long>(received), static_cast<unsigned long long>(total_), rate);
      std::fflush(stderr);
      drawn_ = true;
    }
  }

  std::uint64_t total() const { return total_; }
  bool tty() const { return tty_; }

  void progress_line(std::uint64_t received, std::uint64_t total) {
    std::fprintf(stderr, "ota: %d%% %llu/%llu bytes\n", static_cast<int>(total ? received * 100 / total : 100),
                 static_cast<unsigned long long>(received), static_cast<unsigned long long>(total));
    std::fflush(stderr);
  }

  /// Ends a bar line before another line is printed.
  void end_line() {
    if (tty_ && drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }

  void line(const std::string& text) {
    end_line();
    std::fprintf(stderr, "ota: %s\n", text.c_str());
    std::fflush(stderr);
  }

 private:
  bool tty_;
  bool drawn_ = false;
  std::uint64_t total_ = 0;
  std::chrono::steady_clock::time_point started_;
};

// The engine's failure -> the CLI's errc (and so its exit code): 4 timeout, 5 everything the
// server or the package is to blame for, 1 local I/O.
errc classify_failure(errc e) {
  switch (e) {
    case errc::timeout: return errc::timeout;
    case errc::server_error:  // v2/fw/error
      return errc::server_error;
    case errc::invalid_argument:  // URL package, unsupported checksum algorithm
    case errc::malformed:         // checksum mismatch, wrong chunk size, bad attributes
      return errc::malformed;
    default: return e;
  }
}

// Waits until the server has processed everything published so far, the engine's fw_state
// telemetry included. client::flush() cannot do it: it counts only messages published through
// the client's own API, while PUBACKs of the engine's messages still count as delivered (see the
// report), so it returns at once. An attribute request is answered only after the broker handled
// every earlier message of the connection, in order.
void barrier(client& device, const global_options& o) {
  (void)device.flush(o.timeout());
  auto box = std::make_shared<mailbox<errc>>();
  if (!device.request_attributes("", "fw_title", [box](errc e, json::value, json::value) { box->put(e); })) return;
  (void)box->wait_for(o.timeout() + callback_grace);
}

/// The package assigned now (shared *_title and *_version); empty strings when none.
std::pair<std::string, std::string> assigned_package(client& device, const global_options& o, bool software) {
  const std::string prefix = software ? "sw_" : "fw_";
  using answer = std::pair<std::string, std::string>;
  auto box = std::make_shared<mailbox<std::optional<answer>>>();
  auto r = device.request_attributes("", prefix + "title," + prefix + "version",
                                     [box, prefix](errc e, json::value, json::value shared) {
                                       if (e != errc{}) return box->put(std::nullopt);
                                       auto text = [&](const std::string& key) {
                                         std::vector<char> buf(shared[key].raw().size() + 1);
                                         auto v = shared[key].as_string(span<char>{buf.data(), buf.size()});
                                         return v ? std::string(*v) : std::string();
                                       };
                                       box->put(answer{text(prefix + "title"), text(prefix + "version")});
                                     });
  if (!r) fail("ota: reading the assignment", r.error());
  auto got = box->wait_for(o.timeout() + callback_grace);
  if (!got) fail("ota: reading the assignment: no answer", errc::timeout);
  if (!*got) fail("ota: reading the assignment", errc::server_error);
  return **got;
}

// `tbmqtt ota confirm`: the step after a restart into the new package.
void run_confirm(const global_options& o, const ota_args& a) {
  const std::string p = a.software ? "sw" : "fw";
  client device{to_client_options(o)};
  connect_or_fail(device, o);
  const auto assigned = assigned_package(device, o, a.software);
  if (!assigned.first.empty() && (assigned.first != a.current_title || assigned.second != a.current_version))
    report_message("ota confirm: note: the assigned package is " + assigned.first + " " + assigned.second + ", not " +
                   a.current_title + " " + a.current_version);
  const std::string payload = "{\"current_" + p + "_title\":" + quote_json(a.current_title) + ",\"current_" + p +
                              "_version\":" + quote_json(a.current_version) + ",\"" + p + "_state\":\"UPDATED\"}";
  if (auto r = device.send_telemetry(payload, qos::at_least_once); !r) fail("ota confirm", r.error());
  flush_or_fail(device, o, "ota confirm");
  report_message("ota: " + a.current_title + " " + a.current_version + " reported UPDATED");
}

void run(const global_options& o, const ota_args& a) {
  if (a.out.empty()) fail_usage("ota: give --out PATH (or use `ota confirm`)");
  if (a.current_title.empty() != a.current_version.empty())
    fail_usage("ota: --current-title and --current-version go together");
  const ota_kind kind = a.software ? ota_kind::software : ota_kind::firmware;
  const std::string state_dir = a.state_dir.empty() ? default_state_dir() : a.state_dir;
  if (!make_dirs(state_dir)) fail("ota: cannot create the state directory " + state_dir, errc::storage_error);
  const std::string out = absolute(a.out);

  // Declared before the client: the engine uses them until the client is destroyed.
  file_sink sink{out};
  file_storage storage{state_dir};
  ota_config config;
  config.kind = kind;
  config.current_title = a.current_title;  // reported as current_fw_*; that package is not downloaded
  config.current_version = a.current_version;
  if (a.chunk_size > 0) config.chunk_size = a.chunk_size;
  config.window = static_cast<std::uint8_t>(a.window);
  if (a.chunk_timeout.count() > 0) config.chunk_timeout_ms = static_cast<std::uint32_t>(a.chunk_timeout.count());
  if (a.max_retries >= 0) config.max_retries = static_cast<std::uint8_t>(a.max_retries);
  config.checkpoint_key = a.software ? "tb_sw_ckpt" : "tb_fw_ckpt";
  config.pending_key = a.software ? "tb_sw_pend" : "tb_fw_pend";
  // The CLI never restarts into the image: an activated-but-unconfirmed record from an earlier
  // run would only make the engine report a rollback. The checkpoint is kept (resume).
  (void)storage.erase(config.pending_key);

  auto shared = std::make_shared<shared_progress>();
  ota_handlers handlers;
  handlers.on_state = [shared](ota_kind, ota_state s, errc e, std::string_view detail) {
    std::lock_guard lock(shared->mutex);
    shared->events.push_back({s, e, std::string(detail)});
    if (s == ota_state::downloading) shared->step = -1;
    shared->cv.notify_all();
  };
  handlers.on_progress = [shared](ota_kind, std::uint64_t received, std::uint64_t total) {
    std::lock_guard lock(shared->mutex);
    shared->received = received;
    shared->total = total;
    const int step = total == 0 ? 10 : static_cast<int>(received * 10 / total);
    if (step != shared->step) {  // every 10 % step is printed, however fast the download
      shared->step = step;
      shared->events.push_back({ota_state::downloading, errc{}, {}, true, received, total});
    }
    shared->cv.notify_all();
  };
  handlers.on_ready = [shared](ota_kind, const ota_package& p) {
    std::lock_guard lock(shared->mutex);
    shared->have_package = true;
    shared->title = std::string(p.title_text());
    shared->version = std::string(p.version_text());
    shared->algorithm = std::string(to_string(p.algorithm));
    shared->size = p.size;
    shared->cv.notify_all();
  };

  client device{to_client_options(o)};
  if (auto r = device.enable_ota(config, sink, &storage, std::move(handlers)); !r) fail("ota: enable", r.error());
  connect_or_fail(device, o);
  if (!a.current_title.empty()) {
    const auto assigned = assigned_package(device, o, a.software);
    if (assigned.first == a.current_title && assigned.second == a.current_version) {
      report_message("ota: " + a.current_title + " " + a.current_version +
                     " is assigned and installed already: nothing to download");
      print_line("{\"title\":" + quote_json(a.current_title) + ",\"version\":" + quote_json(a.current_version) +
                 ",\"installed\":true}");
      return;
    }
  }

  progress_view view{::isatty(STDERR_FILENO) == 1};
  const auto wait_for = a.wait.count() < 0 ? o.timeout() : a.wait;
  const auto assignment_deadline = std::chrono::steady_clock::now() + wait_for;
  // Lost for this long while downloading: give up (the engine itself resumes after reconnects).
  const auto offline_limit = std::max<std::chrono::milliseconds>(o.timeout() * 3, std::chrono::seconds(30));
  auto offline_since = std::chrono::steady_clock::time_point{};
  bool started = false;
  bool updating = false;
  bool updated = false;
  std::uint64_t shown = UINT64_MAX;

  for (;;) {
    std::deque<state_event> events;
    std::uint64_t received = 0, total = 0;
    {
      std::unique_lock lock(shared->mutex);
      shared->cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return !shared->events.empty(); });
      events.swap(shared->events);
      received = shared->received;
      total = shared->total;
    }
    if (view.tty() && started && total > 0 && total != view.total()) view.set_total(total);
    if (view.tty() && started && received != shown && total > 0) {
      view.show(received);
      shown = received;
    }
    for (auto& ev : events) {
      if (ev.progress) {
        if (!view.tty()) view.progress_line(ev.received, ev.total);
        continue;
      }
      if (ev.state == ota_state::downloading) {
        started = true;
        view.start();  // a new download (also after a new assignment)
        shown = UINT64_MAX;
        std::lock_guard lock(shared->mutex);
        shared->received = 0;
        shared->total = 0;
      }
      if (ev.state == ota_state::failed) {
        view.line("FAILED: " + ev.detail);
        barrier(device, o);  // FAILED and fw_error reach the server before we go
        fail("ota: FAILED: " + ev.detail, classify_failure(ev.error));
      }
      view.line(std::string(to_string(ev.state)));
      if (ev.state == ota_state::updating) updating = true;
      if (ev.state == ota_state::updated) updated = true;
    }
    if (updating) break;
    const auto now = std::chrono::steady_clock::now();
    if (!started && now >= assignment_deadline) fail("ota: no package assigned", errc::timeout);
    if (device.connected()) {
      offline_since = {};
    } else if (offline_since == std::chrono::steady_clock::time_point{}) {
      offline_since = now;
    } else if (now - offline_since > offline_limit) {
      fail("ota: connection lost", errc::disconnected);
    }
  }
  view.end_line();

  if (a.confirm && !updated) {
    if (auto r = device.confirm_ota(kind); !r) fail("ota: confirm", r.error());
    std::lock_guard lock(shared->mutex);
    for (auto& ev : shared->events)
      if (ev.state == ota_state::updated) updated = true;
    shared->events.clear();
    if (updated) view.line("UPDATED");
  }
  flush_or_fail(device, o, "ota: reporting the state");
  barrier(device, o);
  device.disconnect();
  (void)storage.erase(config.pending_key);  // see above: nothing waits for a restart

  std::lock_guard lock(shared->mutex);
  std::string line = "{\"title\":" + quote_json(shared->title) + ",\"version\":" + quote_json(shared->version) +
                     ",\"size\":" + std::to_string(shared->size) +
                     ",\"checksumAlgorithm\":" + quote_json(shared->algorithm) + ",\"path\":" + quote_json(out) + "}";
  print_line(line);
}

}  // namespace

void add_ota_commands(CLI::App& app, global_options& options) {
  auto args = std::make_shared<ota_args>();
  auto* cmd = app.add_subcommand("ota", "Download the assigned firmware (or software) package into --out");
  cmd->add_flag("--software", args->software, "The software package (sw_*) instead of the firmware");
  cmd->add_option("--out", args->out, "Where to write the image (atomically: PATH.part, then rename); required");
  cmd->add_option("--current-title", args->current_title,
                  "Title of the package that runs now: reported as current_fw_title (current_sw_title); with "
                  "--current-version, an assignment of that package is installed already and not downloaded");
  cmd->add_option("--current-version", args->current_version, "Version that runs now (current_fw_version)");
  cmd->add_option("--chunk-size", args->chunk_size,
                  "Bytes per chunk request (default 16384; capped at the server's 65536)")
      ->check(CLI::Range(1u, 1u << 30));
  cmd->add_option("--window", args->window, "Chunk requests in flight (1 = stop-and-wait)")
      ->check(CLI::Range(1, TBMQTT_OTA_MAX_WINDOW))
      ->capture_default_str();
  add_duration_option(*cmd, "--wait", args->wait, std::chrono::seconds(1),
                      "How long to wait for an assignment: 30s, 5m (a plain number: seconds; default: --timeout)",
                      false);
  cmd->add_option("--state", args->state_dir,
                  "Checkpoint directory (default $XDG_STATE_HOME/tbmqtt or ~/.local/state/tbmqtt)");
  cmd->add_flag("--confirm", args->confirm, "Also report UPDATED once the file is written");
  add_duration_option(*cmd, "--chunk-timeout,--chunk-timeout-ms", args->chunk_timeout, std::chrono::milliseconds(1),
                      "First wait for a chunk: 5s (a plain number: ms; default 5s; doubles per retry)");
  cmd->add_option("--max-retries", args->max_retries, "Retries per chunk before FAILED (default 5)")
      ->check(CLI::Range(0, 255));
  auto* confirm = cmd->add_subcommand(
      "confirm",
      "After installing the downloaded package and restarting into it: report it running (fw_state UPDATED "
      "with current_fw_title/version)");
  confirm->add_option("--current-title", args->current_title, "Title of the package that runs now")->required();
  confirm->add_option("--current-version", args->current_version, "Version that runs now")->required();
  confirm->add_flag("--software", args->software, "The software package (sw_*)");
  confirm->callback([&options, args] { run_confirm(options, *args); });
  cmd->callback([&options, args, confirm] {
    if (confirm->parsed()) return;  // `ota confirm` ran
    run(options, *args);
  });
}

}  // namespace tbmqtt::cli
