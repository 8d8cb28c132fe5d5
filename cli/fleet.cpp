// tbmqtt fleet — thousands of simulated devices in one process, for load-testing ThingsBoard.
//
//   tbmqtt fleet --tokens FILE [--shard I/N] [--devices N] [--telemetry-every 1s] [--payload T]
//   tbmqtt fleet --provision-key K --provision-secret-file F --devices N [--name-prefix P]
//   tbmqtt fleet --tokens GATEWAY_TOKENS --gateways G --per-gateway M
//
// Every device is a core session (fleet_device.hpp) on one event loop (fleet_loop.hpp): one
// thread, one epoll set, one libmosquitto client per connection. Progress goes to stderr on a
// terminal (one line, rewritten), or as JSON lines on stdout with --json-lines; the JSON summary
// is the last line on stdout.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "fleet_device.hpp"
#include "fleet_loop.hpp"
#include "tbmqtt/provision.hpp"

namespace tbmqtt::cli {
namespace {

using fleet::device;
using fleet::now_ms;

struct fleet_args {
  int devices = 0;
  std::string tokens_file;
  std::string shard = "0/1";
  std::string provision_key, provision_secret;
  std::string name_prefix = "fleet-";
  std::chrono::milliseconds every{std::chrono::seconds(1)};
  std::string payload = R"({"temperature":{rand:10:30},"seq":{seq}})";
  int ramp = 500;
  std::chrono::milliseconds duration{0};
  int count = 0;  // telemetry messages per device (0: until --duration)
  std::string rpc_reply;
  bool request_attributes = false;
  std::string rpc_call;
  std::chrono::milliseconds rpc_every{std::chrono::seconds(5)};
  int gateways = 0;
  int per_gateway = 0;
  bool json_lines = false;
  std::chrono::milliseconds reconnect_min{std::chrono::seconds(1)};
  std::chrono::milliseconds reconnect_max{std::chrono::seconds(30)};
  std::string tokens_out;
};

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// ---- payload template ----------------------------------------------------------------------------

/// `{seq}`, `{device}`, `{ts}` (epoch ms) and `{rand:A:B}` (an integer in [A, B], or a number
/// with two decimals when A or B has a dot) in otherwise literal text.
class payload_template {
 public:
  explicit payload_template(const std::string& text) {
    std::size_t i = 0;  // text before i is done
    std::size_t from = 0;
    while (true) {
      const std::size_t open = text.find('{', from);
      if (open == std::string::npos) break;
      const std::size_t close = text.find_first_of("{}\"", open + 1);
      from = open + 1;
      if (close == std::string::npos || text[close] != '}') continue;  // a JSON brace
      const std::string inner = text.substr(open + 1, close - open - 1);
      piece p;
      if (inner == "seq") {
        p.kind = piece::seq;
      } else if (inner == "device") {
        p.kind = piece::device;
      } else if (inner == "ts") {
        p.kind = piece::ts;
      } else if (inner.rfind("rand:", 0) == 0) {
        const std::string range = inner.substr(5);
        const std::size_t colon = range.find(':');
        char* end = nullptr;
        if (colon == std::string::npos) fail_usage("--payload: {rand:A:B} needs two numbers, got {" + inner + "}");
        const std::string a = range.substr(0, colon), b = range.substr(colon + 1);
        p.low = std::strtod(a.c_str(), &end);
        if (a.empty() || *end != '\0') fail_usage("--payload: not a number in {" + inner + "}");
        p.high = std::strtod(b.c_str(), &end);
        if (b.empty() || *end != '\0' || p.high < p.low) fail_usage("--payload: bad range in {" + inner + "}");
        p.kind = piece::rand;
        p.real = a.find('.') != std::string::npos || b.find('.') != std::string::npos;
      } else {
        continue;  // not a placeholder
      }
      literal(text.substr(i, open - i));
      pieces_.push_back(p);
      i = from = close + 1;
    }
    literal(text.substr(i));
  }

