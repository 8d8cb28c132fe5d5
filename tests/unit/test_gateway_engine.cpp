// Tests of src/core/gateway_engine.cpp: the gateway API for sub-devices (igateway,
// thingsboard-protocol.md §7), driven through a session on the fake transport. The payload
// builders are tested in test_gateway_payload.cpp. Time is a parameter, never a clock.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fake_transport.hpp"
#include "tbmqtt/gateway.hpp"
#include "tbmqtt/session.hpp"

using tbmqtt::attribute_scope;
using tbmqtt::errc;
using tbmqtt::qos;
using tbmqtt_test::bytes;
using tbmqtt_test::text_copy;

namespace {

constexpr std::string_view connect_topic = "v1/gateway/connect";
constexpr std::string_view disconnect_topic = "v1/gateway/disconnect";
constexpr std::string_view telemetry_topic = "v1/gateway/telemetry";
constexpr std::string_view attributes_topic = "v1/gateway/attributes";
constexpr std::string_view request_topic = "v1/gateway/attributes/request";
constexpr std::string_view response_topic = "v1/gateway/attributes/response";
constexpr std::string_view rpc_topic = "v1/gateway/rpc";
constexpr std::string_view claim_topic = "v1/gateway/claim";

enum class heard : std::uint8_t { attribute_update, rpc_request, attributes_response, error };

// One listener callback with copies of its arguments.
struct heard_record {
  heard kind = heard::error;
  errc e{};
  std::uint32_t number = 0;  // rpc id or request id
  text_copy<64> device;
  text_copy<64> method;
  text_copy<256> first;   // update data, rpc params, answer value, or error context
  text_copy<256> second;  // answer values
  bool first_present = false;
  bool second_present = false;
};

class recording_listener final : public tbmqtt::gateway_listener {
 public:
  void on_attribute_update(std::string_view device, tbmqtt::json::value data) noexcept override {
    if (heard_record* r = add(heard::attribute_update)) {
      r->device.assign(device);
      set(*r, data, tbmqtt::json::value{});
    }
  }
  void on_rpc_request(const tbmqtt::gateway_rpc_request& request) noexcept override {
    if (heard_record* r = add(heard::rpc_request)) {
      r->device.assign(request.device);
      r->number = request.id;
      r->method.assign(request.method);
      set(*r, request.params, tbmqtt::json::value{});
    }
  }
  void on_attributes_response(std::uint32_t request_id, errc e,
                              const tbmqtt::gateway_attributes_answer& answer) noexcept override {
    if (heard_record* r = add(heard::attributes_response)) {
      r->number = request_id;
      r->e = e;
      r->device.assign(answer.device);
      set(*r, answer.value, answer.values);
    }
  }
  void on_error(errc e, std::string_view context) noexcept override {
    if (heard_record* r = add(heard::error)) {
      r->e = e;
      r->first.assign(context);
    }
  }

  std::size_t count(heard kind) const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < recorded(); ++i) n += records[i].kind == kind ? 1 : 0;
    return n;
  }
  const heard_record* last() const noexcept { return size == 0 ? nullptr : &records[recorded() - 1]; }
  std::size_t recorded() const noexcept { return size < 16 ? size : 16; }

  heard_record records[16];
  std::size_t size = 0;

 private:
  heard_record* add(heard kind) noexcept {
    const std::size_t i = size++;
    if (i >= 16) return nullptr;
    records[i] = heard_record{};
    records[i].kind = kind;
    return &records[i];
  }
  static void set(heard_record& r, tbmqtt::json::value first, tbmqtt::json::value second) noexcept {
    r.first_present = first.present();
    r.first.assign(first.raw());
    r.second_present = second.present();
    r.second.assign(second.raw());
  }
};

// A session on the fake transport with a 4-device gateway attached. A plain struct built inside
// each test (the embedded gtest look-alike has no fixtures).
struct rig {
  tbmqtt_test::fake_transport port;
  tbmqtt_test::recording_events events;
  tbmqtt::session s;
  recording_listener listener;
  tbmqtt::gateway<4, 512> gw{listener};
  bool attached = false;
  explicit rig(bool attach = true, tbmqtt::session_config config = {}) : s(port, events, config) {
    if (attach) attached = gw.attach(s).ok();
  }
};

