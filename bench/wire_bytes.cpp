// tbmqtt benchmark — bytes on the wire for v1+JSON, v2+JSON and v2+protobuf (issue 18), and the
// cost of encoding them with the core (ns/op, allocations per op).
//
// Part 1 prints a table: the MQTT 3.1.1 PUBLISH packet (QoS 1: fixed header, remaining length,
// topic, packet id, payload) for a 1-, 3- and 10-key telemetry message and for a server-side RPC
// round trip (request + response), per message and per data point. The payloads are the ones the
// core writes: JSON with tbmqtt::json::writer (what the session publishes today), protobuf with
// tbmqtt::protobuf::writer for the schema below (the device profile's .proto). v2+protobuf uses the
// bare v2 topics of a device whose profile has payload type PROTOBUF (`/p` would add 2 bytes).
// Every PUBLISH at QoS 1 is also answered by a 4-byte PUBACK in every variant (not counted).
// Part 2 is Google Benchmark: encode ns/op with allocations counted (must be 0).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "alloc_counter.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/protobuf.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/topics.hpp"

namespace {

namespace pb = tbmqtt::protobuf;
namespace json = tbmqtt::json;
namespace topics = tbmqtt::topics;
using tbmqtt::span;

// The device profile's telemetry schema (proto3):
//   message Reading { float temperature = 1; float humidity = 2; float pressure = 3; int32 co2 = 4;
//     float voc = 5; float pm25 = 6; float battery = 7; sint32 rssi = 8; int32 lux = 9; float noise = 10; }
constexpr pb::field_desc reading_fields[] = {
    {"temperature", "temperature", 1, pb::field_type::float_},
    {"humidity", "humidity", 2, pb::field_type::float_},
    {"pressure", "pressure", 3, pb::field_type::float_},
    {"co2", "co2", 4, pb::field_type::int32},
    {"voc", "voc", 5, pb::field_type::float_},
    {"pm25", "pm25", 6, pb::field_type::float_},
    {"battery", "battery", 7, pb::field_type::float_},
    {"rssi", "rssi", 8, pb::field_type::sint32},
    {"lux", "lux", 9, pb::field_type::int32},
    {"noise", "noise", 10, pb::field_type::float_},
};
const pb::message_desc reading{"telemetry.Reading", reading_fields, 10};

struct point {
  const char* key;
  double value;
  bool integer;
};
constexpr point points[] = {{"temperature", 21.5, false}, {"humidity", 48.2, false}, {"pressure", 1013.2, false},
                            {"co2", 415, true},           {"voc", 0.12, false},      {"pm25", 8.5, false},
                            {"battery", 3.71, false},     {"rssi", -67, true},       {"lux", 312, true},
                            {"noise", 41.3, false}};

// The RPC of the round trip: {"method":"setGpio","params":{"pin":4,"value":true}}, answered with
// {"pin":4,"value":true}. The profile's RPC schemas:
//   message RpcRequestMsg { string method = 1; int32 requestId = 2; Params params = 3;
//                           message Params { int32 pin = 1; bool value = 2; } }
//   message RpcResponseMsg { int32 pin = 1; bool value = 2; }
constexpr pb::field_desc gpio_fields[] = {{"pin", "pin", 1, pb::field_type::int32},
                                          {"value", "value", 2, pb::field_type::bool_}};
const pb::message_desc gpio{"rpc.Gpio", gpio_fields, 2};
constexpr pb::field_desc rpc_request_fields[] = {{"method", "method", 1, pb::field_type::string},
                                                 {"requestId", "requestId", 2, pb::field_type::int32},
                                                 {"params", "params", 3, pb::field_type::message, false, &gpio}};
const pb::message_desc rpc_request{"rpc.RpcRequestMsg", rpc_request_fields, 3};
constexpr std::uint32_t rpc_id = 42;

std::size_t json_telemetry(span<char> out, std::size_t keys) {
  json::writer w(out);
  w.begin_object();
  for (std::size_t i = 0; i < keys; ++i) {
    w.key(points[i].key);
    if (points[i].integer)
      w.value(static_cast<long long>(points[i].value));
    else
      w.value(points[i].value);
  }
  w.end_object();
  return w.finish()->size();
}

std::size_t proto_telemetry(span<std::byte> out, std::size_t keys) {
  pb::writer w(out);
  for (std::size_t i = 0; i < keys; ++i) {
    if (points[i].integer)
      w.add(reading, points[i].key, static_cast<std::int64_t>(points[i].value));
    else
      w.add(reading, points[i].key, points[i].value);
  }
  return w.finish()->size();
}

/// MQTT 3.1.1 PUBLISH at QoS 1.
std::size_t publish_packet(std::size_t topic, std::size_t payload) {
  const std::size_t remaining = 2 + topic + 2 + payload;
  return 1 + pb::varint_size(remaining) + remaining;
}

void print_table() {
  char text[512];
  std::byte bin[512];
  std::printf("MQTT 3.1.1 PUBLISH bytes at QoS 1 (topic + payload + headers); per data point in brackets\n");
  std::printf("%-26s %14s %14s %14s %10s\n", "message", "v1+JSON", "v2+JSON", "v2+protobuf", "pb/v1");
  for (std::size_t keys : {std::size_t{1}, std::size_t{3}, std::size_t{10}}) {
    const std::size_t j = json_telemetry(text, keys);
    const std::size_t p = proto_telemetry(bin, keys);
    const std::size_t v1 = publish_packet(topics::telemetry_topic(topics::topic_style::v1).size(), j);
    const std::size_t v2 = publish_packet(topics::telemetry_topic(topics::topic_style::v2).size(), j);
    const std::size_t v2p = publish_packet(topics::telemetry_topic(topics::topic_style::v2).size(), p);
    char label[40];
    std::snprintf(label, sizeof label, "telemetry, %zu key%s", keys, keys == 1 ? "" : "s");
    std::printf("%-26s %6zu (%5.1f) %6zu (%5.1f) %6zu (%5.1f) %9.2f\n", label, v1, double(v1) / double(keys), v2,
                double(v2) / double(keys), v2p, double(v2p) / double(keys), double(v2p) / double(v1));
  }
  // Server-side RPC round trip: request to the device + its response.
  const std::string_view req_json = R"({"method":"setGpio","params":{"pin":4,"value":true}})";
  const std::string_view res_json = R"({"pin":4,"value":true})";
  char topic[64];
  auto topic_len = [&](auto build) { return *build(span<char>(topic, sizeof topic)); };
  const std::size_t v1_req =
      topic_len([](span<char> t) { return topics::rpc_request(t, topics::topic_style::v1, rpc_id); });
  const std::size_t v1_res = topic_len([](span<char> t) { return topics::rpc_response(t, "42"); });
  const std::size_t v2_req =
      topic_len([](span<char> t) { return topics::rpc_request(t, topics::topic_style::v2, rpc_id); });
  const std::size_t v2_res =
      topic_len([](span<char> t) { return topics::rpc_response(t, topics::topic_style::v2, "42"); });
  pb::writer w(bin);
  w.add(rpc_request, "method", "setGpio").add(rpc_request, "requestId", static_cast<std::int64_t>(rpc_id));
  w.begin(*rpc_request.find("params")).add(gpio, "pin", 4).add(gpio, "value", true).end();
  const std::size_t pb_req = w.finish()->size();
  pb::writer r(bin);
  r.add(gpio, "pin", 4).add(gpio, "value", true);
  const std::size_t pb_res = r.finish()->size();
  const std::size_t v1 = publish_packet(v1_req, req_json.size()) + publish_packet(v1_res, res_json.size());
  const std::size_t v2 = publish_packet(v2_req, req_json.size()) + publish_packet(v2_res, res_json.size());
  const std::size_t v2p = publish_packet(v2_req, pb_req) + publish_packet(v2_res, pb_res);
  std::printf("%-26s %6zu         %6zu         %6zu         %9.2f\n", "RPC round trip (req+res)", v1, v2, v2p,
              double(v2p) / double(v1));
  const std::size_t three_v1 = publish_packet(topics::telemetry.size(), json_telemetry(text, 3));
  const std::size_t three_pb = publish_packet(4, proto_telemetry(bin, 3));
  std::printf("goal (3-key reading, v2+protobuf <= v1+JSON / 3): %zu <= %.1f: %s\n\n", three_pb, double(three_v1) / 3.0,
              3 * three_pb <= three_v1 ? "met" : "NOT MET");
}

// ---- encode cost -----------------------------------------------------------------------------

bool any_zero_alloc_violation = false;

template <typename Body>
void run_counted(benchmark::State& state, std::size_t bytes, Body&& body) {
  bench::start_counting_allocations();
  for (auto _ : state) body();
  const std::uint64_t n = bench::stop_counting_allocations();
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
  state.counters["payload_bytes"] = static_cast<double>(bytes);
  if (n != 0) {
    any_zero_alloc_violation = true;
    state.SetLabel("ALLOCATED (must be 0)");
  }
}

void bm_json_telemetry(benchmark::State& state) {
  char out[512];
  const auto keys = static_cast<std::size_t>(state.range(0));
  run_counted(state, json_telemetry(out, keys), [&] {
    benchmark::DoNotOptimize(json_telemetry(out, keys));
    benchmark::ClobberMemory();
  });
}
BENCHMARK(bm_json_telemetry)->Arg(1)->Arg(3)->Arg(10);

void bm_protobuf_telemetry_by_key(benchmark::State& state) {
  std::byte out[512];
  const auto keys = static_cast<std::size_t>(state.range(0));
  run_counted(state, proto_telemetry(out, keys), [&] {
    benchmark::DoNotOptimize(proto_telemetry(out, keys));
    benchmark::ClobberMemory();
  });
}
BENCHMARK(bm_protobuf_telemetry_by_key)->Arg(1)->Arg(3)->Arg(10);

/// The JSON the session builds today, transcoded to protobuf by the schema (encode_json).
void bm_protobuf_telemetry_from_json(benchmark::State& state) {
  char text[512];
  std::byte out[512];
  const auto keys = static_cast<std::size_t>(state.range(0));
  const std::string_view j(text, json_telemetry(text, keys));
  run_counted(state, pb::encode_json(reading, j, out)->size(), [&] {
    benchmark::DoNotOptimize(pb::encode_json(reading, j, out));
    benchmark::ClobberMemory();
  });
}
BENCHMARK(bm_protobuf_telemetry_from_json)->Arg(1)->Arg(3)->Arg(10);

/// A server RPC request in protobuf to the JSON the app's handler gets.
void bm_protobuf_rpc_request_to_json(benchmark::State& state) {
  std::byte bin[64];
  pb::writer w(bin);
  w.add(rpc_request, "method", "setGpio").add(rpc_request, "requestId", 42);
  w.begin(*rpc_request.find("params")).add(gpio, "pin", 4).add(gpio, "value", true).end();
  const auto in = *w.finish();
  char out[128];
  run_counted(state, in.size(), [&] {
    benchmark::DoNotOptimize(pb::decode_json(rpc_request, in, out));
    benchmark::ClobberMemory();
  });
}
BENCHMARK(bm_protobuf_rpc_request_to_json);

/// The whole publish path of a session (validation, the wire format's topic, JSON -> protobuf at
/// the outbound edge, the publisher) for the 3-key reading, into a transport that only counts the
/// PUBLISH bytes. Arg: 0 v1+JSON, 1 v2+JSON, 2 v2+protobuf.
struct counting_port final : tbmqtt::transport_port {
  std::size_t packet = 0, payload_size = 0;
  tbmqtt::result<tbmqtt::message_id> publish(std::string_view topic, span<const std::byte> payload,
                                             tbmqtt::qos) noexcept override {
    payload_size = payload.size();
    packet = publish_packet(topic.size(), payload.size());
    return tbmqtt::message_id{1};
  }
  tbmqtt::result<tbmqtt::message_id> subscribe(std::string_view, tbmqtt::qos) noexcept override {
    return tbmqtt::message_id{1};
  }
};
struct quiet_events final : tbmqtt::session_events {};

void bm_session_publish_telemetry(benchmark::State& state) {
  tbmqtt::session_config c;
  const auto variant = state.range(0);
  c.wire.topics = variant == 0 ? topics::topic_style::v1 : topics::topic_style::v2;
  c.wire.payload = variant == 2 ? tbmqtt::payload_format::protobuf : tbmqtt::payload_format::json;
  c.wire.schemas.telemetry = &reading;
  counting_port port;
  quiet_events events;
  tbmqtt::session s(port, events, c);
  s.on_connected(0);
  s.on_suback(1, 1);
  char text[512];
  const std::string_view j(text, json_telemetry(text, 3));
  if (!s.publish_telemetry(j, tbmqtt::qos::at_least_once)) state.SkipWithError("publish failed");
  state.SetLabel(variant == 0 ? "v1+JSON" : variant == 1 ? "v2+JSON" : "v2+protobuf");
  run_counted(state, port.payload_size, [&] {
    benchmark::DoNotOptimize(s.publish_telemetry(j, tbmqtt::qos::at_least_once));
    benchmark::ClobberMemory();
  });
  state.counters["packet_bytes"] = static_cast<double>(port.packet);
}
BENCHMARK(bm_session_publish_telemetry)->Arg(0)->Arg(1)->Arg(2);

}  // namespace

int main(int argc, char** argv) {
  if (!bench::counter_sees_allocations()) return 1;
  print_table();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (any_zero_alloc_violation) {
    std::fprintf(stderr, "FAIL: an encode benchmark allocated (see allocs/op)\n");
    return 1;
  }
  std::printf("OK: 0 heap allocations per op in every wire-format benchmark\n");
  return 0;
}