  void render(std::string& out, std::string_view device_name, std::uint32_t seq, std::mt19937& rng) const {
    out.clear();
    char number[64];
    for (const piece& p : pieces_) {
      switch (p.kind) {
        case piece::text: out += p.literal; break;
        case piece::seq: out += std::to_string(seq); break;
        case piece::device: out += device_name; break;
        case piece::ts: out += std::to_string(wall_ms()); break;
        case piece::rand: {
          std::uniform_real_distribution<double> d(p.low, p.high);
          if (p.real) {
            std::snprintf(number, sizeof(number), "%.2f", d(rng));
          } else {
            std::uniform_int_distribution<long long> n(static_cast<long long>(p.low), static_cast<long long>(p.high));
            std::snprintf(number, sizeof(number), "%lld", n(rng));
          }
          out += number;
          break;
        }
      }
    }
  }

 private:
  struct piece {
    enum kind_t { text, seq, device, ts, rand } kind = text;
    std::string literal;
    double low = 0, high = 0;
    bool real = false;
  };
  void literal(std::string s) {
    if (s.empty()) return;
    if (!pieces_.empty() && pieces_.back().kind == piece::text) {
      pieces_.back().literal += s;
      return;
    }
    piece p;
    p.literal = std::move(s);
    pieces_.push_back(std::move(p));
  }
  static long long wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::vector<piece> pieces_;
};

// ---- credentials -------------------------------------------------------------------------------

struct identity {
  std::string name;
  std::string token;
};

std::pair<int, int> parse_shard(const std::string& text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) fail_usage("--shard: expected I/N, e.g. 0/4, got " + text);
  const std::string first = text.substr(0, slash), second = text.substr(slash + 1);  // strtol's end points into them
  char* end = nullptr;
  const long i = std::strtol(first.c_str(), &end, 10);
  const bool i_ok = !first.empty() && *end == '\0';
  const long n = std::strtol(second.c_str(), &end, 10);
  if (!i_ok || second.empty() || *end != '\0' || n < 1 || i < 0 || i >= n)
    fail_usage("--shard: expected I/N with 0 <= I < N, e.g. 0/4, got " + text);
  return {static_cast<int>(i), static_cast<int>(n)};
}

/// Lines i, i+n, i+2n, ... of the tokens file (blank lines and # comments skipped). Device k
/// (k-th token of the file, from 0) is named <prefix><k>, the same on every shard.
std::vector<identity> read_tokens(const fleet_args& a) {
  const auto [shard, shards] = parse_shard(a.shard);
  std::ifstream in(a.tokens_file);
  if (!in) fail_usage("--tokens: cannot read " + a.tokens_file);
  std::vector<identity> out;
  std::string line;
  int k = 0;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    if (k % shards == shard) out.push_back({a.name_prefix + std::to_string(k), line.substr(start)});
    ++k;
    if (a.devices > 0 && static_cast<int>(out.size()) >= a.devices) break;
  }
  if (out.empty()) fail_usage("--tokens: no token for shard " + a.shard + " in " + a.tokens_file);
  return out;
}

/// Writes the provisioned tokens (one a line, 0600, never over an existing file or a symlink).
void write_tokens(const std::string& path, const std::vector<identity>& ids) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("--tokens-out " + path + ": " + std::strerror(errno) + " (it must not exist)", errc::invalid_argument);
  std::string text;
  for (const auto& id : ids)
    if (!id.token.empty()) text += id.token + "\n";  // provisioned ones only
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) fail("--tokens-out " + path + ": write failed", errc::storage_error);
}

// ---- provisioning on the loop ------------------------------------------------------------------

/// One provisioning exchange on a link: CONNECT as "provision", subscribe, request, response.
class provisioner final : public fleet::link_events {
 public:
  provisioner(fleet::event_loop& loop, identity& id, const fleet_args& a) : id_(id), args_(a), link_(loop, *this) {}
  bool start(const global_options& o) {
    started_ = true;
    const int port = o.port == 0 ? 1883 : o.port;
    const std::string user(provision_username);
    if (link_.open(o.host, port, user.c_str(), nullptr, 30) != 0) {
      finish(errc::unreachable);
      return false;
    }
    return true;
  }
  bool started() const { return started_; }
  bool done() const { return done_; }
  errc error() const { return error_; }