// CONNACK plus a granted SUBACK for every subscription: the session ends up ready.
void connect(rig& r, std::uint32_t now_ms = 0) {
  const std::size_t from = r.port.subscribe_count;
  r.s.on_connected(now_ms);
  for (std::size_t i = from; i < r.port.recorded_subscribes(); ++i) r.s.on_suback(r.port.subscribes[i].id, 1);
}

void deliver(rig& r, std::string_view topic, std::string_view payload, std::uint32_t now_ms = 0) {
  r.s.on_message(topic, bytes(payload), now_ms);
}

bool heard_error(const recording_listener& l, errc e, std::string_view context) {
  const heard_record* r = l.last();
  return r != nullptr && r->kind == heard::error && r->e == e && r->first.view() == context;
}

}  // namespace

// ==== binding and subscriptions ================================================================

TEST(gateway_engine, attach_subscribes_the_three_gateway_filters_on_connect) {
  rig r;
  ASSERT_TRUE(r.attached);
  connect(r);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic), 1u);
  EXPECT_EQ(r.port.subscribe_times(rpc_topic), 1u);
  EXPECT_EQ(r.port.subscribe_times(response_topic), 1u);
  EXPECT_EQ(r.s.state(), tbmqtt::session_state::ready);
}

TEST(gateway_engine, attach_twice_to_the_same_session_is_a_no_op_and_another_session_is_refused) {
  rig r;
  EXPECT_TRUE(r.gw.attach(r.s).ok());
  tbmqtt_test::fake_transport port2;
  tbmqtt_test::recording_events events2;
  tbmqtt::session other{port2, events2};
  EXPECT_EQ(r.gw.attach(other).error(), errc::invalid_argument);
}

TEST(gateway_engine, every_command_needs_an_attached_session) {
  rig r{false};
  EXPECT_EQ(r.gw.connect_device("A").error(), errc::not_open);
  EXPECT_EQ(r.gw.disconnect_device("A").error(), errc::not_open);
  EXPECT_EQ(r.gw.publish_telemetry("A", "{\"t\":1}").error(), errc::not_open);
  EXPECT_EQ(r.gw.request_attributes("A", attribute_scope::shared, "k", 0).error(), errc::not_open);
  EXPECT_EQ(r.gw.claim("A", "s", 1).error(), errc::not_open);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(gateway_engine, messages_on_gateway_topics_never_reach_the_app_as_unknown_topics) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":1,"method":"m"}})");
  deliver(r, attributes_topic, R"({"device":"A","data":{"k":1}})");
  EXPECT_EQ(r.events.count(tbmqtt_test::event_kind::error), 0u);
  EXPECT_EQ(r.events.count(tbmqtt_test::event_kind::other_message), 0u);
}

// ==== connect / disconnect =====================================================================

TEST(gateway_engine, connect_device_publishes_name_and_type_with_qos1) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.gw.connect_device("Thermostat \"1\"", "thermostat").ok());
  EXPECT_EQ(r.port.last_topic(), connect_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"device":"Thermostat \"1\"","type":"thermostat"})");
  EXPECT_EQ(r.port.publishes[r.port.publish_count - 1].q, qos::at_least_once);
  EXPECT_TRUE(r.gw.is_connected("Thermostat \"1\""));
  EXPECT_EQ(r.gw.device_count(), 1u);
}

TEST(gateway_engine, connect_device_without_type_leaves_type_out) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.gw.connect_device("A").ok());
  EXPECT_EQ(r.port.last_payload(), R"({"device":"A"})");
}

TEST(gateway_engine, connect_device_while_offline_is_announced_when_ready_and_again_after_each_reconnect) {
  rig r;
  ASSERT_TRUE(r.gw.connect_device("A", "t").ok());
  ASSERT_TRUE(r.gw.connect_device("B").ok());
  EXPECT_EQ(r.port.publish_count, 0u);
  connect(r, 10);
  ASSERT_EQ(r.port.publish_count, 2u);
  EXPECT_EQ(r.port.payload(0), R"({"device":"A","type":"t"})");
  EXPECT_EQ(r.port.payload(1), R"({"device":"B"})");
  r.s.on_disconnected();
  connect(r, 20);
  ASSERT_EQ(r.port.publish_count, 4u);
  EXPECT_EQ(r.port.topic(2), connect_topic);
  EXPECT_EQ(r.port.payload(3), R"({"device":"B"})");
}

