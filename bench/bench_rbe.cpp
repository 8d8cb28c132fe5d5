// bench_rbe — report by exception vs fixed-period upload on a synthetic signal: a temperature that
// drifts slowly over a day (18..24 °C plus a slow random walk) with 12 short spikes (20 s, +9 °C)
// above the 28 °C alarm threshold, sampled every second for 24 h through the real registry and
// session (fake transport, fake clock). Reports per strategy: messages and payload bytes sent, the
// largest time from a threshold crossing (in the sampled signal) to the upload that carries it,
// crossings never uploaded, the largest error of the server's view of the value, and the CPU time
// per tick. Also checks that sampling and uploading allocate nothing.
//   bench_rbe            (no arguments)
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "alloc_counter.hpp"
#include "tbmqtt/registry.hpp"
#include "tbmqtt/session.hpp"

namespace {

constexpr std::uint32_t day_s = 24 * 3600;
constexpr double alarm = 28.0;

/// Counts publishes; acknowledges subscriptions at once.
struct counting_port final : tbmqtt::transport_port {
  tbmqtt::session* s = nullptr;
  std::uint16_t next = 1;
  std::uint16_t sub_ids[16] = {};
  int subs = 0;
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view, tbmqtt::span<const std::byte>,
                                             tbmqtt::qos) noexcept override {
    return next++;
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override {
    sub_ids[subs++ % 16] = next;
    return next++;
  }
};
struct no_events final : tbmqtt::session_events {};

/// The signal at second t (deterministic).
struct signal_source {
  std::uint32_t seed = 12345;
  double walk = 0;
  double next_noise() {
    seed = seed * 1664525u + 1013904223u;
    return (static_cast<double>(seed >> 8) / 16777216.0) - 0.5;
  }
  double at(std::uint32_t t) {
    walk += 0.01 * next_noise();
    if (walk > 0.8) walk = 0.8;
    if (walk < -0.8) walk = -0.8;
    const double daily = 21.0 + 3.0 * std::sin(2 * 3.14159265358979323846 * t / day_s);
    const std::uint32_t in_cycle = t % 7200;  // a spike every 2 h, 20 s long, an hour in
    const double spike = (in_cycle >= 3625 && in_cycle < 3645) ? 9.0 : 0.0;
    return std::round((daily + walk + spike) * 100.0) / 100.0;  // a sensor with 0.01 °C steps
  }
};

struct outcome {
  std::uint32_t messages = 0;
  std::uint32_t bytes = 0;
  std::uint32_t worst_latency_s = 0;
  std::uint32_t missed = 0;
  std::uint32_t crossings = 0;
  double worst_error = 0;
  double ns_per_tick = 0;
  std::uint64_t allocations = 0;
};

struct probe {
  double value = 0;
};
tbmqtt::result<tbmqtt::point_value> read_probe(void* context) {
  return tbmqtt::point_value{static_cast<probe*>(context)->value};
}

outcome run(const tbmqtt::report_policy& policy) {
  counting_port port;
  no_events events;
  tbmqtt::session s{port, events};
  port.s = &s;
  auto reg = new tbmqtt::registry<1>;  // once, before counting
  probe p;
  (void)reg->add_time_series("temperature", tbmqtt::point_type::real, {&read_probe, &p}, policy);
  reg->set_remote_tuning(false);
  (void)reg->attach(s);
  s.on_connected(0);
  for (int i = 0; i < port.subs && i < 16; ++i) s.on_suback(port.sub_ids[i], 1);

  signal_source sig;
  outcome o;
  bool above = false;
  std::uint32_t crossing_at = 0;
  bool crossing_open = false;
  double server_view = 0;
  std::uint32_t last_messages = 0;
  const auto start = std::chrono::steady_clock::now();
  bench::start_counting_allocations();
  for (std::uint32_t t = 0; t < day_s; ++t) {
    p.value = sig.at(t);
    const bool now_above = p.value > alarm;
    if (now_above != above) {
      if (crossing_open) ++o.missed;  // the previous crossing never made it
      ++o.crossings;
      crossing_open = true;
      crossing_at = t;
      above = now_above;
    }
    reg->tick(t * 1000u, 1700000000000ull + t * 1000ull);
    if (reg->stats().messages != last_messages) {
      last_messages = reg->stats().messages;
      server_view = p.value;
      if (crossing_open && (server_view > alarm) == above) {
        const std::uint32_t latency = t - crossing_at;
        if (latency > o.worst_latency_s) o.worst_latency_s = latency;
        crossing_open = false;
      }
    }
    if (t > 0) o.worst_error = std::fmax(o.worst_error, std::fabs(p.value - server_view));
  }
  o.allocations = bench::stop_counting_allocations();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (crossing_open) ++o.missed;
  o.messages = reg->stats().messages;
  o.bytes = reg->stats().bytes;
  o.ns_per_tick = std::chrono::duration<double, std::nano>(elapsed).count() / day_s;
  delete reg;
  return o;
}

void print(const char* name, const outcome& o) {
  std::printf("%-34s %9u %11u %12u %7u %10.2f %8.0f %7llu\n", name, o.messages, o.bytes, o.worst_latency_s, o.missed,
              o.worst_error, o.ns_per_tick, static_cast<unsigned long long>(o.allocations));
}

}  // namespace

int main() {
  std::printf("signal: 24 h sampled every 1 s; drift 18..24 C, 12 spikes of +9 C for 20 s; alarm max %.0f C\n", alarm);
  std::printf("threshold crossings in the sampled signal: %u\n", run(tbmqtt::report_policy{}).crossings);
  std::printf("%-34s %9s %11s %12s %7s %10s %8s %7s\n", "strategy", "messages", "bytes", "max-latency-s", "missed",
              "max-err-C", "ns/tick", "allocs");
  tbmqtt::report_policy fixed1;
  fixed1.period_ms = 1000;
  print("fixed period 1 s", run(fixed1));
  tbmqtt::report_policy fixed60;
  fixed60.period_ms = 60000;
  print("fixed period 60 s", run(fixed60));
  tbmqtt::report_policy rbe;
  rbe.period_ms = 1000;
  rbe.max = alarm;
  rbe.delta = 0.5;
  rbe.max_interval_ms = 15 * 60 * 1000;
  print("rbe max 28, delta 0.5, hb 15 min", run(rbe));
  rbe.min_interval_ms = 60000;
  print("  + min interval 60 s", run(rbe));
  tbmqtt::report_policy ratio;
  ratio.period_ms = 1000;
  ratio.max = alarm;
  ratio.delta_ratio = 0.01;
  ratio.max_interval_ms = 15 * 60 * 1000;
  print("rbe max 28, delta 1 %, hb 15 min", run(ratio));
  return 0;
}