 private:
  void on_connack(int code) noexcept override {
    if (code != 0) return finish(errc::refused_credentials);
    int mid = 0;
    if (link_.subscribe(std::string(provision_response_topic).c_str(), 1, &mid) != 0) finish(errc::transport_error);
  }
  void on_suback(int, int granted) noexcept override {
    if (granted > 1) return finish(errc::subscription_refused);
    provision_request r;
    r.device_name = id_.name;
    r.key = args_.provision_key;
    r.secret = args_.provision_secret;
    char buffer[1024];
    const auto payload = build_provision_request(span<char>(buffer, sizeof(buffer)), r);
    if (!payload) return finish(payload.error());
    int mid = 0;
    if (link_.publish(std::string(provision_request_topic).c_str(), payload->data(), static_cast<int>(payload->size()),
                      1, &mid) != 0)
      finish(errc::transport_error);
  }
  void on_message(std::string_view, span<const std::byte> payload) noexcept override {
    auto creds = std::make_unique<credentials>();  // about 2.6 KB
    const auto parsed = parse_provision_response(
        std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()), *creds);
    if (!parsed) return finish(parsed.error());
    if (creds->type != provision_credentials_type::access_token) return finish(errc::malformed);
    id_.token = std::string(creds->token.view());
    finish(errc{});
  }
  void on_lost(int) noexcept override { finish(errc::disconnected); }
  void on_puback(int) noexcept override {}
  void finish(errc e) {
    if (done_) return;
    done_ = true;
    error_ = e;
    link_.close();
  }

  identity& id_;
  const fleet_args& args_;
  fleet::link link_;
  bool started_ = false, done_ = false;
  errc error_{};
};

// ---- the run ----------------------------------------------------------------------------------

/// Round trips in microseconds: every sample up to a cap, then a uniform reservoir.
class latencies {
 public:
  void add(std::uint64_t us) {
    ++count_;
    if (samples_.size() < cap) return samples_.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>(us, ~0u)));
    std::uniform_int_distribution<std::uint64_t> pick(0, count_ - 1);
    if (const auto i = pick(rng_); i < cap) samples_[i] = static_cast<std::uint32_t>(std::min<std::uint64_t>(us, ~0u));
  }
  std::uint64_t count() const { return count_; }
  /// The p-quantile in ms (-1 without samples).
  double quantile_ms(double p) const {
    if (samples_.empty()) return -1;
    std::vector<std::uint32_t> s = samples_;
    const std::size_t k = std::min(s.size() - 1, static_cast<std::size_t>(p * static_cast<double>(s.size())));
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
    return s[k] / 1000.0;
  }

 private:
  static constexpr std::size_t cap = 100000;
  std::vector<std::uint32_t> samples_;
  std::uint64_t count_ = 0;
  std::mt19937_64 rng_{42};
};

std::string json_ms(double ms) {
  if (ms < 0) return "null";
  char b[32];
  std::snprintf(b, sizeof(b), "%.3f", ms);
  return b;
}