TEST(gateway_engine, a_device_connected_while_subscribing_is_announced_once) {
  rig r;
  r.s.on_connected(0);  // subscriptions not granted yet
  ASSERT_TRUE(r.gw.connect_device("A").ok());
  EXPECT_EQ(r.port.publish_count, 1u);
  for (std::size_t i = 0; i < r.port.recorded_subscribes(); ++i) r.s.on_suback(r.port.subscribes[i].id, 1);
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(gateway_engine, connect_device_reports_a_full_table_and_a_long_name) {
  rig r;
  connect(r);
  for (std::string_view name : {"A", "B", "C", "D"}) ASSERT_TRUE(r.gw.connect_device(name).ok());
  EXPECT_EQ(r.gw.connect_device("E").error(), errc::queue_full);
  EXPECT_TRUE(r.gw.connect_device("A").ok());  // a known device still reconnects
  char long_name[TBMQTT_GATEWAY_NAME_CAPACITY + 1];
  std::memset(long_name, 'x', sizeof long_name);
  ASSERT_TRUE(r.gw.disconnect_device("D").ok());
  EXPECT_EQ(r.gw.connect_device({long_name, sizeof long_name}).error(), errc::not_enough_space);
  EXPECT_EQ(r.gw.device_count(), 3u);
}

TEST(gateway_engine, connect_device_failure_leaves_the_device_unknown) {
  rig r;
  connect(r);
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.gw.connect_device("A").error(), errc::again);
  EXPECT_FALSE(r.gw.is_connected("A"));
  EXPECT_EQ(r.gw.connect_device("\xff").error(), errc::invalid_argument);  // not UTF-8
  EXPECT_FALSE(r.gw.is_connected("\xff"));
}

TEST(gateway_engine, disconnect_device_publishes_and_forgets_the_device) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.gw.connect_device("A").ok());
  ASSERT_TRUE(r.gw.disconnect_device("A").ok());
  EXPECT_EQ(r.port.last_topic(), disconnect_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"device":"A"})");
  EXPECT_FALSE(r.gw.is_connected("A"));
  r.s.on_disconnected();
  connect(r);
  EXPECT_EQ(r.port.last_topic(), disconnect_topic);  // not announced again
}

// ==== telemetry, attributes, claim: payloads byte for byte =====================================

TEST(gateway_engine, telemetry_text_for_one_device_is_wrapped_in_an_array) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.gw.publish_telemetry("A", R"({"t":1})").ok());
  EXPECT_EQ(r.port.last_topic(), telemetry_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"A":[{"t":1}]})");
  ASSERT_TRUE(r.gw.publish_telemetry("A", R"([{"ts":1,"values":{"t":1}},{"t":2}])").ok());
  EXPECT_EQ(r.port.last_payload(), R"({"A":[{"ts":1,"values":{"t":1}},{"t":2}]})");
  EXPECT_EQ(r.port.publishes[r.port.publish_count - 1].q, qos::at_least_once);
}

