// tbmqtt — benchmarks of store-and-forward (tbmqtt/offline_queue.hpp, a log): one message through
// a ready session with an offline queue (appended, committed, sent, acknowledged), over RAM (the
// tests' segment store) and over tbmqtt::file_segment_store (with fsync on every message, with
// group commit of 64, and without fsync, in $TMPDIR or /tmp); and open() of a log that holds 64
// messages. The RAM variant proves the queue path allocates nothing (main exits 1 otherwise);
// the file variants measure what a Linux device pays per message.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "../tests/unit/crash_log.hpp"
#include "alloc_counter.hpp"
#include "tbmqtt/linux/platform.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/session.hpp"

namespace {

bool allocated_in_ram_path = false;

constexpr std::string_view payload =
    R"({"temperature":21.5,"humidity":48,"pressure":1013.25,"door":false,"status":"ok","rssi":-61})";

/// Accepts every publish; remembers the last id so the benchmark can acknowledge it.
struct null_port final : tbmqtt::transport_port {
  tbmqtt::message_id next = 1;
  tbmqtt::message_id last = 0;
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view, tbmqtt::span<const std::byte> data,
                                             tbmqtt::qos) noexcept override {
    benchmark::DoNotOptimize(data.data());
    last = next++;
    return last;
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override { return next++; }
};

struct no_events final : tbmqtt::session_events {};

/// A ready session whose QoS 1 telemetry goes through a queue over `store`.
struct queued_session {
  null_port port;
  no_events events;
  tbmqtt::session core{port, events};
  tbmqtt::offline_queue<16, 256> queue;
  explicit queued_session(tbmqtt::segment_store& store, tbmqtt::offline_queue_config config = {})
      : queue(store, config) {
    if (!queue.open()) std::abort();
    core.set_offline_queue(&queue);
    core.on_connected(0);
    for (tbmqtt::message_id id = 1; id < port.next; ++id) core.on_suback(id, 1);
    if (core.state() != tbmqtt::session_state::ready) std::abort();
  }
  void one_message() {
    const tbmqtt::message_id before = port.last;
    if (!core.publish_telemetry(payload, tbmqtt::qos::at_least_once)) std::abort();
    if (port.last != before) core.on_puback(port.last);
  }
};

/// A fresh directory, removed again by the destructor.
struct temp_dir {
  std::string path;
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    path = std::string(base != nullptr ? base : "/tmp") + "/tbmqtt-bench-XXXXXX";
    if (::mkdtemp(path.data()) == nullptr) std::abort();
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

tbmqtt::offline_queue_config ram_config() {
  tbmqtt::offline_queue_config c;
  c.segment_bytes = 4000;  // the RAM store's segments hold 4096 bytes
  return c;
}

void BM_offline_queue_message_ram(benchmark::State& state) {
  static tbmqtt_test::crash_log store;  // 48 KiB: not on the stack
  queued_session s{store, ram_config()};
  bench::start_counting_allocations();
  for (auto _ : state) s.one_message();
  const std::uint64_t n = bench::stop_counting_allocations();
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
  if (n != 0) {
    allocated_in_ram_path = true;
    state.SetLabel("ALLOCATED (must be 0)");
  }
  state.counters["msgs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_offline_queue_message_ram);

// state.range(0): 1 = fsync, 0 = no fsync (survives a process crash); state.range(1): group
// commit size (1: every message is durable when publish returns). Acknowledged at once, so with a
// batch of 64 the session publishes 64 messages per sync.
void BM_offline_queue_message_files(benchmark::State& state) {
  temp_dir dir;
  tbmqtt::file_segment_store store{dir.path, state.range(0) != 0};
  if (!store.open()) std::abort();
  tbmqtt::offline_queue_config config;
  config.max_messages = 1000;
  config.commit_records = static_cast<std::uint32_t>(state.range(1));
  queued_session s{store, config};
  std::uint32_t now = 0;
  for (auto _ : state) {
    s.one_message();
    s.core.tick(now += 1);  // the interval: 10 ms of "time" after 10 messages
    s.core.on_puback(s.port.last);
  }
  state.counters["msgs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["syncs/msg"] =
      benchmark::Counter(static_cast<double>(s.queue.commits()) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_offline_queue_message_files)->Args({1, 1})->Args({1, 64})->Args({0, 1})->UseRealTime()->MinTime(2.0);

// Only the store of an offline message (the broker is down): what a burst while offline costs.
void BM_offline_queue_store_only_files(benchmark::State& state) {
  temp_dir dir;
  tbmqtt::file_segment_store store{dir.path, state.range(0) != 0};
  if (!store.open()) std::abort();
  tbmqtt::offline_queue_config config;
  config.commit_records = static_cast<std::uint32_t>(state.range(1));
  config.max_messages = 1000;
  tbmqtt::offline_queue<16, 256> queue{store, config};
  if (!queue.open()) std::abort();
  for (auto _ : state) {
    if (!queue.push(tbmqtt::stored_topic::telemetry, payload)) std::abort();  // drops the oldest when full
  }
  state.counters["msgs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_offline_queue_store_only_files)->Args({1, 1})->Args({1, 64})->Args({0, 1})->UseRealTime()->MinTime(2.0);

// A restart: recovering 64 stored messages from the log.
void BM_offline_queue_open_64_files(benchmark::State& state) {
  temp_dir dir;
  {
    tbmqtt::file_segment_store store{dir.path};
    if (!store.open()) std::abort();
    tbmqtt::offline_queue<16, 256> filler{store};
    if (!filler.open()) std::abort();
    for (int i = 0; i < 64; ++i)
      if (!filler.push(tbmqtt::stored_topic::telemetry, payload)) std::abort();
  }
  for (auto _ : state) {
    tbmqtt::file_segment_store store{dir.path, false};
    if (!store.open()) std::abort();
    tbmqtt::offline_queue<16, 256> queue{store};
    auto recovered = queue.open();
    if (!recovered || *recovered != 64) std::abort();
  }
}
BENCHMARK(BM_offline_queue_open_64_files)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (allocated_in_ram_path) {
    std::fprintf(stderr, "bench_offline_queue: the RAM queue path allocated\n");
    return 1;
  }
  return 0;
}