long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class runner final : public fleet::device_hooks {
 public:
  runner(const global_options& o, const fleet_args& a) : o_(o), a_(a), template_(a.payload) {
    settings_.host = o.host;
    settings_.port = o.port == 0 ? 1883 : o.port;
    settings_.keepalive_s = static_cast<int>(std::max<long long>(5, o.keepalive.count() / 1000));
    settings_.telemetry_qos = o.message_qos();
    settings_.rpc_reply = a.rpc_reply;
    settings_.wire = to_wire_format(o.wire);
  }

  int run(std::vector<identity> ids) {
    fd_limit_ = fleet::raise_open_file_limit();
    if (fd_limit_ != 0 && ids.size() + 32 > fd_limit_)
      fail("fleet: " + std::to_string(ids.size()) + " connections need more open files than the limit (" +
               std::to_string(fd_limit_) + "): raise it with ulimit -n",
           errc::invalid_argument);
    start_ms_ = now_ms();
    if (!a_.provision_key.empty()) provision(ids);
    if (!a_.tokens_out.empty()) write_tokens(a_.tokens_out, ids);
    base_rss_kb_ = rss_kb();
    for (auto& id : ids) {
      if (id.token.empty()) continue;  // provisioning failed (counted)
      devices_.push_back(std::make_unique<device>(loop_, settings_, *this, id.name, id.token));
      if (a_.gateways > 0) {
        std::vector<std::string> children;
        for (int j = 0; j < a_.per_gateway; ++j) children.push_back(id.name + "-" + std::to_string(j));
        devices_.back()->make_gateway(std::move(children));
      }
    }
    const std::uint64_t t0 = now_ms();
    run_start_ms_ = t0;
    for (std::size_t i = 0; i < devices_.size(); ++i)
      schedule(i, t0 + static_cast<std::uint64_t>(i) * 1000 / static_cast<std::uint64_t>(std::max(1, a_.ramp)));
    loop(t0);
    return summary();
  }

  // device_hooks
  void on_ready(device& d) noexcept override {
    ++connected_;
    ++connects_;
    peak_ = std::max(peak_, connected_);
    was_ready_[index_of(d)] = true;
    if (d.attempt > 0 || d.started) ++reconnects_;
    d.attempt = 0;
    if (!d.started && a_.request_attributes) {
      if (auto r = d.request_attributes(); !r) count_error(r.error());
    }
    d.started = true;
    const std::size_t i = index_of(d);
    schedule(i, now_ms() + jitter(a_.every.count()));  // spread the fleet's messages over the period
    if (!a_.rpc_call.empty()) next_rpc_[i] = now_ms() + jitter(a_.rpc_every.count());
  }
  void on_down(device& d, bool refused) noexcept override {
    if (was_ready_[index_of(d)]) --connected_;
    was_ready_[index_of(d)] = false;
    if (refused)
      ++refused_;
    else
      ++lost_;
    if (stopping_) return;
    const auto delay =
        reconnect_delay_ms(d.attempt++, static_cast<std::uint32_t>(a_.reconnect_min.count()),
                           static_cast<std::uint32_t>(a_.reconnect_max.count()), static_cast<std::uint32_t>(rng_()));
    schedule(index_of(d), now_ms() + delay);
  }
  void on_delivered(device&) noexcept override { ++acked_; }
  void on_rpc_answered(device&, errc e) noexcept override {
    if (e == errc{})
      ++rpc_answered_;
    else
      count_error(e);
  }
  void on_round_trip(device&, bool rpc, errc e, std::uint64_t us) noexcept override {
    if (stopping_ && e == errc::disconnected) return;  // still waiting when the run ended
    if (e != errc{}) {
      count_error(e);
      (rpc ? rpc_failed_ : attr_failed_)++;
      return;
    }
    if (rpc)
      rpc_rtt_.add(us);
    else
      ++attr_ok_;
  }
  void on_error(device&, errc e, std::string_view) noexcept override { count_error(e); }

 private:
  std::size_t index_of(const device& d) const { return index_.at(&d); }
  std::uint64_t jitter(long long period) {
    return period <= 0 ? 0 : std::uniform_int_distribution<std::uint64_t>(0, static_cast<std::uint64_t>(period))(rng_);
  }
  void count_error(errc e) { ++errors_[std::string(to_string(e))]; }

  void schedule(std::size_t i, std::uint64_t due) {
    devices_[i]->next_due_ms = due;
    timers_.push({due, i});
  }

  void provision(std::vector<identity>& ids) {
    std::vector<std::unique_ptr<provisioner>> work;
    for (auto& id : ids) work.push_back(std::make_unique<provisioner>(loop_, id, a_));
    const std::uint64_t t0 = now_ms();
    const std::uint64_t deadline = t0 + static_cast<std::uint64_t>(o_.timeout().count()) +
                                   static_cast<std::uint64_t>(ids.size()) * 1000 / std::max(1, a_.ramp);
    std::size_t next = 0, done = 0;
    while (done < work.size() && !g_stop && now_ms() < deadline) {
      const std::uint64_t now = now_ms();
      const std::size_t allowed = std::min<std::size_t>(
          work.size(), static_cast<std::size_t>((now - t0) * static_cast<std::uint64_t>(a_.ramp) / 1000 + 1));
      for (; next < allowed && next - done < 256; ++next) work[next]->start(o_);
      loop_.run_once(10);
      done = 0;
      for (const auto& w : work) done += w->done() ? 1 : 0;
    }
    for (std::size_t i = 0; i < work.size(); ++i) {
      if (work[i]->done() && work[i]->error() == errc{}) {
        ++provisioned_;
      } else {
        ++provision_failed_;
        count_error(work[i]->done() ? work[i]->error() : errc::timeout);
        ids[i].token.clear();
      }
    }
    if (provisioned_ == 0) fail("fleet: provisioning", errors_.empty() ? errc::timeout : errc::provision_failed);
  }

  void loop(std::uint64_t t0) {
    index_.reserve(devices_.size());
    for (std::size_t i = 0; i < devices_.size(); ++i) index_[devices_[i].get()] = i;
    was_ready_.assign(devices_.size(), false);
    next_rpc_.assign(devices_.size(), 0);
    const std::uint64_t end = a_.duration.count() > 0 ? t0 + static_cast<std::uint64_t>(a_.duration.count()) : 0;
    std::uint64_t next_report = t0 + 1000, next_tick = t0 + 1000;
    std::uint64_t last_sent = 0;
    last_report_ms_ = t0;
    while (!g_stop) {
      const std::uint64_t now = now_ms();
      if (end != 0 && now >= end) break;
      if (a_.count > 0 && all_sent() && in_flight() == 0) break;
      fire_timers(now);
      if (now >= next_tick) {
        next_tick = now + 1000;
        for (std::size_t i = 0; i < devices_.size(); ++i) {
          devices_[i]->tick();
          if (!a_.rpc_call.empty() && devices_[i]->ready() && next_rpc_[i] != 0 && now >= next_rpc_[i]) {
            next_rpc_[i] = now + static_cast<std::uint64_t>(a_.rpc_every.count());
            if (auto r = devices_[i]->call_rpc(a_.rpc_call, "{}"); !r && r.error() != errc::again)
              count_error(r.error());
          }
        }
      }
      if (now >= next_report) {
        next_report += 1000;
        report(now, sent_ - last_sent);
        last_sent = sent_;
      }
      int wait = 50;
      if (!timers_.empty())
        wait = static_cast<int>(std::min<std::uint64_t>(50, timers_.top().first > now ? timers_.top().first - now : 0));
      loop_.run_once(wait);
    }
    // Drain: no new messages; wait (--timeout) for what is in flight, then disconnect all.
    stopping_ = true;
    const std::uint64_t drain_end = now_ms() + static_cast<std::uint64_t>(o_.timeout().count());
    while (in_flight() > 0 && now_ms() < drain_end && g_stop < 2) loop_.run_once(20);
    end_ms_ = now_ms();
    peak_rss_kb_ = rss_kb();
    for (auto& d : devices_) d->close();
    if (progress_line_) std::fputs("\r\033[K", stderr);
  }

  bool all_sent() const { return sent_target_done_ >= devices_.size(); }
  std::size_t in_flight() const {
    std::size_t n = 0;
    for (const auto& d : devices_) n += d->in_flight();
    return n;
  }

  void fire_timers(std::uint64_t now) {
    while (!timers_.empty() && timers_.top().first <= now) {
      const auto [due, i] = timers_.top();
      timers_.pop();
      device& d = *devices_[i];
      if (d.next_due_ms != due) continue;  // replaced by a later schedule
      d.next_due_ms = 0;
      if (d.ready()) {
        // Back-pressure: a device whose QoS 1 window (libmosquitto's 20 in flight, per sub-device
        // for a gateway) has no room for this period's messages skips the period (it sends them
        // later: its count does not advance) instead of queueing without bound.
        if (d.in_flight() + std::max<std::size_t>(1, d.children()) <= d.window())
          send(i, d);
        else
          ++skipped_;
        if (a_.count == 0 || d.seq < static_cast<std::uint32_t>(a_.count)) {
          const std::uint64_t next = due + static_cast<std::uint64_t>(a_.every.count());
          schedule(i, next > now ? next : now);
        }
      } else if (!d.connecting()) {
        if (const errc e = d.connect(); e != errc{}) {
          count_error(e);
          on_down(d, false);
        }
      }
    }
  }

  void send(std::size_t, device& d) {
    const std::size_t parts = d.children() == 0 ? 1 : d.children();
    for (std::size_t c = 0; c < parts; ++c) {
      template_.render(buffer_, d.child_name(c), d.seq, rng_);
      const auto id = d.publish_telemetry(buffer_, c);
      if (id)
        ++sent_;
      else
        ++send_errors_, count_error(id.error());
    }
    ++d.seq;
    if (a_.count > 0 && d.seq == static_cast<std::uint32_t>(a_.count)) ++sent_target_done_;
  }

  void report(std::uint64_t now, std::uint64_t sent_delta) {
    const double secs = static_cast<double>(now - last_report_ms_) / 1000.0;
    last_report_ms_ = now;
    const double rate = secs > 0 ? static_cast<double>(sent_delta) / secs : 0;
    char line[512];
    if (a_.json_lines) {
      std::snprintf(line, sizeof(line),
                    "{\"t\":%.1f,\"connected\":%zu,\"devices\":%zu,\"msgPerS\":%.0f,\"sent\":%llu,"
                    "\"acknowledged\":%llu,\"rpcAnswered\":%llu,\"rpcP50Ms\":%s,\"rpcP99Ms\":%s,\"errors\":%llu}",
                    static_cast<double>(now - run_start_ms_) / 1000.0, connected_, devices_.size(), rate,
                    static_cast<unsigned long long>(sent_), static_cast<unsigned long long>(acked_),
                    static_cast<unsigned long long>(rpc_answered_), json_ms(rpc_rtt_.quantile_ms(0.5)).c_str(),
                    json_ms(rpc_rtt_.quantile_ms(0.99)).c_str(), static_cast<unsigned long long>(error_count()));
      print_line(line);
    } else if (::isatty(STDERR_FILENO)) {
      std::snprintf(line, sizeof(line),
                    "\r\033[Kconnected %zu/%zu  %.0f msg/s  sent %llu  acked %llu  rpc %llu  rtt p50 %s p99 %s ms  "
                    "errors %llu",
                    connected_, devices_.size(), rate, static_cast<unsigned long long>(sent_),
                    static_cast<unsigned long long>(acked_), static_cast<unsigned long long>(rpc_answered_),
                    json_ms(rpc_rtt_.quantile_ms(0.5)).c_str(), json_ms(rpc_rtt_.quantile_ms(0.99)).c_str(),
                    static_cast<unsigned long long>(error_count()));
      std::fputs(line, stderr);
      std::fflush(stderr);
      progress_line_ = true;
    }
  }

  std::uint64_t error_count() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : errors_) n += v;
    return n;
  }

  int summary() {
    const double elapsed = static_cast<double>(end_ms_ - run_start_ms_) / 1000.0;
    std::string errors = "{";
    for (const auto& [k, v] : errors_)
      errors += (errors.size() > 1 ? "," : "") + quote_json(k) + ":" + std::to_string(v);
    errors += "}";
    std::size_t children = 0;
    for (const auto& d : devices_) children += d->children();
    const long per_device_bytes =
        devices_.empty() ? 0 : (peak_rss_kb_ - base_rss_kb_) * 1024 / static_cast<long>(devices_.size());
    char text[2048];
    std::snprintf(
        text, sizeof(text),
        "{\"summary\":true,\"devices\":%zu,\"gatewayChildren\":%zu,\"provisioned\":%llu,\"provisionFailed\":%llu,"
        "\"connectedPeak\":%zu,\"connectedAtEnd\":%zu,\"connects\":%llu,\"reconnects\":%llu,\"refused\":%llu,"
        "\"lost\":%llu,\"sent\":%llu,\"acknowledged\":%llu,\"sendErrors\":%llu,\"rpcAnswered\":%llu,"
        "\"rpcCalls\":%llu,\"rpcFailed\":%llu,\"rpcP50Ms\":%s,\"rpcP99Ms\":%s,\"attributeRequests\":%llu,"
        "\"attributeRequestsFailed\":%llu,\"errors\":%s,\"elapsedS\":%.3f,\"msgPerS\":%.1f,\"cpuS\":%.3f,"
        "\"rssKB\":%ld,\"rssPerDeviceBytes\":%ld,\"openFileLimit\":%llu,\"skippedFullWindow\":%llu}",
        devices_.size(), children, static_cast<unsigned long long>(provisioned_),
        static_cast<unsigned long long>(provision_failed_), peak_, connected_,
        static_cast<unsigned long long>(connects_), static_cast<unsigned long long>(reconnects_),
        static_cast<unsigned long long>(refused_), static_cast<unsigned long long>(lost_),
        static_cast<unsigned long long>(sent_), static_cast<unsigned long long>(acked_),
        static_cast<unsigned long long>(send_errors_), static_cast<unsigned long long>(rpc_answered_),
        static_cast<unsigned long long>(rpc_rtt_.count() + rpc_failed_), static_cast<unsigned long long>(rpc_failed_),
        json_ms(rpc_rtt_.quantile_ms(0.5)).c_str(), json_ms(rpc_rtt_.quantile_ms(0.99)).c_str(),
        static_cast<unsigned long long>(attr_ok_ + attr_failed_), static_cast<unsigned long long>(attr_failed_),
        errors.c_str(), elapsed, elapsed > 0 ? static_cast<double>(sent_) / elapsed : 0.0, cpu_seconds(), peak_rss_kb_,
        per_device_bytes, static_cast<unsigned long long>(fd_limit_), static_cast<unsigned long long>(skipped_));
    print_line(text);
    if (connects_ == 0) fail("fleet: no device connected to " + o_.host, errc::unreachable);
    return 0;
  }

  const global_options& o_;
  const fleet_args& a_;
  fleet::device_settings settings_;
  payload_template template_;
  fleet::event_loop loop_;
  std::vector<std::unique_ptr<device>> devices_;
  std::unordered_map<const device*, std::size_t> index_;
  std::vector<bool> was_ready_;
  std::vector<std::uint64_t> next_rpc_;
  using timer = std::pair<std::uint64_t, std::size_t>;
  std::priority_queue<timer, std::vector<timer>, std::greater<timer>> timers_;
  std::mt19937 rng_{std::random_device{}()};
  std::string buffer_;
  std::size_t connected_ = 0, peak_ = 0, sent_target_done_ = 0;
  std::uint64_t connects_ = 0, reconnects_ = 0, refused_ = 0, lost_ = 0, sent_ = 0, acked_ = 0, send_errors_ = 0;
  std::uint64_t rpc_answered_ = 0, rpc_failed_ = 0, attr_ok_ = 0, attr_failed_ = 0;
  std::uint64_t provisioned_ = 0, provision_failed_ = 0, skipped_ = 0;
  std::map<std::string, std::uint64_t> errors_;
  latencies rpc_rtt_;
  std::uint64_t start_ms_ = 0, run_start_ms_ = 0, end_ms_ = 0, last_report_ms_ = 0, fd_limit_ = 0;
  long base_rss_kb_ = 0, peak_rss_kb_ = 0;
  bool stopping_ = false, progress_line_ = false;
};