TEST(gateway_engine, telemetry_and_attributes_text_is_validated) {
  rig r;
  connect(r);
  EXPECT_EQ(r.gw.publish_telemetry("A", "42").error(), errc::invalid_argument);
  EXPECT_EQ(r.gw.publish_telemetry("A", "{\"t\":").error(), errc::invalid_argument);
  EXPECT_EQ(r.gw.publish_telemetry("", "{}").error(), errc::invalid_argument);
  EXPECT_EQ(r.gw.publish_attributes("A", "[1]").error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(gateway_engine, telemetry_text_too_big_for_the_buffer_reports_not_enough_space) {
  rig r;
  connect(r);
  char big[600];
  std::memset(big, ' ', sizeof big);
  big[0] = '{';
  big[sizeof big - 1] = '}';
  EXPECT_EQ(r.gw.publish_telemetry("A", {big, sizeof big}).error(), errc::not_enough_space);
}

TEST(gateway_engine, a_built_telemetry_payload_is_published_as_built) {
  rig r;
  connect(r);
  tbmqtt::gateway_telemetry<256> t;
  t.device("A").add("t", 1).device("B").at(2).add("u", 3);
  ASSERT_TRUE(r.gw.publish_telemetry(t).ok());
  EXPECT_EQ(r.port.last_topic(), telemetry_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"A":[{"t":1}],"B":[{"ts":2,"values":{"u":3}}]})");
  EXPECT_EQ(r.port.publishes[r.port.publish_count - 1].q, qos::at_least_once);
  tbmqtt::gateway_telemetry<64> empty;  // the builder's error reaches the caller; nothing is sent
  const std::size_t attempts = r.port.publish_attempts;
  EXPECT_EQ(r.gw.publish_telemetry(empty).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, attempts);
}

TEST(gateway_engine, attributes_text_and_a_built_attributes_payload) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.gw.publish_attributes("A", R"({"k":"v"})").ok());
  EXPECT_EQ(r.port.last_topic(), attributes_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"A":{"k":"v"}})");
  tbmqtt::gateway_attributes<128> a;
  a.device("A").add("k", "v").device("B").add("n", 2);
  ASSERT_TRUE(r.gw.publish_attributes(a).ok());
  EXPECT_EQ(r.port.last_topic(), attributes_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"A":{"k":"v"},"B":{"n":2}})");
  a.clear();
  a.device("A");
  const std::size_t attempts = r.port.publish_attempts;
  EXPECT_EQ(r.gw.publish_attributes(a).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, attempts);
}

TEST(gateway_engine, claim_payload) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.gw.claim("A", "s", 60000).ok());
  EXPECT_EQ(r.port.last_topic(), claim_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"A":{"secretKey":"s","durationMs":60000}})");
  ASSERT_TRUE(r.gw.claim("A", "", 0).ok());
  EXPECT_EQ(r.port.last_payload(), R"({"A":{}})");
}

// ==== attribute requests =======================================================================

TEST(gateway_engine, attribute_request_for_one_key_and_several_keys) {
  rig r;
  connect(r);
  auto one = r.gw.request_attributes("A", attribute_scope::shared, "fw", 0);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(r.port.last_topic(), request_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"id":1,"device":"A","client":false,"key":"fw"})");
  auto several = r.gw.request_attributes("A", attribute_scope::client, " a, ,b ,c", 0);
  ASSERT_TRUE(several.ok());
  EXPECT_EQ(r.port.last_payload(), R"({"id":2,"device":"A","client":true,"keys":["a","b","c"]})");
  EXPECT_EQ(r.gw.pending_requests(), 2u);
}

// ThingsBoard collects the requested keys in a set (AbstractGatewaySessionHandler.
// onDeviceAttributesRequestJson) and answers "value" when that set has one key, "values" when it
// has several (DeviceActorMessageProcessor.handleGetAttributesRequest, JsonConverter.addValues;
// thingsboard/thingsboard@dfe65d5). A repeated key is one key: it is requested as "key".
TEST(gateway_engine, attribute_request_sends_a_repeated_key_once) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.gw.request_attributes("A", attribute_scope::shared, "fw, fw,fw ", 0).ok());
  EXPECT_EQ(r.port.last_payload(), R"({"id":1,"device":"A","client":false,"key":"fw"})");
  ASSERT_TRUE(r.gw.request_attributes("A", attribute_scope::shared, "a,b,a,c,b", 0).ok());
  EXPECT_EQ(r.port.last_payload(), R"({"id":2,"device":"A","client":false,"keys":["a","b","c"]})");
}

