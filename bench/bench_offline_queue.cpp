// tbmqtt — benchmarks of store-and-forward (tbmqtt/offline_queue.hpp): one message through a
// ready session with an offline queue (stored, sent, acknowledged, erased), over RAM and over
// tbmqtt::file_storage (one file per message, with and without fsync, in $TMPDIR or /tmp); and open() of a
// queue that holds 64 messages. The RAM variant proves the queue path allocates nothing (main
// exits 1 otherwise); the file variant measures what a Linux device pays per message.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "alloc_counter.hpp"
#include "tbmqtt/linux_platform.hpp"
#include "tbmqtt/offline_queue.hpp"
#include "tbmqtt/session.hpp"

namespace {

bool allocated_in_ram_path = false;

constexpr std::string_view payload =
    R"({"temperature":21.5,"humidity":48,"pressure":1013.25,"door":false,"status":"ok","rssi":-61})";

/// Small blobs in fixed RAM slots (no heap).
struct ram_storage final : tbmqtt::storage {
  struct slot {
    char key[16] = {};
    std::byte value[256];
    std::size_t size = 0;
    bool used = false;
  } slots[80];
  slot* find(std::string_view key) noexcept {
    for (auto& s : slots)
      if (s.used && key == s.key) return &s;
    return nullptr;
  }
  tbmqtt::result<std::size_t> load(std::string_view key, tbmqtt::span<std::byte> out) noexcept override {
    slot* s = find(key);
    if (s == nullptr) return tbmqtt::errc::no_match;
    if (s->size > out.size()) return tbmqtt::errc::not_enough_space;
    std::memcpy(out.data(), s->value, s->size);
    return s->size;
  }
  tbmqtt::result<void> store(std::string_view key, tbmqtt::span<const std::byte> value) noexcept override {
    slot* s = find(key);
    for (auto& candidate : slots)
      if (s == nullptr && !candidate.used) s = &candidate;
    if (s == nullptr || value.size() > sizeof s->value) return tbmqtt::errc::not_enough_space;
    std::memset(s->key, 0, sizeof s->key);
    std::memcpy(s->key, key.data(), key.size());
    std::memcpy(s->value, value.data(), value.size());
    s->size = value.size();
    s->used = true;
    return {};
  }
  tbmqtt::result<void> erase(std::string_view key) noexcept override {
    if (slot* s = find(key)) s->used = false;
    return {};
  }
};

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
  tbmqtt::static_offline_queue<64, 256> queue;
  explicit queued_session(tbmqtt::storage& store) : queue(store) {
    if (!queue.open()) std::abort();
    core.set_offline_queue(&queue);
    core.on_connected(0);
    for (tbmqtt::message_id id = 1; id < port.next; ++id) core.on_suback(id, 1);
    if (core.state() != tbmqtt::session_state::ready) std::abort();
  }
  void one_message() {
    if (!core.publish_telemetry(payload, tbmqtt::qos::at_least_once)) std::abort();
    core.on_puback(port.last);
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

void BM_offline_queue_message_ram(benchmark::State& state) {
  ram_storage store;
  queued_session s{store};
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

// state.range(0): 1 = fsync (survives a power loss), 0 = no fsync (survives a process crash).
void BM_offline_queue_message_files(benchmark::State& state) {
  temp_dir dir;
  tbmqtt::file_storage store{dir.path, state.range(0) != 0};
  queued_session s{store};
  for (auto _ : state) s.one_message();
  state.counters["msgs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_offline_queue_message_files)->Arg(1)->Arg(0)->UseRealTime()->MinTime(2.0);

// Only the store of an offline message (the broker is down): what a burst while offline costs.
void BM_offline_queue_store_only_files(benchmark::State& state) {
  temp_dir dir;
  tbmqtt::file_storage store{dir.path, state.range(0) != 0};
  no_events events;
  tbmqtt::static_offline_queue<64, 256> queue{store};
  if (!queue.open()) std::abort();
  for (auto _ : state) {
    if (!queue.push(tbmqtt::stored_topic::telemetry, payload, events)) std::abort();  // drops the oldest when full
  }
  state.counters["msgs/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_offline_queue_store_only_files)->Arg(1)->Arg(0)->UseRealTime()->MinTime(2.0);

// A restart: recovering 64 stored messages from files.
void BM_offline_queue_open_64_files(benchmark::State& state) {
  temp_dir dir;
  tbmqtt::file_storage store{dir.path};
  no_events events;
  {
    tbmqtt::static_offline_queue<64, 256> filler{store};
    if (!filler.open()) std::abort();
    for (int i = 0; i < 64; ++i)
      if (!filler.push(tbmqtt::stored_topic::telemetry, payload, events)) std::abort();
  }
  for (auto _ : state) {
    tbmqtt::static_offline_queue<64, 256> queue{store};
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
