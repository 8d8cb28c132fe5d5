// tbmqtt sample --every D --point NAME=CMD [--min X] [--max Y] [--delta D] [--delta-ratio R]
//               [--on-change] [--min-interval D] [--heartbeat D] ... [--count N]   (D: 500ms, 2s, 1m)
// Runs shell commands as time-series data points through the library's registry (report by
// exception): every MS milliseconds each CMD runs (`/bin/sh -c`), its trimmed output is the
// point's value (a JSON number, true/false, a JSON string, object or array; anything else is
// text), and the registry uploads what fires. The rule options after a --point apply to that
// point; those before the first --point are defaults for every point. Without any rule a point
// (number, boolean or text alike) is uploaded at every sample; --on-change uploads it only when
// it differs from the last upload (any type); --min/--max/--delta/--delta-ratio compare numbers,
// so give text and boolean points --on-change (or no rule at all). Each published payload is printed on stdout (one JSON per line).
// Stops after N rounds (--count), or on SIGINT/SIGTERM; then waits for acknowledgements.
#include <CLI/CLI.hpp>

#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "tbmqtt/registry.hpp"

namespace tbmqtt::cli {
namespace {

constexpr std::size_t max_points = 32;
using sample_registry = registry<max_points, 0, 0, 8192>;

std::atomic<bool> stop_requested{false};
extern "C" void on_stop_signal(int) { stop_requested = true; }

struct sample_options {
  std::chrono::milliseconds every{0};
  long count = 0;  // rounds; 0: until a signal
  std::vector<std::string> points;
  std::vector<double> min, max, delta, delta_ratio;
  std::vector<std::string> min_interval, heartbeat;  // durations (plain numbers: seconds)
};

/// One command-backed point. `output` is the last command output (read by the getter).
struct command_point {
  std::string name;
  std::string command;
  std::string output;
  bool ok = false;
  report_policy policy;
};

/// Runs `command` with /bin/sh; returns its stdout with surrounding whitespace removed.
/// ok is false when the command cannot start or exits non-zero.
std::string run_command(const std::string& command, bool& ok) {
  std::string out;
  ok = false;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const auto first = out.find_first_not_of(" \t\r\n");
  const auto last = out.find_last_not_of(" \t\r\n");
  out = first == std::string::npos ? std::string{} : out.substr(first, last - first + 1);
  return out;
}

/// The value of a command's output: JSON scalars keep their type, other text is a string.
point_value parse_output(const std::string& text, std::string& unescaped) {
  auto doc = json::value::parse(text);
  if (!doc) return point_value{std::string_view{text}};
  switch (doc->type()) {
    case json::kind::boolean: return point_value{*doc->as_bool()};
    case json::kind::number: {
      if (auto i = doc->as_int()) return point_value{static_cast<long long>(*i)};
      if (auto d = doc->as_double()) return point_value{*d};
      return point_value{std::string_view{text}};
    }
    case json::kind::string: {
      unescaped.assign(text.size(), '\0');
      if (auto s = doc->as_string(span<char>{unescaped.data(), unescaped.size()})) return point_value{*s};
      return point_value{std::string_view{text}};
    }
    case json::kind::object:
    case json::kind::array: return point_value::json(text);
    default: return point_value{std::string_view{text}};
  }
}

point_type type_of(const point_value& v) {
  return v.type() == point_type::integer ? point_type::real : v.type();  // numbers may change kind
}

struct getter_context {
  command_point* point;
  std::string scratch;
};

result<point_value> read_point(void* context) {
  auto* g = static_cast<getter_context*>(context);
  if (!g->point->ok) return errc::cancelled;  // already reported by the runner
  return parse_output(g->point->output, g->scratch);
}

void report_point_error(void*, errc e, std::string_view key) {
  if (e == errc::cancelled) return;
  report_error("sample: " + std::string(key), e);
}

void print_payload(void*, std::string_view payload) { print_line(payload); }

/// Turns the command line into points, walking the options in the order they were given.
std::vector<command_point> build_points(const CLI::App& cmd, const sample_options& o) {
  report_policy defaults;
  std::vector<command_point> points;
  std::map<std::string, std::size_t> used;  // option name -> values consumed
  const std::chrono::milliseconds seconds{1000};
  for (const CLI::Option* opt : cmd.parse_order()) {
    const std::string name = opt->get_name();
    const std::size_t i = used[name]++;
    report_policy& target = points.empty() ? defaults : points.back().policy;
    if (name == "--point") {
      const std::string& spec = o.points.at(i);
      const auto eq = spec.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        fail("sample: --point " + spec + ": expected NAME=COMMAND", errc::invalid_argument);
      command_point p;
      p.name = spec.substr(0, eq);
      if (p.name.find(',') != std::string::npos) fail("sample: point name with ','", errc::invalid_argument);
      p.command = spec.substr(eq + 1);
      p.policy = defaults;
      points.push_back(std::move(p));
    } else if (name == "--min") {
      target.min = o.min.at(i);
    } else if (name == "--max") {
      target.max = o.max.at(i);
    } else if (name == "--delta") {
      target.delta = o.delta.at(i);
    } else if (name == "--delta-ratio") {
      target.delta_ratio = o.delta_ratio.at(i);
    } else if (name == "--min-interval") {
      target.min_interval_ms = static_cast<std::uint32_t>(parse_duration(o.min_interval.at(i), seconds)->count());
    } else if (name == "--heartbeat") {
      target.max_interval_ms = static_cast<std::uint32_t>(parse_duration(o.heartbeat.at(i), seconds)->count());
    } else if (name == "--on-change") {
      target.on_change = true;
    }
  }
  if (points.empty()) fail("sample: give at least one --point NAME=COMMAND", errc::invalid_argument);
  if (points.size() > max_points) fail("sample: at most 32 points", errc::invalid_argument);
  for (std::size_t a = 0; a < points.size(); ++a)
    for (std::size_t b = a + 1; b < points.size(); ++b)
      if (points[a].name == points[b].name)
        fail("sample: point " + points[a].name + " given twice", errc::invalid_argument);
  return points;
}

void refresh(std::vector<command_point>& points) {
  for (auto& p : points) {
    p.output = run_command(p.command, p.ok);
    if (!p.ok) report_message("sample: " + p.name + ": command failed");
  }
}

std::uint32_t monotonic_ms() {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void run(const global_options& o, const CLI::App& cmd, const sample_options& so) {
  std::vector<command_point> points = build_points(cmd, so);
  const auto every = so.every;

  // The first round decides each point's type (it must succeed).
  refresh(points);
  std::vector<getter_context> contexts(points.size());
  auto reg = std::make_unique<sample_registry>();
  reg->set_qos(o.message_qos());
  reg->set_remote_tuning(false);
  reg->on_error({&report_point_error, nullptr});
  reg->on_upload({&print_payload, nullptr});
  for (std::size_t i = 0; i < points.size(); ++i) {
    command_point& p = points[i];
    if (!p.ok) fail("sample: " + p.name + ": the command failed on the first run", errc::invalid_argument);
    contexts[i].point = &p;
    report_policy policy = p.policy;
    policy.period_ms = 1;  // sampled at every round: the rounds set the pace
    const point_type type = type_of(parse_output(p.output, contexts[i].scratch));
    if (auto r = reg->add_time_series(p.name, type, {&read_point, &contexts[i]}, policy); !r)
      fail("sample: " + p.name, r.error());
  }

  client device{to_client_options(o)};
  if (auto r = device.attach(*reg, false); !r) fail("sample: attach", r.error());
  connect_or_fail(device, o);

  stop_requested = false;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  auto next = std::chrono::steady_clock::now();
  for (long round = 0; !stop_requested && (so.count == 0 || round < so.count); ++round) {
    if (round != 0) refresh(points);
    device.with_lock([&] { reg->tick(monotonic_ms(), unix_ms()); });
    next += every;
    if (so.count != 0 && round + 1 == so.count) break;
    while (!stop_requested && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(next - std::chrono::steady_clock::now(),
                                                                                std::chrono::milliseconds(50)));
  }
  flush_or_fail(device, o, "sample");
  device.detach();
}

}  // namespace

void add_sample_commands(CLI::App& app, global_options& options) {
  auto* cmd = app.add_subcommand("sample",
                                 "Run shell commands as data points every --every and upload them by exception "
                                 "(rules after a --point apply to it; before the first --point, to all)");
  auto so = std::make_shared<sample_options>();
  add_duration_option(*cmd, "--every", so->every, std::chrono::milliseconds(1),
                      "Sampling period: 500ms, 2s, 1m (a plain number: ms)")
      ->required();
  cmd->add_option("--point", so->points, "NAME=COMMAND: a point whose value is COMMAND's output")->required();
  cmd->add_option("--min", so->min, "Upload at once when the value crosses below X");
  cmd->add_option("--max", so->max, "Upload at once when the value crosses above Y");
  cmd->add_option("--delta", so->delta, "Upload when the value moved more than D since the last upload");
  cmd->add_option("--delta-ratio", so->delta_ratio, "Upload when it moved more than R x |last upload| (0.1 = 10%)");
  cmd->add_option("--min-interval", so->min_interval,
                  "Changes no more often than this: 30s, 5m (a plain number: seconds)")
      ->check(duration_check(std::chrono::seconds(1)))
      ->type_name("DURATION");
  cmd->add_option("--heartbeat", so->heartbeat, "Upload at least this often: 15m, 1h (a plain number: seconds)")
      ->check(duration_check(std::chrono::seconds(1)))
      ->type_name("DURATION");
  cmd->add_flag("--on-change", "Upload whenever the value differs from the last upload (numbers, booleans, text, JSON)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--count", so->count, "Stop after N rounds (default: run until SIGINT/SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([&options, so, cmd] { run(options, *cmd, *so); });
}

}  // namespace tbmqtt::cli