// Both of ThingsBoard's answer shapes end the request without an error: "value" for a one-key
// request, "values" for a several-key request even when only one of them was found, and neither
// when nothing was found.
TEST(gateway_engine, attribute_response_accepts_both_answer_shapes) {
  rig r;
  connect(r);
  const std::uint32_t one = *r.gw.request_attributes("A", attribute_scope::shared, "a", 0);
  const std::uint32_t several = *r.gw.request_attributes("A", attribute_scope::shared, "a,b", 0);
  const std::uint32_t none = *r.gw.request_attributes("A", attribute_scope::shared, "x,y", 0);
  deliver(r, response_topic, R"({"id":1,"device":"A","value":{"deep":[1,2]}})");
  const heard_record* h = r.listener.last();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->kind, heard::attributes_response);
  EXPECT_EQ(h->number, one);
  EXPECT_EQ(h->e, errc{});
  EXPECT_TRUE(h->first_present);
  EXPECT_EQ(h->first.view(), R"({"deep":[1,2]})");
  EXPECT_FALSE(h->second_present);
  deliver(r, response_topic, R"({"id":2,"device":"A","values":{"a":1}})");
  h = r.listener.last();
  EXPECT_EQ(h->number, several);
  EXPECT_EQ(h->e, errc{});
  EXPECT_FALSE(h->first_present);
  EXPECT_EQ(h->second.view(), R"({"a":1})");
  deliver(r, response_topic, R"({"id":3,"device":"A"})");
  h = r.listener.last();
  EXPECT_EQ(h->number, none);
  EXPECT_EQ(h->e, errc{});
  EXPECT_FALSE(h->first_present);
  EXPECT_FALSE(h->second_present);
  EXPECT_EQ(r.listener.count(heard::error), 0u);
  EXPECT_EQ(r.gw.pending_requests(), 0u);
}

TEST(gateway_engine, attribute_request_needs_keys_a_device_and_a_connection) {
  rig r;
  EXPECT_EQ(r.gw.request_attributes("A", attribute_scope::shared, "k", 0).error(), errc::not_connected);
  connect(r);
  EXPECT_EQ(r.gw.request_attributes("A", attribute_scope::shared, " , ", 0).error(), errc::invalid_argument);
  EXPECT_EQ(r.gw.request_attributes("", attribute_scope::shared, "k", 0).error(), errc::invalid_argument);
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.gw.request_attributes("A", attribute_scope::shared, "k", 0).error(), errc::again);
  EXPECT_EQ(r.gw.pending_requests(), 0u);
  for (int i = 0; i < TBMQTT_GATEWAY_MAX_PENDING_REQUESTS; ++i)
    ASSERT_TRUE(r.gw.request_attributes("A", attribute_scope::shared, "k", 0).ok());
  EXPECT_EQ(r.gw.request_attributes("A", attribute_scope::shared, "k", 0).error(), errc::queue_full);
}

TEST(gateway_engine, attribute_responses_are_matched_by_id) {
  rig r;
  connect(r);
  const std::uint32_t first = *r.gw.request_attributes("A", attribute_scope::shared, "a", 0);
  const std::uint32_t second = *r.gw.request_attributes("B", attribute_scope::client, "a,b", 0);
  deliver(r, response_topic, R"({"id":2,"device":"B","values":{"a":1,"b":2}})");
  const heard_record* h = r.listener.last();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->kind, heard::attributes_response);
  EXPECT_EQ(h->number, second);
  EXPECT_EQ(h->e, errc{});
  EXPECT_EQ(h->device.view(), "B");
  EXPECT_FALSE(h->first_present);
  EXPECT_EQ(h->second.view(), R"({"a":1,"b":2})");
  deliver(r, response_topic, R"({"id":1,"device":"A","value":"1.2"})");
  h = r.listener.last();
  EXPECT_EQ(h->number, first);
  EXPECT_EQ(h->first.view(), R"("1.2")");
  EXPECT_FALSE(h->second_present);
  EXPECT_EQ(r.gw.pending_requests(), 0u);
}

TEST(gateway_engine, attribute_response_with_nothing_found_is_an_empty_answer) {
  rig r;
  connect(r);
  (void)r.gw.request_attributes("A", attribute_scope::shared, "a", 0);
  deliver(r, response_topic, R"({"id":1,"device":"A"})");
  const heard_record* h = r.listener.last();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->e, errc{});
  EXPECT_FALSE(h->first_present);
  EXPECT_FALSE(h->second_present);
}

