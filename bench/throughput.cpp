// tbmqtt — end-to-end publish throughput against a local MQTT broker, tbmqtt::client versus raw
// libmosquitto measured in the same run (alternating, so both see the same machine state).
//
//   bench_throughput --host 127.0.0.1 --port 1883 [--messages N] [--repeats R]
//                    [--qos 0|1] [--only raw|tbmqtt]   (one side or one QoS only, for profiling)
//
// One measurement = connect (untimed), then publish N messages of 40 bytes as fast as the API
// accepts them and stop the clock when the last one is acknowledged (QoS 1: PUBACK) or written
// (QoS 0). Raw libmosquitto: mosquitto_loop_start + mosquitto_publish, TCP_NODELAY, on_publish
// counting. tbmqtt: client::send_telemetry(text) + client::flush().
// The result is the median msg/s per implementation and QoS, and the ratio tbmqtt/raw.
// Always exits 0 on a completed run: this is a measurement, not a test.
#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tbmqtt/linux/client.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::string_view payload = R"({"t":21.5,"h":40,"id":"abcdefghijklmno"})";
static_assert(payload.size() == 40, "the benchmark payload is 40 bytes");
constexpr const char* topic = "v1/devices/me/telemetry";  // what tbmqtt publishes to
constexpr double target_ratio = 0.9;

struct options {
  std::string host = "127.0.0.1";
  int port = 1883;
  long messages = 0;  // 0: per-QoS default sized for ~2-3 s
  int repeats = 5;
  int qos_only = -1;  // 0 or 1: measure that QoS only
  std::string only;   // "raw" or "tbmqtt": measure one side only (for profiling)
  // The device token (MQTT user name): TBMQTT_TOKEN, for a server that checks it (the emulator);
  // from the environment, not argv. Plain mosquitto with allow_anonymous takes any name.
  std::string token = std::getenv("TBMQTT_TOKEN") != nullptr ? std::getenv("TBMQTT_TOKEN") : "bench-token";
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bench_throughput: %s\n", what);
  std::exit(2);
}

// ---- raw libmosquitto -------------------------------------------------------------------------

struct raw_state {
  std::mutex mutex;
  std::condition_variable changed;
  bool connected = false;
  int connack = -1;
  std::atomic<long> published{0};  // on_publish calls
  long target = 0;
};

double measure_raw(const options& o, int q, long n) {
  raw_state st;
  st.target = n;
  mosquitto* m = mosquitto_new(nullptr, true, &st);
  if (m == nullptr) die("mosquitto_new failed");
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_callback_set(m, [](mosquitto*, void* self, int rc) {
    auto& s = *static_cast<raw_state*>(self);
    std::lock_guard lock(s.mutex);
    s.connected = true;
    s.connack = rc;
    s.changed.notify_all();
  });
  mosquitto_publish_callback_set(m, [](mosquitto*, void* self, int) {
    auto& s = *static_cast<raw_state*>(self);
    if (s.published.fetch_add(1, std::memory_order_relaxed) + 1 == s.target) {
      std::lock_guard lock(s.mutex);
      s.changed.notify_all();
    }
  });
  mosquitto_username_pw_set(m, o.token.c_str(), nullptr);
  if (mosquitto_connect(m, o.host.c_str(), o.port, 60) != MOSQ_ERR_SUCCESS) die("raw: connect failed");
  if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) die("raw: loop_start failed");
  {
    std::unique_lock lock(st.mutex);
    if (!st.changed.wait_for(lock, std::chrono::seconds(10), [&] { return st.connected; }) || st.connack != 0)
      die("raw: no CONNACK");
  }

  const auto start = clock_type::now();
  for (long i = 0; i < n; ++i) {
    const int rc = mosquitto_publish(m, nullptr, topic, static_cast<int>(payload.size()), payload.data(), q, false);
    if (rc != MOSQ_ERR_SUCCESS) die("raw: publish failed");
  }
  {
    std::unique_lock lock(st.mutex);
    if (!st.changed.wait_for(lock, std::chrono::seconds(120), [&] { return st.published.load() >= n; }))
      die("raw: not all messages delivered within 120 s");
  }
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
  return static_cast<double>(n) / seconds;
}

// ---- tbmqtt::client ---------------------------------------------------------------------------

double measure_tbmqtt(const options& o, tbmqtt::qos q, long n) {
  tbmqtt::client_options co;
  co.host = o.host;
  co.port = static_cast<std::uint16_t>(o.port);
  co.access_token = o.token;
  co.default_qos = q;
  tbmqtt::client device{co};
  if (auto r = device.connect(std::chrono::seconds(10)); !r) {
    std::fprintf(stderr, "bench_throughput: tbmqtt connect: %s\n", tbmqtt::to_string(r.error()));
    std::exit(2);
  }

  const auto start = clock_type::now();
  for (long i = 0; i < n; ++i) {
    auto r = device.send_telemetry(payload, q);
    if (!r) {
      std::fprintf(stderr, "bench_throughput: tbmqtt send_telemetry: %s\n", tbmqtt::to_string(r.error()));
      std::exit(2);
    }
  }
  if (auto r = device.flush(std::chrono::seconds(120)); !r) die("tbmqtt: flush timed out after 120 s");
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  device.disconnect();
  return static_cast<double>(n) / seconds;
}