void run_fleet(const global_options& o, fleet_args& a) {
  if (o.tls) fail_usage("fleet speaks plain MQTT only (no --tls yet)");
  const bool provisioning = !a.provision_key.empty();
  if (provisioning == !a.tokens_file.empty())
    fail_usage("fleet needs --tokens FILE or --provision-key K with --provision-secret[-file]");
  if (provisioning && a.provision_secret.empty()) fail_usage("--provision-key needs --provision-secret[-file]");
  if (provisioning && a.devices <= 0 && a.gateways <= 0) fail_usage("provisioning needs --devices N");
  if ((a.gateways > 0) != (a.per_gateway > 0)) fail_usage("--gateways G needs --per-gateway M (and the other way)");
  if (a.gateways > 0) a.devices = a.gateways;
  if (a.count == 0 && a.duration.count() == 0 && !::isatty(STDIN_FILENO) && !a.json_lines) {
    // fine: runs until SIGINT/SIGTERM
  }
  // Fleet's --payload is its telemetry template: the payload format goes before the command.
  if (a.payload == "json" || a.payload == "protobuf")
    fail_usage(
        "fleet: --payload is the telemetry template; give the payload format before the command: tbmqtt "
        "--payload " +
        a.payload + " [--proto FILE] fleet ...");
  if (a.gateways > 0 && o.wire.topics != "v1")
    fail_usage("fleet: gateway mode speaks v1/gateway/* (ThingsBoard has no v2 gateway topics): leave --topics v1");
  if (a.gateways > 0 && o.wire.payload != "json")
    fail_usage("fleet: gateway mode sends JSON (--payload protobuf is for devices)");
  (void)to_wire_format(o.wire);  // its usage errors before anything connects
  {                              // the template must make a JSON object
    payload_template t(a.payload);
    std::string sample;
    std::mt19937 rng(1);
    t.render(sample, "device", 0, rng);
    require_json_object(sample, "--payload (as rendered: " + sample + ")");
  }
  if (!a.rpc_reply.empty()) require_json(a.rpc_reply, "--rpc-reply");
  std::vector<identity> ids;
  if (provisioning) {
    const int n = a.devices;
    const auto [shard, shards] = parse_shard(a.shard);
    for (int k = 0; static_cast<int>(ids.size()) < n; ++k)
      if (k % shards == shard) ids.push_back({a.name_prefix + std::to_string(k), ""});
  } else {
    ids = read_tokens(a);
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  runner r(o, a);
  r.run(std::move(ids));
}

}  // namespace