TEST(gateway_engine, attribute_response_with_an_unknown_or_bad_id_is_reported_with_the_payload) {
  rig r;
  connect(r);
  deliver(r, response_topic, R"({"id":9,"device":"A","value":1})");
  EXPECT_TRUE(heard_error(r.listener, errc::unknown_request, R"({"id":9,"device":"A","value":1})"));
  deliver(r, response_topic, R"({"device":"A","value":1})");
  EXPECT_TRUE(heard_error(r.listener, errc::malformed, R"({"device":"A","value":1})"));
  deliver(r, response_topic, R"({"id":"1","device":"A"})");
  EXPECT_TRUE(heard_error(r.listener, errc::wrong_type, R"({"id":"1","device":"A"})"));
  deliver(r, response_topic, R"({"id":-1,"device":"A"})");
  EXPECT_TRUE(heard_error(r.listener, errc::wrong_type, R"({"id":-1,"device":"A"})"));
  deliver(r, response_topic, "not json");
  EXPECT_TRUE(heard_error(r.listener, errc::malformed, "not json"));
}

TEST(gateway_engine, attribute_response_with_bad_members_ends_the_request_with_a_typed_error) {
  rig r;
  connect(r);
  (void)r.gw.request_attributes("A", attribute_scope::shared, "a", 0);
  (void)r.gw.request_attributes("A", attribute_scope::shared, "a", 0);
  (void)r.gw.request_attributes("A", attribute_scope::shared, "a", 0);
  deliver(r, response_topic, R"({"id":1,"value":1})");
  EXPECT_EQ(r.listener.last()->kind, heard::attributes_response);
  EXPECT_EQ(r.listener.last()->e, errc::malformed);
  deliver(r, response_topic, R"({"id":2,"device":7})");
  EXPECT_EQ(r.listener.last()->e, errc::wrong_type);
  deliver(r, response_topic, R"({"id":3,"device":"A","values":[1]})");
  EXPECT_EQ(r.listener.last()->e, errc::malformed);
  EXPECT_EQ(r.gw.pending_requests(), 0u);
}

TEST(gateway_engine, attribute_requests_time_out_and_end_on_disconnect) {
  tbmqtt::session_config config;
  config.request_timeout_ms = 100;
  rig r{true, config};
  connect(r);
  (void)r.gw.request_attributes("A", attribute_scope::shared, "a", 1000);
  r.s.tick(1099);
  EXPECT_EQ(r.listener.count(heard::attributes_response), 0u);
  r.s.tick(1100);
  ASSERT_EQ(r.listener.count(heard::attributes_response), 1u);
  EXPECT_EQ(r.listener.last()->e, errc::timeout);
  (void)r.gw.request_attributes("A", attribute_scope::shared, "a", 2000);
  r.s.on_disconnected();
  EXPECT_EQ(r.listener.last()->e, errc::disconnected);
  EXPECT_EQ(r.gw.pending_requests(), 0u);
}

// ==== shared-attribute pushes ==================================================================

TEST(gateway_engine, attribute_update_reaches_the_listener_for_a_connected_device) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("Sensor \u00e9");
  deliver(r, attributes_topic, R"({"device":"Sensor \u00e9","data":{"k":"v"}})");
  const heard_record* h = r.listener.last();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->kind, heard::attribute_update);
  EXPECT_EQ(h->device.view(), "Sensor \u00e9");
  EXPECT_EQ(h->first.view(), R"({"k":"v"})");
  deliver(r, attributes_topic, R"({"device":"Sensor \u00e9","data":{"deleted":["k"]}})");
  EXPECT_EQ(r.listener.last()->first.view(), R"({"deleted":["k"]})");
}

TEST(gateway_engine, malformed_attribute_updates_are_typed_errors_with_the_payload) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  const std::string_view cases[][2] = {
      {"[1]", "malformed"},
      {R"({"data":{"k":1}})", "malformed"},
      {R"({"device":"A"})", "malformed"},
      {R"({"device":1,"data":{"k":1}})", "wrong_type"},
      {R"({"device":"A","data":[1]})", "wrong_type"},
      {R"({"device":"B","data":{"k":1}})", "unknown_device"},
  };
  for (const auto& c : cases) {
    deliver(r, attributes_topic, c[0]);
    const heard_record* h = r.listener.last();
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->kind, heard::error) << c[0].data();
    EXPECT_EQ(std::string_view(tbmqtt::to_string(h->e)), c[1]) << c[0].data();
    EXPECT_EQ(h->first.view(), c[0]);
  }
  EXPECT_EQ(r.listener.count(heard::attribute_update), 0u);
}

// ==== server RPC ===============================================================================

