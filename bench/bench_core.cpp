// tbmqtt — benchmarks of the sans-I/O core: ns per operation and heap allocations per operation.
//
// Allocations are counted by replacing the global operator new/new[] of this binary; counting is
// on only inside the timed loop of each benchmark. The core promises "no heap in the hot path":
// every benchmark here is registered as allocation-free, and main() exits 1 if any of them
// allocated, so the claim is checked on every run rather than just printed.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "alloc_counter.hpp"
#include "tbmqtt/gateway.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/payload.hpp"
#include "tbmqtt/session.hpp"

// ---- allocation counting (operator new is replaced in alloc_counter.cpp) ---------------------

namespace {

bool any_zero_alloc_violation = false;  // set by a benchmark that must not allocate but did

/// Runs the timed loop of `state` with allocation counting on, and reports allocs/op.
/// `must_not_allocate`: a non-zero count fails the whole run (see main). `bytes_per_op`: the
/// payload size, reported as "bytes" and bytes_per_second so that every row has the same columns.
template <typename Body>
void run_counted(benchmark::State& state, bool must_not_allocate, std::size_t bytes_per_op, Body&& body) {
  bench::start_counting_allocations();
  for (auto _ : state) body();
  const std::uint64_t n = bench::stop_counting_allocations();
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
  state.counters["bytes"] = static_cast<double>(bytes_per_op);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes_per_op));
  if (must_not_allocate && n != 0) {
    any_zero_alloc_violation = true;
    state.SetLabel("ALLOCATED (must be 0)");
  }
}

// ---- fixtures -------------------------------------------------------------------------------

/// Accepts every publish/subscribe and does nothing: measures the core alone.
struct null_port final : tbmqtt::transport_port {
  tbmqtt::message_id next = 1;
  tbmqtt::message_id last = 0;  // the packet id of the last publish (acknowledged by the benchmarks)
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view topic, tbmqtt::span<const std::byte> payload,
                                             tbmqtt::qos) noexcept override {
    benchmark::DoNotOptimize(topic.data());
    benchmark::DoNotOptimize(payload.data());
    return last = next++;
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override { return next++; }
};

struct counting_events final : tbmqtt::session_events {
  std::uint64_t rpcs = 0;
  std::uint64_t errors = 0;
  void on_rpc_request(const tbmqtt::rpc_request& request) noexcept override {
    ++rpcs;
    benchmark::DoNotOptimize(request.params.raw().data());
  }
  void on_error(tbmqtt::errc, std::string_view) noexcept override { ++errors; }
};

/// A session that is connected, subscribed and ready, over null_port.
struct ready_session {
  null_port port;
  counting_events events;
  tbmqtt::session core{port, events};
  explicit ready_session(bool with_rpc_method) {
    if (with_rpc_method && !core.add_rpc_method("setGpio")) std::abort();
    core.on_connected(0);
    for (tbmqtt::message_id id = 1; id < port.next; ++id) core.on_suback(id, 1);
    if (core.state() != tbmqtt::session_state::ready) std::abort();
  }
};

/// The 10-key telemetry message: doubles, integers, booleans and strings.
void build_telemetry(tbmqtt::itelemetry& t) {
  t.clear();
  t.add("temperature", 21.5)
      .add("humidity", 40)
      .add("pressure", 1013.25)
      .add("voltage", 3.3)
      .add("rssi", -67)
      .add("uptime", 123456789LL)
      .add("door_open", true)
      .add("alarm", false)
      .add("fw", std::string_view{"1.4.2"})
      .add("status", std::string_view{"ok"});
}

constexpr std::string_view telemetry_text =
    R"({"temperature":21.5,"humidity":40,"pressure":1013.25,"voltage":3.3,"rssi":-67,)"
    R"("uptime":123456789,"door_open":true,"alarm":false,"fw":"1.4.2","status":"ok"})";

/// About 1 KB of typical device JSON: nesting, arrays, escapes, unicode, numbers of every form.
std::string kilobyte_document() {
  std::string doc = R"({"device":"sensor-\u00e9t\u00e9-01","ts":1700000000000,"values":{)";
  for (int i = 0; i < 16; ++i) {
    doc += "\"channel_" + std::to_string(i) + "\":{\"v\":" + std::to_string(i * 1.25 - 3) +
           ",\"ok\":" + (i % 3 ? "true" : "false") + ",\"tag\":\"line\\n" + std::to_string(i) + "\"},";
  }
  doc += R"("history":[1,2.5,-3e-2,4E+3,null,true,"x\"y"],"meta":{"fw":"1.4.2","cfg":{"a":[{"b":[[]]}]}}}})";
  return doc;
}

// ---- benchmarks -----------------------------------------------------------------------------

/// Size of the encoded 10-key message (built once, outside any timed region).
std::size_t telemetry_size() {
  tbmqtt::telemetry<512> t;
  build_telemetry(t);
  auto text = t.finish();
  if (!text) std::abort();
  return text->size();
}