// ---- driver -----------------------------------------------------------------------------------

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t k = v.size() / 2;
  return v.size() % 2 ? v[k] : (v[k - 1] + v[k]) / 2;
}

struct row {
  int qos;
  long messages;
  double raw, tb;
  double raw_min, raw_max, tb_min, tb_max;
};

row measure_qos(const options& o, int q) {
  const long n = o.messages > 0 ? o.messages : (q == 0 ? 300000 : 50000);
  std::vector<double> raw, tb;
  for (int r = 0; r < o.repeats; ++r) {
    // Alternate which goes first, so neither always runs on a "warmer" broker.
    const bool raw_first = r % 2 == 0;
    for (int k = 0; k < 2; ++k) {
      const bool do_raw = (k == 0) == raw_first;
      if (!o.only.empty() && o.only != (do_raw ? "raw" : "tbmqtt")) continue;
      const double rate = do_raw ? measure_raw(o, q, n) : measure_tbmqtt(o, static_cast<tbmqtt::qos>(q), n);
      (do_raw ? raw : tb).push_back(rate);
      std::printf("  qos %d run %d %-6s %10.0f msg/s\n", q, r + 1, do_raw ? "raw" : "tbmqtt", rate);
      std::fflush(stdout);
    }
  }
  if (raw.empty()) raw.push_back(0);
  if (tb.empty()) tb.push_back(0);
  return {q,
          n,
          median(raw),
          median(tb),
          *std::min_element(raw.begin(), raw.end()),
          *std::max_element(raw.begin(), raw.end()),
          *std::min_element(tb.begin(), tb.end()),
          *std::max_element(tb.begin(), tb.end())};
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) die("missing value after a flag");
      return argv[++i];
    };
    if (a == "--host")
      o.host = next();
    else if (a == "--port")
      o.port = std::atoi(next());
    else if (a == "--messages")
      o.messages = std::atol(next());
    else if (a == "--repeats")
      o.repeats = std::atoi(next());
    else if (a == "--only")
      o.only = next();
    else if (a == "--qos")
      o.qos_only = std::atoi(next());
    else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: bench_throughput [--host H] [--port P] [--messages N] [--repeats R]\n"
          "                        [--qos 0|1] [--only raw|tbmqtt]   (the last two for profiling)\n"
          "environment: TBMQTT_TOKEN, the device token (default bench-token)\n");
      std::exit(0);
    } else {
      std::fprintf(stderr, "bench_throughput: unknown flag %s\n", argv[i]);
      std::exit(2);
    }
  }
  if (o.port <= 0 || o.port > 65535 || o.repeats < 1 || o.messages < 0) die("bad flag value");
  if (!o.only.empty() && o.only != "raw" && o.only != "tbmqtt") die("--only takes raw or tbmqtt");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  mosquitto_lib_init();
  std::printf("publish throughput to %s:%d, %zu-byte payload, %d repeats each (alternating raw/tbmqtt), median\n",
              o.host.c_str(), o.port, payload.size(), o.repeats);
  std::fflush(stdout);
  std::vector<row> rows;
  for (int q : {0, 1})
    if (o.qos_only < 0 || o.qos_only == q) rows.push_back(measure_qos(o, q));

  std::printf("\n%-4s %9s %12s %12s %7s   %-23s %-23s\n", "QoS", "messages", "raw msg/s", "tbmqtt msg/s", "ratio",
              "raw min..max", "tbmqtt min..max");
  bool met = true;
  for (const row& r : rows) {
    const double ratio = r.tb / r.raw;
    met = met && ratio >= target_ratio;
    char raw_range[32], tb_range[32];
    std::snprintf(raw_range, sizeof raw_range, "%.0f..%.0f", r.raw_min, r.raw_max);
    std::snprintf(tb_range, sizeof tb_range, "%.0f..%.0f", r.tb_min, r.tb_max);
    std::printf("%-4d %9ld %12.0f %12.0f %6.2fx   %-23s %-23s\n", r.qos, r.messages, r.raw, r.tb, ratio, raw_range,
                tb_range);
  }
  if (!o.only.empty() || o.qos_only >= 0)
    std::printf("\ntarget: tbmqtt >= %.1fx raw at QoS 0 and QoS 1: not judged (partial run)\n", target_ratio);
  else
    std::printf("\ntarget: tbmqtt >= %.1fx raw libmosquitto at QoS 0 and QoS 1: %s\n", target_ratio,
                met ? "MET" : "NOT MET");
  mosquitto_lib_cleanup();
  return 0;
}