TEST(gateway_engine, rpc_is_dispatched_per_device_and_answered) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  (void)r.gw.connect_device("B");
  deliver(r, rpc_topic, R"({"device":"B","data":{"id":7,"method":"setGpio","params":{"pin":4}}})");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":7,"method":"reboot"}})");
  ASSERT_EQ(r.listener.count(heard::rpc_request), 2u);
  const heard_record& b = r.listener.records[0];
  EXPECT_EQ(b.device.view(), "B");
  EXPECT_EQ(b.number, 7u);
  EXPECT_EQ(b.method.view(), "setGpio");
  EXPECT_EQ(b.first.view(), R"({"pin":4})");
  const heard_record& a = r.listener.records[1];
  EXPECT_EQ(a.device.view(), "A");
  EXPECT_EQ(a.method.view(), "reboot");
  EXPECT_FALSE(a.first_present);

  ASSERT_TRUE(r.gw.reply_rpc("B", 7, R"({"ok":true})").ok());
  EXPECT_EQ(r.port.last_topic(), rpc_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"device":"B","id":7,"data":{"ok":true}})");
  EXPECT_EQ(r.port.publishes[r.port.publish_count - 1].q, qos::at_least_once);
  EXPECT_EQ(r.gw.reply_rpc("B", 7, "{}").error(), errc::unknown_request);  // answered already
  ASSERT_TRUE(r.gw.reply_rpc("A", 7, "42").ok());
  EXPECT_EQ(r.port.last_payload(), R"({"device":"A","id":7,"data":42})");
}

TEST(gateway_engine, reply_rpc_errors) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":1,"method":"m"}})");
  EXPECT_EQ(r.gw.reply_rpc("A", 2, "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.gw.reply_rpc("B", 1, "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.gw.reply_rpc("A", 1, "{bad").error(), errc::invalid_argument);
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.gw.reply_rpc("A", 1, "{}").error(), errc::again);
  EXPECT_TRUE(r.gw.reply_rpc("A", 1, "{}").ok());  // a failed send may be retried
}

TEST(gateway_engine, reply_rpc_error_answers_with_an_error_object_built_by_the_core) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":3,"method":"m"}})");
  ASSERT_TRUE(r.gw.reply_rpc_error("A", 3, "no handler for \"A\"").ok());
  EXPECT_EQ(r.port.last_payload(), R"({"device":"A","id":3,"data":{"error":"no handler for \"A\""}})");
  EXPECT_EQ(r.gw.reply_rpc_error("A", 3, "again").error(), errc::unknown_request);  // answered already
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":4,"method":"m"}})");
  const std::string long_message(300, 'x');  // cut to 128 bytes
  ASSERT_TRUE(r.gw.reply_rpc_error("A", 4, long_message).ok());
  EXPECT_EQ(r.port.last_payload(), R"({"device":"A","id":4,"data":{"error":")" + std::string(128, 'x') + R"("}})");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":5,"method":"m"}})");
  ASSERT_TRUE(r.gw.reply_rpc_error("A", 5, std::string(127, 'y') + "\xC3\xA9").ok());  // the cut splits é
  EXPECT_EQ(r.port.last_payload(), R"({"device":"A","id":5,"data":{"error":""}})");
}

TEST(gateway_engine, open_rpcs_expire_and_end_with_the_connection_or_the_device) {
  tbmqtt::session_config config;
  config.server_rpc_ttl_ms = 100;
  rig r{true, config};
  connect(r);
  (void)r.gw.connect_device("A");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":1,"method":"m"}})", 1000);
  r.s.tick(1100);
  EXPECT_EQ(r.gw.reply_rpc("A", 1, "{}").error(), errc::unknown_request);
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":2,"method":"m"}})", 1200);
  ASSERT_TRUE(r.gw.disconnect_device("A").ok());
  ASSERT_TRUE(r.gw.connect_device("A").ok());
  EXPECT_EQ(r.gw.reply_rpc("A", 2, "{}").error(), errc::unknown_request);
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":3,"method":"m"}})", 1200);
  r.s.on_disconnected();
  EXPECT_EQ(r.gw.reply_rpc("A", 3, "{}").error(), errc::unknown_request);
}