void bm_encode_telemetry(benchmark::State& state) {
  tbmqtt::telemetry<512> t;
  run_counted(state, true, telemetry_size(), [&] {
    build_telemetry(t);
    auto text = t.finish();
    if (!text) std::abort();
    benchmark::DoNotOptimize(text->data());
  });
}
BENCHMARK(bm_encode_telemetry);

void bm_publish_telemetry_builder(benchmark::State& state) {
  ready_session s{false};
  tbmqtt::telemetry<512> t;
  run_counted(state, true, telemetry_size(), [&] {
    build_telemetry(t);
    auto id = s.core.publish_telemetry(t, tbmqtt::qos::at_least_once);
    if (!id) std::abort();
    benchmark::DoNotOptimize(id);
    s.core.on_puback(s.port.last);  // a message's whole outbound life: publish, then its PUBACK
  });
}
BENCHMARK(bm_publish_telemetry_builder);

void bm_publish_telemetry_text(benchmark::State& state) {
  ready_session s{false};
  run_counted(state, true, telemetry_text.size(), [&] {
    auto id = s.core.publish_telemetry(telemetry_text, tbmqtt::qos::at_least_once);
    if (!id) std::abort();
    benchmark::DoNotOptimize(id);
    s.core.on_puback(s.port.last);
  });
}
BENCHMARK(bm_publish_telemetry_text);

void bm_dispatch_rpc_request(benchmark::State& state) {
  ready_session s{true};
  constexpr std::string_view topic = "v1/devices/me/rpc/request/42";
  constexpr std::string_view payload = R"({"method":"setGpio","params":{"pin":7,"value":true}})";
  run_counted(state, true, payload.size(), [&] { s.core.on_message(topic, tbmqtt::as_bytes(payload), 1000); });
  if (s.events.rpcs != static_cast<std::uint64_t>(state.iterations()) || s.events.errors != 0) {
    state.SkipWithError("RPC was not dispatched");
  }
}
BENCHMARK(bm_dispatch_rpc_request);

/// A ready session with a gateway attached and two sub-devices connected.
struct ready_gateway {
  struct listener final : tbmqtt::gateway_listener {
    std::uint64_t rpcs = 0;
    std::uint64_t errors = 0;
    void on_rpc_request(const tbmqtt::gateway_rpc_request& request) noexcept override {
      ++rpcs;
      benchmark::DoNotOptimize(request.params.raw().data());
    }
    void on_error(tbmqtt::errc, std::string_view) noexcept override { ++errors; }
  } heard;
  ready_session s{false};
  tbmqtt::gateway<4> gw{heard};
  ready_gateway() {
    if (!gw.attach(s.core) || !gw.connect_device("thermostat-1") || !gw.connect_device("meter-1")) std::abort();
    for (tbmqtt::message_id id = 1; id < s.port.next; ++id) s.core.on_suback(id, 1);
  }
};

void bm_gateway_publish_telemetry_builder(benchmark::State& state) {
  ready_gateway g;
  tbmqtt::gateway_telemetry<256> t;
  auto build = [&t] {  // {"thermostat-1":[{..}],"meter-1":[{"ts":..,"values":{..}}]}
    t.clear();
    t.device("thermostat-1").add("temperature", 21.5).add("heating", true);
    t.device("meter-1").at(1700000000000ULL).add("power", 1.25).add("energy", 4711);
  };
  build();
  const std::size_t bytes = t.finish()->size();
  run_counted(state, true, bytes, [&] {
    build();
    auto id = g.gw.publish_telemetry(t);
    if (!id) std::abort();
    benchmark::DoNotOptimize(id);
    g.s.core.on_puback(g.s.port.last);
  });
}
BENCHMARK(bm_gateway_publish_telemetry_builder);

void bm_gateway_dispatch_rpc(benchmark::State& state) {
  ready_gateway g;
  constexpr std::string_view payload = R"({"device":"meter-1","data":{"id":42,"method":"setGpio","params":{"pin":7}}})";
  run_counted(state, true, payload.size(),
              [&] { g.s.core.on_message(tbmqtt::topics::gateway_rpc, tbmqtt::as_bytes(payload), 1000); });
  if (g.heard.rpcs != static_cast<std::uint64_t>(state.iterations()) || g.heard.errors != 0) {
    state.SkipWithError("gateway RPC was not dispatched");
  }
}
BENCHMARK(bm_gateway_dispatch_rpc);

void bm_validate_json_1kb(benchmark::State& state) {
  const std::string doc = kilobyte_document();
  if (!tbmqtt::json::validate(doc)) {
    state.SkipWithError("benchmark document is not valid JSON");
    return;
  }
  run_counted(state, true, doc.size(), [&] {
    auto r = tbmqtt::json::validate(doc);
    benchmark::DoNotOptimize(r);
  });
}
BENCHMARK(bm_validate_json_1kb);

}  // namespace

int main(int argc, char** argv) {
  if (!bench::counter_sees_allocations()) return 1;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (any_zero_alloc_violation) {
    std::fprintf(stderr, "FAIL: a core benchmark that must not allocate did (see allocs/op)\n");
    return 1;
  }
  std::printf("OK: 0 heap allocations per op in every core benchmark (publish, parse, dispatch)\n");
  return 0;
}