void add_fleet_commands(CLI::App& app, global_options& options) {
  auto a = std::make_shared<fleet_args>();
  auto* cmd = app.add_subcommand(
      "fleet",
      "Simulate many devices in one process (load test): each connects, sends telemetry, answers RPCs; prints a "
      "JSON summary");
  cmd->add_option("--devices", a->devices, "Number of devices (default: every token of the shard)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tokens", a->tokens_file, "File with one access token per line (device k is <name-prefix>k)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--shard", a->shard,
                  "Use tokens I, I+N, I+2N, ... (0-based) so that N fleet processes share one tokens file")
      ->capture_default_str();
  cmd->add_option("--provision-key", a->provision_key, "Provision the devices with this device-profile key");
  cmd->add_option("--provision-secret", a->provision_secret,
                  "Provision secret (or --provision-secret-file; argv shows in ps)");
  add_secret_file_option(*cmd, "--provision-secret", a->provision_secret);
  cmd->add_option("--name-prefix", a->name_prefix, "Device names: <prefix><k>")->capture_default_str();
  cmd->add_option("--tokens-out", a->tokens_out,
                  "Write the tokens (provisioned ones) to this new file (0600; it must not exist)");
  add_duration_option(*cmd, "--telemetry-every", a->every, std::chrono::seconds(1),
                      "Period of each device's telemetry (default 1s; a plain number: seconds)");
  cmd->add_option("--payload", a->payload,
                  "Telemetry template: {seq}, {device}, {ts}, {rand:A:B} (A.0 for decimals) in JSON")
      ->capture_default_str();
  cmd->add_option("--count", a->count, "Telemetry messages per device (then stop once acknowledged; 0: no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--ramp", a->ramp, "New connections per second")->check(CLI::PositiveNumber)->capture_default_str();
  add_duration_option(*cmd, "--duration", a->duration, std::chrono::seconds(1),
                      "Stop after this long (default: --count, or SIGINT)");
  cmd->add_option("--rpc-reply", a->rpc_reply, "Answer every server RPC with this JSON (default: echo its params)");
  cmd->add_flag("--request-attributes", a->request_attributes, "Request all attributes once connected");
  cmd->add_option("--rpc-call", a->rpc_call, "Call this client-side RPC method periodically (round trip p50/p99)");
  add_duration_option(*cmd, "--rpc-every", a->rpc_every, std::chrono::seconds(1), "Period of --rpc-call");
  cmd->add_option("--gateways", a->gateways, "Gateway mode: G gateway connections (tokens are gateways')")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--per-gateway", a->per_gateway, "Gateway mode: M sub-devices per gateway (<gateway>-<j>)")
      ->check(CLI::Range(1, 255));
  add_duration_option(*cmd, "--reconnect-min", a->reconnect_min, std::chrono::seconds(1),
                      "First reconnect delay (doubles up to --reconnect-max, with jitter)");
  add_duration_option(*cmd, "--reconnect-max", a->reconnect_max, std::chrono::seconds(1), "Longest reconnect delay");
  cmd->add_flag("--json-lines", a->json_lines, "Progress as one JSON object per second on stdout");
  cmd->callback([&options, a] { run_fleet(options, *a); });
}

}  // namespace tbmqtt::cli