TEST(gateway_engine, rpc_for_an_unknown_device_is_reported_and_answered_with_an_error) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  constexpr std::string_view request = R"({"device":"C\"x","data":{"id":5,"method":"m"}})";
  deliver(r, rpc_topic, request);
  EXPECT_TRUE(heard_error(r.listener, errc::unknown_device, request));
  EXPECT_EQ(r.port.last_topic(), rpc_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"device":"C\"x","id":5,"data":{"error":"unknown device: C\"x"}})");
  EXPECT_EQ(r.listener.count(heard::rpc_request), 0u);
}

TEST(gateway_engine, malformed_rpcs_are_typed_errors_and_answered_when_they_can_be) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  struct rpc_case {
    std::string_view payload;
    errc e;
    bool answered;
  };
  const rpc_case cases[] = {
      {"null", errc::malformed, false},
      {R"({"data":{"id":1,"method":"m"}})", errc::malformed, false},
      {R"({"device":"A"})", errc::malformed, false},
      {R"({"device":["A"],"data":{"id":1,"method":"m"}})", errc::wrong_type, false},
      {R"({"device":"A","data":"x"})", errc::wrong_type, false},
      {R"({"device":"A","data":{"method":"m"}})", errc::malformed, false},
      {R"({"device":"A","data":{"id":"1","method":"m"}})", errc::wrong_type, false},
      {R"({"device":"A","data":{"id":1.5,"method":"m"}})", errc::wrong_type, false},
      {R"({"device":"A","data":{"id":4294967296,"method":"m"}})", errc::wrong_type, false},
      {R"({"device":"A","data":{"id":1}})", errc::malformed, true},
      {R"({"device":"A","data":{"id":1,"method":2}})", errc::wrong_type, true},
  };
  for (const auto& c : cases) {
    const std::size_t published = r.port.publish_count;
    deliver(r, rpc_topic, c.payload);
    EXPECT_TRUE(heard_error(r.listener, c.e, c.payload)) << c.payload.data();
    EXPECT_EQ(r.port.publish_count - published, c.answered ? 1u : 0u) << c.payload.data();
    if (c.answered) {
      EXPECT_EQ(r.port.last_payload(), R"({"device":"A","id":1,"data":{"error":"malformed request"}})");
    }
  }
  EXPECT_EQ(r.listener.count(heard::rpc_request), 0u);
}

TEST(gateway_engine, a_resent_rpc_reuses_its_slot_and_a_full_table_answers_busy) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":1,"method":"m"}})");
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":1,"method":"m"}})");  // persistent RPC re-sent
  static_assert(TBMQTT_GATEWAY_MAX_OPEN_RPCS <= 9, "this test writes one-digit ids");
  for (std::uint32_t id = 2; id <= TBMQTT_GATEWAY_MAX_OPEN_RPCS; ++id) {
    char payload[] = R"({"device":"A","data":{"id":0,"method":"m"}})";
    payload[sizeof R"({"device":"A","data":{"id":)" - 1] = static_cast<char>('0' + id);  // ids 2..9
    deliver(r, rpc_topic, {payload, sizeof payload - 1});
  }
  EXPECT_EQ(r.listener.count(heard::rpc_request), TBMQTT_GATEWAY_MAX_OPEN_RPCS + 1u);
  constexpr std::string_view one_more = R"({"device":"A","data":{"id":99,"method":"m"}})";
  deliver(r, rpc_topic, one_more);
  EXPECT_TRUE(heard_error(r.listener, errc::queue_full, one_more));
  EXPECT_EQ(r.port.last_payload(), R"({"device":"A","id":99,"data":{"error":"gateway busy"}})");
}

TEST(gateway_engine, detach_stops_events_and_cancels_requests) {
  rig r;
  connect(r);
  (void)r.gw.connect_device("A");
  (void)r.gw.request_attributes("A", attribute_scope::shared, "a", 0);
  r.gw.detach();
  EXPECT_EQ(r.listener.last()->e, errc::cancelled);
  deliver(r, rpc_topic, R"({"device":"A","data":{"id":1,"method":"m"}})");
  EXPECT_EQ(r.listener.count(heard::rpc_request), 0u);
  EXPECT_EQ(r.events.count(tbmqtt_test::event_kind::error), 1u);  // the session: unknown topic
  EXPECT_EQ(r.gw.publish_telemetry("A", "{}").error(), errc::not_open);
}
