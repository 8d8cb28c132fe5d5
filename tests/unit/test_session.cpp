// Tests of src/core/session.cpp: the sans-I/O device session, driven through a fake transport
// (tests/unit/fake_transport.hpp). Time is always a parameter, never a clock.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fake_transport.hpp"
#include "tbmqtt/config.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/topics.hpp"

using tbmqtt::errc;
using tbmqtt::qos;
using tbmqtt::session_state;
using tbmqtt_test::bytes;
using tbmqtt_test::event_kind;
using tbmqtt_test::event_record;

namespace {

constexpr std::string_view attr_response_filter = "v1/devices/me/attributes/response/+";
constexpr std::string_view rpc_response_filter = "v1/devices/me/rpc/response/+";
constexpr std::string_view rpc_request_filter = "v1/devices/me/rpc/request/+";
constexpr std::string_view attributes_topic = "v1/devices/me/attributes";
constexpr std::string_view telemetry_topic = "v1/devices/me/telemetry";
constexpr std::uint8_t granted_qos1 = 1;
constexpr std::uint8_t refused = 0x80;

// Everything one test needs: a transport, an event recorder and the session between them.
// A plain struct built inside each test (the embedded gtest look-alike has no fixtures).
struct rig {
  tbmqtt_test::fake_transport port;
  tbmqtt_test::recording_events events;
  tbmqtt::session s;
  explicit rig(tbmqtt::session_config config = {}) : s(port, events, config) {}
};

// Grants every subscribe recorded from index `from` on.
void grant_from(rig& r, std::size_t from) {
  for (std::size_t i = from; i < r.port.recorded_subscribes(); ++i)
    r.s.on_suback(r.port.subscribes[i].id, granted_qos1);
}

// CONNACK plus a granted SUBACK for every subscription: the session ends up ready.
void connect(rig& r, std::uint32_t now_ms = 0) {
  const std::size_t from = r.port.subscribe_count;
  r.s.on_connected(now_ms);
  grant_from(r, from);
}

void deliver(rig& r, std::string_view topic, std::string_view payload, std::uint32_t now_ms = 0) {
  r.s.on_message(topic, bytes(payload), now_ms);
}

// Writes `prefix` followed by the decimal `n` into `buf`; returns a view of it.
std::string_view with_number(char (&buf)[96], std::string_view prefix, std::uint32_t n) {
  std::memcpy(buf, prefix.data(), prefix.size());
  char digits[10];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  for (std::size_t i = 0; i < count; ++i) buf[prefix.size() + i] = digits[count - 1 - i];
  return {buf, prefix.size() + count};
}

std::string_view attr_response_topic(char (&buf)[96], std::uint32_t id) {
  return with_number(buf, "v1/devices/me/attributes/response/", id);
}
std::string_view rpc_response_topic(char (&buf)[96], std::uint32_t id) {
  return with_number(buf, "v1/devices/me/rpc/response/", id);
}
std::string_view rpc_request_topic(char (&buf)[96], std::uint32_t id) {
  return with_number(buf, "v1/devices/me/rpc/request/", id);
}

bool is_error(const event_record* e, errc code) { return e != nullptr && e->kind == event_kind::error && e->e == code; }

// Like text.substr(pos, count) but clamping, without the throwing range check (which would drag
// the C++ unwinder into the bare-metal test image).
std::string_view part(std::string_view text, std::size_t pos, std::size_t count = std::string_view::npos) {
  if (pos > text.size()) pos = text.size();
  const std::size_t rest = text.size() - pos;
  return {text.data() + pos, count < rest ? count : rest};
}

}  // namespace

// ==== connection state machine ==================================================================

TEST(session, starts_disconnected_without_subscribing) {
  rig r;
  EXPECT_EQ(r.s.state(), session_state::disconnected);
  EXPECT_EQ(r.port.subscribe_attempts, 0u);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, subscribes_the_two_response_filters_on_connect) {
  rig r;
  r.s.on_connected(0);
  EXPECT_EQ(r.s.state(), session_state::subscribing);
  ASSERT_EQ(r.port.subscribe_count, 2u);
  EXPECT_EQ(r.port.filter(0), attr_response_filter);
  EXPECT_EQ(r.port.filter(1), rpc_response_filter);
  EXPECT_EQ(r.port.subscribes[0].q, qos::at_least_once);
  EXPECT_EQ(r.port.subscribes[1].q, qos::at_least_once);
  EXPECT_EQ(r.events.count(event_kind::ready), 0u);
}

TEST(session, becomes_ready_only_after_every_suback) {
  rig r;
  r.s.on_connected(0);
  ASSERT_EQ(r.port.subscribe_count, 2u);
  r.s.on_suback(r.port.subscribes[1].id, granted_qos1);
  EXPECT_EQ(r.s.state(), session_state::subscribing);
  EXPECT_EQ(r.events.count(event_kind::ready), 0u);
  r.s.on_suback(r.port.subscribes[0].id, 0);
  EXPECT_EQ(r.s.state(), session_state::ready);
  EXPECT_EQ(r.events.count(event_kind::ready), 1u);
}

TEST(session, calls_on_ready_once_per_connection) {
  rig r;
  connect(r);
  ASSERT_EQ(r.events.count(event_kind::ready), 1u);
  // Duplicate and unknown SUBACKs change nothing.
  r.s.on_suback(r.port.subscribes[0].id, granted_qos1);
  r.s.on_suback(999, granted_qos1);
  // A later subscription's SUBACK does not make the session ready again.
  ASSERT_TRUE(r.s.add_rpc_method("m").ok());
  grant_from(r, 2);
  EXPECT_EQ(r.events.count(event_kind::ready), 1u);
  EXPECT_EQ(r.s.state(), session_state::ready);
}

TEST(session, ignores_suback_with_an_unknown_packet_id) {
  rig r;
  r.s.on_connected(0);
  r.s.on_suback(12345, granted_qos1);
  r.s.on_suback(0, granted_qos1);
  EXPECT_EQ(r.s.state(), session_state::subscribing);
  EXPECT_EQ(r.events.event_count, 0u);
}

TEST(session, reports_a_refused_suback_with_the_filter) {
  rig r;
  r.s.on_connected(0);
  r.s.on_suback(r.port.subscribes[0].id, refused);
  const event_record* e = r.events.find(event_kind::error);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->e, errc::subscription_refused);
  EXPECT_EQ(e->first.view(), attr_response_filter);
  EXPECT_EQ(r.events.count(event_kind::error), 1u);
  EXPECT_EQ(r.s.state(), session_state::subscribing);  // the other SUBACK is still missing
}

TEST(session, reports_a_failed_subscribe_call_with_the_filter) {
  rig r;
  r.port.fail_next_subscribe(errc::again);
  r.s.on_connected(0);
  const event_record* e = r.events.find(event_kind::error);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->e, errc::again);
  EXPECT_EQ(e->first.view(), attr_response_filter);
  ASSERT_EQ(r.port.subscribe_count, 1u);
  EXPECT_EQ(r.port.filter(0), rpc_response_filter);
}

TEST(session, disconnect_returns_to_disconnected) {
  rig r;
  connect(r);
  r.s.on_disconnected();
  EXPECT_EQ(r.s.state(), session_state::disconnected);
}

TEST(session, resubscribes_every_filter_after_reconnect) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("reboot").ok());
  ASSERT_TRUE(r.s.subscribe_shared_attributes("").ok());
  ASSERT_TRUE(r.s.add_subscription("v2/fw/response/+/chunk/+").ok());
  EXPECT_EQ(r.port.subscribe_count, 0u);  // nothing is subscribed while disconnected

  connect(r);
  ASSERT_EQ(r.port.subscribe_count, 5u);
  r.s.on_disconnected();
  const std::size_t from = r.port.subscribe_count;
  r.s.on_connected(100);
  EXPECT_EQ(r.s.state(), session_state::subscribing);
  EXPECT_EQ(r.port.subscribe_count - from, 5u);
  EXPECT_EQ(r.port.subscribe_times(attr_response_filter, from), 1u);
  EXPECT_EQ(r.port.subscribe_times(rpc_response_filter, from), 1u);
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter, from), 1u);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic, from), 1u);
  EXPECT_EQ(r.port.subscribe_times("v2/fw/response/+/chunk/+", from), 1u);
  // SUBACKs of the previous connection no longer count.
  for (std::size_t i = 0; i < from; ++i) r.s.on_suback(r.port.subscribes[i].id, granted_qos1);
  EXPECT_EQ(r.s.state(), session_state::subscribing);
  grant_from(r, from);
  EXPECT_EQ(r.s.state(), session_state::ready);
  EXPECT_EQ(r.events.count(event_kind::ready), 2u);
}

TEST(session, subscribes_rpc_requests_only_once_a_method_is_registered) {
  rig r;
  connect(r);
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 0u);
  ASSERT_TRUE(r.s.add_rpc_method("a").ok());
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 1u);
  ASSERT_TRUE(r.s.add_rpc_method("b").ok());
  ASSERT_TRUE(r.s.add_rpc_method("a").ok());
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 1u);
}

TEST(session, subscribes_rpc_requests_once_the_fallback_is_on) {
  rig r;
  connect(r);
  r.s.set_rpc_fallback(true);
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 1u);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  r.s.on_disconnected();
  const std::size_t from = r.port.subscribe_count;
  r.s.on_connected(0);
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter, from), 1u);
}

TEST(session, subscribes_shared_attributes_only_once_a_subscription_exists) {
  rig r;
  connect(r);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic), 0u);
  auto first = r.s.subscribe_shared_attributes("a");
  auto second = r.s.subscribe_shared_attributes("b");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, 0u);
  EXPECT_EQ(*second, 1u);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic), 1u);
}

TEST(session, does_not_subscribe_optional_filters_after_reconnect_when_none_were_registered) {
  rig r;
  connect(r);
  r.s.on_disconnected();
  const std::size_t from = r.port.subscribe_count;
  connect(r);
  EXPECT_EQ(r.port.subscribe_count - from, 2u);
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 0u);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic), 0u);
}

TEST(session, registration_while_subscribing_delays_ready_until_its_suback) {
  rig r;
  r.s.on_connected(0);
  ASSERT_TRUE(r.s.add_rpc_method("m").ok());
  ASSERT_EQ(r.port.subscribe_count, 3u);
  r.s.on_suback(r.port.subscribes[0].id, granted_qos1);
  r.s.on_suback(r.port.subscribes[1].id, granted_qos1);
  EXPECT_EQ(r.s.state(), session_state::subscribing);
  r.s.on_suback(r.port.subscribe_id(rpc_request_filter), granted_qos1);
  EXPECT_EQ(r.s.state(), session_state::ready);
}

TEST(session, uses_control_qos_for_subscriptions) {
  tbmqtt::session_config config;
  config.control_qos = qos::at_most_once;
  rig r(config);
  r.s.on_connected(0);
  ASSERT_EQ(r.port.subscribe_count, 2u);
  EXPECT_EQ(r.port.subscribes[0].q, qos::at_most_once);
  EXPECT_EQ(r.port.subscribes[1].q, qos::at_most_once);
}

TEST(session, reports_puback_as_delivered) {
  rig r;
  connect(r);
  r.s.on_puback(77);
  const event_record* e = r.events.find(event_kind::delivered);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, 77u);
}

// ==== extension subscriptions =====================================================================

TEST(session, add_subscription_subscribes_at_once_when_connected) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.add_subscription("v2/fw/error").ok());
  EXPECT_EQ(r.port.subscribe_times("v2/fw/error"), 1u);
  ASSERT_TRUE(r.s.add_subscription("v2/fw/error").ok());  // already kept: no second SUBSCRIBE
  EXPECT_EQ(r.port.subscribe_times("v2/fw/error"), 1u);
}

TEST(session, add_subscription_reports_queue_full_when_the_table_is_full) {
  rig r;
  static const char* const filters[] = {"x/0",  "x/1",  "x/2",  "x/3",  "x/4",  "x/5",  "x/6",  "x/7",
                                        "x/8",  "x/9",  "x/10", "x/11", "x/12", "x/13", "x/14", "x/15",
                                        "x/16", "x/17", "x/18", "x/19", "x/20", "x/21", "x/22", "x/23",
                                        "x/24", "x/25", "x/26", "x/27", "x/28", "x/29", "x/30", "x/31"};
  static_assert(TBMQTT_MAX_SUBSCRIPTIONS - 2 < 32, "extend the filter table");
  for (std::size_t i = 0; i < TBMQTT_MAX_SUBSCRIPTIONS - 2; ++i) EXPECT_TRUE(r.s.add_subscription(filters[i]).ok());
  auto full = r.s.add_subscription("one/too/many");
  EXPECT_EQ(full.error(), errc::queue_full);
  EXPECT_EQ(r.s.add_rpc_method("m").error(), errc::queue_full);
  EXPECT_EQ(r.s.subscribe_shared_attributes("").error(), errc::queue_full);
  connect(r);
  EXPECT_EQ(r.port.subscribe_count, static_cast<std::size_t>(TBMQTT_MAX_SUBSCRIPTIONS));
  EXPECT_EQ(r.port.subscribe_times("one/too/many"), 0u);
}

TEST(session, delivers_messages_of_extension_topics_to_on_other_message) {
  rig r;
  ASSERT_TRUE(r.s.add_subscription("v2/fw/response/+/chunk/+").ok());
  connect(r);
  r.events.claim_other_messages = true;
  deliver(r, "v2/fw/response/1/chunk/0", "\x01\x02");
  ASSERT_EQ(r.events.event_count, 2u);  // on_ready, then the message
  const event_record* e = r.events.find(event_kind::other_message);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->first.view(), std::string_view("v2/fw/response/1/chunk/0"));
  EXPECT_EQ(e->second.view(), std::string_view("\x01\x02"));
  EXPECT_EQ(r.events.count(event_kind::error), 0u);
}

TEST(session, reports_unknown_topic_unless_on_other_message_claims_it) {
  rig r;
  connect(r);
  deliver(r, "some/other/topic", "{}");
  EXPECT_EQ(r.events.count(event_kind::other_message), 1u);
  const event_record* e = r.events.find(event_kind::error);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->e, errc::unknown_topic);
  EXPECT_EQ(e->first.view(), std::string_view("some/other/topic"));

  r.events.reset();
  r.events.claim_other_messages = true;
  deliver(r, "some/other/topic", "{}");
  EXPECT_EQ(r.events.count(event_kind::other_message), 1u);
  EXPECT_EQ(r.events.count(event_kind::error), 0u);
}

TEST(session, publish_raw_sends_any_payload_to_any_topic) {
  rig r;
  connect(r);
  auto id = r.s.publish_raw("v2/fw/request/1/chunk/0", "4096", qos::at_least_once);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, r.port.publishes[0].id);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v2/fw/request/1/chunk/0"));
  EXPECT_EQ(r.port.last_payload(), std::string_view("4096"));
  r.s.set_max_payload(3);
  EXPECT_EQ(r.s.publish_raw("t", "4096", qos::at_least_once).error(), errc::payload_too_large);
  EXPECT_EQ(r.port.publish_count, 1u);
}

// ==== publishing ==================================================================================

TEST(session, publishes_telemetry_object_and_array_text) {
  rig r;
  connect(r);
  auto a = r.s.publish_telemetry(R"({"temp":21.5})", qos::at_least_once);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, r.port.publishes[0].id);
  auto b = r.s.publish_telemetry(R"([{"ts":1,"values":{"t":1}},{"ts":2,"values":{"t":2}}])", qos::at_most_once);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(r.port.publish_count, 2u);
  EXPECT_EQ(r.port.topic(0), telemetry_topic);
  EXPECT_EQ(r.port.payload(0), std::string_view(R"({"temp":21.5})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
  EXPECT_EQ(r.port.topic(1), telemetry_topic);
  EXPECT_EQ(r.port.payload(1), std::string_view(R"([{"ts":1,"values":{"t":1}},{"ts":2,"values":{"t":2}}])"));
  EXPECT_EQ(r.port.publishes[1].q, qos::at_most_once);
}

TEST(session, rejects_scalar_or_invalid_telemetry_text_without_publishing) {
  rig r;
  connect(r);
  const std::string_view bad[] = {"", "42", "\"text\"", "true", "null", "{", R"({"a":})", "{} {}", "[1,]"};
  for (std::string_view text : bad)
    EXPECT_EQ(r.s.publish_telemetry(text, qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(session, publishes_telemetry_to_the_configured_topic) {
  tbmqtt::session_config config;
  config.telemetry_topic = "custom/telemetry";
  config.attributes_topic = "custom/attributes";
  rig r(config);
  connect(r);
  ASSERT_TRUE(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).ok());
  ASSERT_TRUE(r.s.publish_attributes(R"({"b":2})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.topic(0), std::string_view("custom/telemetry"));
  EXPECT_EQ(r.port.topic(1), std::string_view("custom/attributes"));
}

TEST(session, publishes_a_built_telemetry_payload) {
  rig r;
  connect(r);
  tbmqtt::telemetry<128> t;
  t.at(1700000000000ULL).add("temp", 21.5);
  auto id = r.s.publish_telemetry(t, qos::at_least_once);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(r.port.last_topic(), telemetry_topic);
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"ts":1700000000000,"values":{"temp":21.5}})"));

  tbmqtt::telemetry<64> empty;
  EXPECT_EQ(r.s.publish_telemetry(empty, qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(session, publishes_client_attributes_only_as_an_object) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.publish_attributes(R"({"fw":"1.0","mode":"eco"})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.last_topic(), attributes_topic);
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"fw":"1.0","mode":"eco"})"));
  EXPECT_EQ(r.s.publish_attributes(R"([{"a":1}])", qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.s.publish_attributes("1", qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.s.publish_attributes("{", qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_count, 1u);

  tbmqtt::attributes<64> a;
  a.add("fw", "2.0");
  ASSERT_TRUE(r.s.publish_attributes(a, qos::at_most_once).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"fw":"2.0"})"));
  EXPECT_EQ(r.port.publishes[1].q, qos::at_most_once);
  tbmqtt::attributes<64> empty;
  EXPECT_EQ(r.s.publish_attributes(empty, qos::at_most_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_count, 2u);
}

TEST(session, rejects_payloads_above_the_cap_with_payload_too_large) {
  rig r;
  connect(r);
  constexpr std::string_view text = R"({"temp":21.5})";  // 13 bytes
  r.s.set_max_payload(text.size());
  EXPECT_EQ(r.s.config().max_payload, text.size());
  EXPECT_TRUE(r.s.publish_telemetry(text, qos::at_least_once).ok());
  r.s.set_max_payload(text.size() - 1);
  EXPECT_EQ(r.s.publish_telemetry(text, qos::at_least_once).error(), errc::payload_too_large);
  EXPECT_EQ(r.s.publish_attributes(text, qos::at_least_once).error(), errc::payload_too_large);
  tbmqtt::telemetry<64> t;
  t.add("temp", 21.5);
  EXPECT_EQ(r.s.publish_telemetry(t, qos::at_least_once).error(), errc::payload_too_large);
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(session, qos0_publish_while_disconnected_reports_not_connected) {
  rig r;
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":1})", qos::at_most_once).error(), errc::not_connected);
  EXPECT_EQ(r.s.publish_attributes(R"({"a":1})", qos::at_most_once).error(), errc::not_connected);
  EXPECT_EQ(r.s.publish_raw("t", "x", qos::at_most_once).error(), errc::not_connected);
  connect(r);
  r.s.on_disconnected();
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":1})", qos::at_most_once).error(), errc::not_connected);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(session, qos1_publish_while_disconnected_is_handed_to_the_transport) {
  rig r;
  auto queued = r.s.publish_telemetry(R"({"a":1})", qos::at_least_once);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(r.port.publish_count, 1u);
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"a":1})"));
  r.port.fail_next_publish(errc::not_connected);
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":2})", qos::at_least_once).error(), errc::not_connected);
}

TEST(session, passes_transport_errors_through) {
  rig r;
  connect(r);
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).error(), errc::again);
  EXPECT_EQ(r.port.publish_count, 0u);
  EXPECT_TRUE(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).ok());
}

// ==== claim ========================================================================================

TEST(session, claim_sends_secret_and_duration) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.claim("abc", 60000).ok());
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/claim"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"secretKey":"abc","durationMs":60000})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
}

TEST(session, claim_leaves_out_empty_fields) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.claim("s\"q", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"secretKey":"s\"q"})"));
  ASSERT_TRUE(r.s.claim("", 5).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"durationMs":5})"));
  ASSERT_TRUE(r.s.claim("", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view("{}"));
  EXPECT_EQ(r.port.publish_count, 3u);
}

// ==== attribute requests ===========================================================================

TEST(session, request_attributes_sends_both_key_lists) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a,b", "c", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  EXPECT_EQ(r.port.last_topic(), with_number(topic, "v1/devices/me/attributes/request/", *id));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"clientKeys":"a,b","sharedKeys":"c"})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
  EXPECT_EQ(r.s.pending_requests(), 1u);
}

TEST(session, request_attributes_leaves_out_empty_key_lists) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.request_attributes("a", "", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"clientKeys":"a"})"));
  ASSERT_TRUE(r.s.request_attributes("", "fw_version,fw_title", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"sharedKeys":"fw_version,fw_title"})"));
  ASSERT_TRUE(r.s.request_attributes("", "", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view("{}"));
  EXPECT_EQ(r.s.pending_requests(), 3u);
}

TEST(session, request_attributes_while_disconnected_reports_not_connected) {
  rig r;
  EXPECT_EQ(r.s.request_attributes("a", "", 0).error(), errc::not_connected);
  EXPECT_EQ(r.s.pending_requests(), 0u);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(session, requests_too_large_to_encode_report_not_enough_space_and_free_their_slot) {
  rig r;
  connect(r);
  char keys[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  for (char& c : keys) c = 'k';
  const std::string_view long_keys(keys, sizeof keys);
  EXPECT_EQ(r.s.request_attributes(long_keys, "", 0).error(), errc::not_enough_space);
  EXPECT_EQ(r.s.request_attributes("", long_keys, 0).error(), errc::not_enough_space);
  char params[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  for (char& c : params) c = ' ';
  params[0] = '"';
  params[sizeof params - 1] = '"';
  const std::string_view long_params(params, sizeof params);
  EXPECT_EQ(r.s.call_rpc("m", long_params, 0).error(), errc::not_enough_space);
  EXPECT_EQ(r.s.notify_rpc("m", long_params).error(), errc::not_enough_space);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, request_attributes_uses_fresh_ids) {
  rig r;
  connect(r);
  auto a = r.s.request_attributes("a", "", 0);
  auto b = r.s.request_attributes("b", "", 0);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, 0u);
  EXPECT_NE(*b, 0u);
}

TEST(session, dispatches_an_attribute_response_with_client_and_shared_sections) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a", "fw_version", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *id), R"({"client":{"a":1},"shared":{"fw_version":"1.2"}})");
  const event_record* e = r.events.find(event_kind::attributes_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc{});
  EXPECT_EQ(e->first_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->first.view(), std::string_view(R"({"a":1})"));
  EXPECT_EQ(e->second_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->second.view(), std::string_view(R"({"fw_version":"1.2"})"));
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, attribute_response_leaves_missing_sections_absent) {
  rig r;
  connect(r);
  auto shared_only = r.s.request_attributes("", "k", 0);
  auto nothing = r.s.request_attributes("x", "", 0);
  ASSERT_TRUE(shared_only.ok());
  ASSERT_TRUE(nothing.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *shared_only), R"({"shared":{"k":true}})");
  deliver(r, attr_response_topic(topic, *nothing), "{}");
  const event_record* a = r.events.find(event_kind::attributes_response, 0);
  const event_record* b = r.events.find(event_kind::attributes_response, 1);
  ASSERT_TRUE(a != nullptr);
  ASSERT_TRUE(b != nullptr);
  EXPECT_EQ(a->number, *shared_only);
  EXPECT_EQ(a->e, errc{});
  EXPECT_EQ(a->first_kind, tbmqtt::json::kind::absent);
  EXPECT_EQ(a->second.view(), std::string_view(R"({"k":true})"));
  EXPECT_EQ(b->number, *nothing);
  EXPECT_EQ(b->e, errc{});
  EXPECT_EQ(b->first_kind, tbmqtt::json::kind::absent);
  EXPECT_EQ(b->second_kind, tbmqtt::json::kind::absent);
}

TEST(session, malformed_attribute_response_reaches_the_requester_as_malformed) {
  rig r;
  connect(r);
  const std::string_view bad[] = {
      "{", "[]", "42", R"({"client":[1]})", R"({"shared":"x"})", R"({"client":{},"shared":null})"};
  char topic[96];
  std::size_t n = 0;
  for (std::string_view payload : bad) {
    auto id = r.s.request_attributes("a", "", 0);
    ASSERT_TRUE(id.ok());
    r.events.reset();
    deliver(r, attr_response_topic(topic, *id), payload);
    ASSERT_EQ(r.events.event_count, 1u);
    const event_record* e = r.events.last();
    EXPECT_EQ(e->kind, event_kind::attributes_response);
    EXPECT_EQ(e->number, *id);
    EXPECT_EQ(e->e, errc::malformed);
    EXPECT_EQ(e->first_kind, tbmqtt::json::kind::absent);
    EXPECT_EQ(e->second_kind, tbmqtt::json::kind::absent);
    ++n;
  }
  EXPECT_EQ(n, 6u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, attribute_response_with_an_unknown_id_reports_unknown_request) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a", "", 0);
  ASSERT_TRUE(id.ok());
  r.events.reset();
  char topic[96];
  deliver(r, attr_response_topic(topic, *id + 100), R"({"client":{"a":1}})");
  EXPECT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
  EXPECT_EQ(r.s.pending_requests(), 1u);
}

TEST(session, attribute_response_does_not_complete_an_rpc_with_the_same_id) {
  rig r;
  connect(r);
  auto rpc = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(rpc.ok());
  r.events.reset();
  char topic[96];
  deliver(r, attr_response_topic(topic, *rpc), "{}");
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
  EXPECT_EQ(r.s.pending_requests(), 1u);
  r.events.reset();
  deliver(r, rpc_response_topic(topic, *rpc), R"({"ok":1})");
  EXPECT_EQ(r.events.count(event_kind::rpc_response), 1u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, a_second_response_to_the_same_request_is_unknown) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *id), "{}");
  deliver(r, attr_response_topic(topic, *id), "{}");
  EXPECT_EQ(r.events.count(event_kind::attributes_response), 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
}

TEST(session, response_topic_with_a_bad_id_reports_malformed_with_the_topic) {
  rig r;
  connect(r);
  deliver(r, "v1/devices/me/attributes/response/abc", "{}");
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::malformed));
  EXPECT_EQ(e->first.view(), std::string_view("v1/devices/me/attributes/response/abc"));
  deliver(r, "v1/devices/me/rpc/response/-1", "{}");
  e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::malformed));
  EXPECT_EQ(e->first.view(), std::string_view("v1/devices/me/rpc/response/-1"));
}

// ==== timeouts and disconnects of pending requests =================================================

TEST(session, request_times_out_exactly_at_its_deadline) {
  tbmqtt::session_config config;
  config.request_timeout_ms = 5000;
  rig r(config);
  connect(r);
  auto attrs = r.s.request_attributes("a", "", 1000);
  auto rpc = r.s.call_rpc("m", "", 2000);
  ASSERT_TRUE(attrs.ok());
  ASSERT_TRUE(rpc.ok());
  r.events.reset();
  r.s.tick(5999);
  EXPECT_EQ(r.events.event_count, 0u);
  EXPECT_EQ(r.s.pending_requests(), 2u);
  r.s.tick(6000);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::attributes_response);
  EXPECT_EQ(e->number, *attrs);
  EXPECT_EQ(e->e, errc::timeout);
  EXPECT_EQ(e->first_kind, tbmqtt::json::kind::absent);
  r.s.tick(6999);
  EXPECT_EQ(r.events.event_count, 1u);
  r.s.tick(7000);
  ASSERT_EQ(r.events.event_count, 2u);
  e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_response);
  EXPECT_EQ(e->number, *rpc);
  EXPECT_EQ(e->e, errc::timeout);
  EXPECT_EQ(r.s.pending_requests(), 0u);
  r.s.tick(100000);
  EXPECT_EQ(r.events.event_count, 2u);  // each request ends once
}

TEST(session, request_timeout_survives_the_wrap_of_the_32_bit_clock) {
  tbmqtt::session_config config;
  config.request_timeout_ms = 10000;
  rig r(config);
  connect(r);
  const std::uint32_t start = 0xFFFFF000u;        // 4096 ms before the wrap
  const std::uint32_t deadline = start + 10000u;  // wraps to 5904
  auto id = r.s.request_attributes("a", "", start);
  ASSERT_TRUE(id.ok());
  r.events.reset();
  r.s.tick(0xFFFFFFFFu);
  r.s.tick(0);
  r.s.tick(deadline - 1);
  EXPECT_EQ(r.events.event_count, 0u);
  r.s.tick(deadline);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->e, errc::timeout);
  EXPECT_EQ(r.events.last()->number, *id);
}

TEST(session, response_after_timeout_is_an_unknown_request) {
  tbmqtt::session_config config;
  config.request_timeout_ms = 100;
  rig r(config);
  connect(r);
  auto id = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(id.ok());
  r.s.tick(100);
  r.events.reset();
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), "{}");
  EXPECT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
}

TEST(session, disconnect_ends_every_pending_request_with_disconnected) {
  rig r;
  connect(r);
  auto attrs = r.s.request_attributes("a", "", 0);
  auto rpc = r.s.call_rpc("m", R"({"x":1})", 0);
  ASSERT_TRUE(attrs.ok());
  ASSERT_TRUE(rpc.ok());
  r.events.reset();
  r.s.on_disconnected();
  ASSERT_EQ(r.events.event_count, 2u);
  const event_record* a = r.events.find(event_kind::attributes_response);
  const event_record* b = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(a != nullptr);
  ASSERT_TRUE(b != nullptr);
  EXPECT_EQ(a->number, *attrs);
  EXPECT_EQ(a->e, errc::disconnected);
  EXPECT_EQ(b->number, *rpc);
  EXPECT_EQ(b->e, errc::disconnected);
  EXPECT_EQ(b->first_kind, tbmqtt::json::kind::absent);
  EXPECT_EQ(r.s.pending_requests(), 0u);
  r.s.tick(1000000);
  EXPECT_EQ(r.events.event_count, 2u);
}

TEST(session, reports_queue_full_when_every_request_slot_is_pending) {
  rig r;
  connect(r);
  for (std::size_t i = 0; i < TBMQTT_MAX_PENDING_REQUESTS; ++i) {
    auto id = i % 2 == 0 ? r.s.request_attributes("a", "", 0) : r.s.call_rpc("m", "", 0);
    EXPECT_TRUE(id.ok());
  }
  EXPECT_EQ(r.s.pending_requests(), static_cast<std::size_t>(TBMQTT_MAX_PENDING_REQUESTS));
  const std::size_t published = r.port.publish_count;
  EXPECT_EQ(r.s.request_attributes("a", "", 0).error(), errc::queue_full);
  EXPECT_EQ(r.s.call_rpc("m", "", 0).error(), errc::queue_full);
  EXPECT_EQ(r.port.publish_count, published);
}

TEST(session, never_reuses_a_request_id_that_is_still_pending) {
  rig r;
  connect(r);
  std::uint32_t ids[TBMQTT_MAX_PENDING_REQUESTS];
  for (auto& id : ids) {
    auto got = r.s.request_attributes("a", "", 0);
    ASSERT_TRUE(got.ok());
    id = *got;
  }
  for (std::size_t i = 0; i < TBMQTT_MAX_PENDING_REQUESTS; ++i)
    for (std::size_t j = i + 1; j < TBMQTT_MAX_PENDING_REQUESTS; ++j) EXPECT_NE(ids[i], ids[j]);
  // Complete every other request, then fill the freed slots again.
  char topic[96];
  for (std::size_t i = 0; i < TBMQTT_MAX_PENDING_REQUESTS; i += 2) deliver(r, attr_response_topic(topic, ids[i]), "{}");
  for (std::size_t i = 0; i < TBMQTT_MAX_PENDING_REQUESTS; i += 2) {
    auto got = r.s.call_rpc("m", "", 0);
    ASSERT_TRUE(got.ok());
    for (std::size_t j = 1; j < TBMQTT_MAX_PENDING_REQUESTS; j += 2) EXPECT_NE(*got, ids[j]);
    for (std::size_t j = 0; j < i; j += 2) EXPECT_NE(*got, ids[j]);  // ids handed out in this loop
    ids[i] = *got;
  }
  EXPECT_EQ(r.s.pending_requests(), static_cast<std::size_t>(TBMQTT_MAX_PENDING_REQUESTS));
  // Every pending id still routes to its own request.
  r.events.reset();
  deliver(r, attr_response_topic(topic, ids[1]), "{}");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::attributes_response);
  EXPECT_EQ(r.events.last()->number, ids[1]);
}

TEST(session, failed_publish_frees_the_request_slot) {
  rig r;
  connect(r);
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.s.request_attributes("a", "", 0).error(), errc::again);
  EXPECT_EQ(r.s.pending_requests(), 0u);
  r.port.fail_next_publish(errc::not_connected);
  EXPECT_EQ(r.s.call_rpc("m", "", 0).error(), errc::not_connected);
  EXPECT_EQ(r.s.pending_requests(), 0u);
  r.s.set_max_payload(4);
  EXPECT_EQ(r.s.call_rpc("m", "", 0).error(), errc::payload_too_large);
  EXPECT_EQ(r.s.request_attributes("a", "", 0).error(), errc::payload_too_large);
  EXPECT_EQ(r.s.pending_requests(), 0u);
  r.s.set_max_payload(65536);
  // Every slot is still usable.
  for (std::size_t i = 0; i < TBMQTT_MAX_PENDING_REQUESTS; ++i) EXPECT_TRUE(r.s.request_attributes("a", "", 0).ok());
  r.events.reset();
  r.s.tick(10000);
  EXPECT_EQ(r.events.event_count, static_cast<std::size_t>(TBMQTT_MAX_PENDING_REQUESTS));
}

// ==== client-side RPC ==============================================================================

TEST(session, call_rpc_sends_method_and_empty_params) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("getTime", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  EXPECT_EQ(r.port.last_topic(), rpc_request_topic(topic, *id));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"getTime","params":{}})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
  EXPECT_EQ(r.s.pending_requests(), 1u);
}

TEST(session, call_rpc_passes_params_through) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.call_rpc("set", R"({"pin":4,"on":true})", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"set","params":{"pin":4,"on":true}})"));
  ASSERT_TRUE(r.s.call_rpc("list", "[1,2]", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"list","params":[1,2]})"));
  ASSERT_TRUE(r.s.call_rpc("q\"t", "7", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"q\"t","params":7})"));
}

TEST(session, call_rpc_rejects_invalid_params_without_publishing) {
  rig r;
  connect(r);
  EXPECT_EQ(r.s.call_rpc("m", "{bad", 0).error(), errc::invalid_argument);
  EXPECT_EQ(r.s.call_rpc("m", "1 2", 0).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, call_rpc_while_disconnected_reports_not_connected) {
  rig r;
  EXPECT_EQ(r.s.call_rpc("m", "", 0).error(), errc::not_connected);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(session, call_rpc_delivers_the_servers_answer) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("getTime", "", 0);
  ASSERT_TRUE(id.ok());
  r.events.reset();
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"time":1700000000000})");
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_response);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc{});
  EXPECT_EQ(e->first_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->first.view(), std::string_view(R"({"time":1700000000000})"));
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, call_rpc_reports_an_error_reply_as_server_error) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"error":"x"})");
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc::server_error);
  EXPECT_EQ(e->first.view(), std::string_view(R"({"error":"x"})"));
}

TEST(session, call_rpc_treats_a_reply_with_more_than_an_error_member_as_an_answer) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"error":"none","value":3})");
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->e, errc{});
  EXPECT_EQ(e->first.view(), std::string_view(R"({"error":"none","value":3})"));
}

TEST(session, call_rpc_reports_a_malformed_reply_as_malformed) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"time":)");
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc::malformed);
  EXPECT_EQ(e->first_kind, tbmqtt::json::kind::absent);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(session, call_rpc_times_out) {
  tbmqtt::session_config config;
  config.request_timeout_ms = 250;
  rig r(config);
  connect(r);
  auto id = r.s.call_rpc("m", "", 1000);
  ASSERT_TRUE(id.ok());
  r.s.tick(1249);
  EXPECT_EQ(r.events.count(event_kind::rpc_response), 0u);
  r.s.tick(1250);
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc::timeout);
}

TEST(session, rpc_response_with_an_unknown_id_reports_unknown_request) {
  rig r;
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/response/4242", "{}");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
}

TEST(session, notify_rpc_publishes_without_waiting_for_an_answer) {
  rig r;
  connect(r);
  auto msg = r.s.notify_rpc("log", R"({"line":"hi"})");
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(*msg, r.port.publishes[0].id);
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"log","params":{"line":"hi"}})"));
  const std::string_view topic = r.port.last_topic();
  auto id = tbmqtt::topics::parse_decimal(part(topic, 26));
  EXPECT_EQ(part(topic, 0, 26), std::string_view("v1/devices/me/rpc/request/"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(r.s.pending_requests(), 0u);
  ASSERT_TRUE(r.s.notify_rpc("ping", "").ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"ping","params":{}})"));
  EXPECT_NE(r.port.last_topic(), r.port.topic(0));  // a fresh id each time
  EXPECT_EQ(r.s.notify_rpc("m", "{x").error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_count, 2u);
  // Its id is not confused with a pending call.
  auto call = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(call.ok());
  EXPECT_NE(*call, *id);
}

// ==== server-side RPC ==============================================================================

TEST(session, registered_method_reaches_on_rpc_request_with_id_method_and_params) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("setGpio").ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/17", R"({"method":"setGpio","params":{"pin":4}})");
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_request);
  EXPECT_EQ(e->first.view(), std::string_view("17"));
  EXPECT_EQ(e->second.view(), std::string_view("setGpio"));
  EXPECT_EQ(e->third_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->third.view(), std::string_view(R"({"pin":4})"));
  EXPECT_EQ(r.port.publish_count, 0u);  // the app answers
}

TEST(session, rpc_request_without_params_has_absent_params) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("reboot").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"reboot"})");
  const event_record* e = r.events.find(event_kind::rpc_request);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->second.view(), std::string_view("reboot"));
  EXPECT_EQ(e->third_kind, tbmqtt::json::kind::absent);
}

TEST(session, unregistered_method_is_answered_with_an_error_reply) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("known").ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/9", R"({"method":"m","params":{}})");
  ASSERT_EQ(r.port.publish_count, 1u);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/9"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"unknown method: m"})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::unknown_method));
  EXPECT_EQ(e->first.view(), std::string_view("m"));
  // Nothing is kept open for it.
  EXPECT_EQ(r.s.reply_rpc("9", "{}").error(), errc::unknown_request);
}

TEST(session, unknown_method_error_reply_escapes_the_method_name) {
  rig r;
  r.s.set_rpc_fallback(false);
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/3", R"({"method":"a\"b\u00e9"})");
  EXPECT_EQ(r.port.last_payload(), std::string_view("{\"error\":\"unknown method: a\\\"b\xc3\xa9\"}"));
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_method));
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("a\"b\xc3\xa9"));
}

TEST(session, fallback_sends_every_method_to_on_rpc_request) {
  rig r;
  r.s.set_rpc_fallback(true);
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/5", R"({"method":"anything","params":[1]})");
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_request);
  EXPECT_EQ(e->first.view(), std::string_view("5"));
  EXPECT_EQ(e->second.view(), std::string_view("anything"));
  EXPECT_EQ(e->third.view(), std::string_view("[1]"));
  EXPECT_EQ(r.port.publish_count, 0u);
  // Turned off again: unknown methods get the error reply.
  r.s.set_rpc_fallback(false);
  deliver(r, "v1/devices/me/rpc/request/6", R"({"method":"anything"})");
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"unknown method: anything"})"));
}

TEST(session, malformed_rpc_request_gets_an_error_reply_and_on_error) {
  rig r;
  r.s.set_rpc_fallback(true);
  connect(r);
  const std::string_view bad[] = {"{", "[]", R"({"params":{}})", R"({"method":5})", ""};
  std::size_t i = 0;
  for (std::string_view payload : bad) {
    r.events.reset();
    const std::size_t published = r.port.publish_count;
    deliver(r, "v1/devices/me/rpc/request/8", payload);
    ASSERT_EQ(r.events.event_count, 1u);
    EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
    ASSERT_EQ(r.port.publish_count, published + 1);
    EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/8"));
    EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"malformed request"})"));
    ++i;
  }
  EXPECT_EQ(i, 5u);
  EXPECT_EQ(r.s.reply_rpc("8", "{}").error(), errc::unknown_request);
}

TEST(session, rpc_request_topic_with_a_bad_id_reports_malformed) {
  rig r;
  r.s.set_rpc_fallback(true);
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/", R"({"method":"m"})");
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  deliver(r, "v1/devices/me/rpc/request/01234567890123456789", R"({"method":"m"})");
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 0u);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(session, reply_rpc_answers_on_the_response_topic) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/abc", R"({"method":"get"})");
  auto id = r.s.reply_rpc("abc", R"({"value":42})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, r.port.publishes[0].id);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/abc"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"value":42})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
}

TEST(session, reply_rpc_to_an_unknown_id_reports_unknown_request) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  EXPECT_EQ(r.s.reply_rpc("1", "{}").error(), errc::unknown_request);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"get"})");
  EXPECT_EQ(r.s.reply_rpc("2", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.s.reply_rpc("", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.s.reply_rpc("11", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(session, reply_rpc_twice_reports_unknown_request_the_second_time) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  EXPECT_TRUE(r.s.reply_rpc("4", "1").ok());
  EXPECT_EQ(r.s.reply_rpc("4", "2").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(session, reply_rpc_after_disconnect_reports_unknown_request) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  r.s.on_disconnected();
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::unknown_request);
  connect(r);
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(session, reply_rpc_later_after_other_traffic_works) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("slow").ok());
  ASSERT_TRUE(r.s.add_rpc_method("fast").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/100", R"({"method":"slow"})", 0);
  deliver(r, "v1/devices/me/rpc/request/101", R"({"method":"fast"})", 10);
  ASSERT_TRUE(r.s.reply_rpc("101", "{}").ok());
  ASSERT_TRUE(r.s.publish_telemetry(R"({"t":1})", qos::at_least_once).ok());
  auto req = r.s.request_attributes("a", "", 20);
  ASSERT_TRUE(req.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *req), "{}", 30);
  deliver(r, "v1/devices/me/rpc/request/102", R"({"method":"unknown"})", 40);
  r.s.tick(50000);
  auto id = r.s.reply_rpc("100", R"({"done":true})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/100"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"done":true})"));
}

TEST(session, reply_rpc_rejects_invalid_json_and_keeps_the_request_open) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  EXPECT_EQ(r.s.reply_rpc("4", "{oops").error(), errc::invalid_argument);
  EXPECT_EQ(r.s.reply_rpc("4", "").error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_TRUE(r.s.reply_rpc("4", R"("ok")").ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"("ok")"));
}

TEST(session, reply_rpc_failing_to_publish_keeps_the_request_open) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::again);
  r.s.set_max_payload(1);
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::payload_too_large);
  r.s.set_max_payload(100);
  EXPECT_TRUE(r.s.reply_rpc("4", "{}").ok());
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(session, open_server_rpc_expires_after_its_ttl) {
  tbmqtt::session_config config;
  config.server_rpc_ttl_ms = 1000;
  rig r(config);
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"get"})", 5000);
  deliver(r, "v1/devices/me/rpc/request/2", R"({"method":"get"})", 5000);
  r.s.tick(5999);
  EXPECT_TRUE(r.s.reply_rpc("1", "{}").ok());
  r.s.tick(6000);
  EXPECT_EQ(r.s.reply_rpc("2", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(session, open_server_rpc_ttl_survives_the_clock_wrap) {
  tbmqtt::session_config config;
  config.server_rpc_ttl_ms = 1000;
  rig r(config);
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"get"})", 0xFFFFFE00u);  // expires at 488
  deliver(r, "v1/devices/me/rpc/request/2", R"({"method":"get"})", 0xFFFFFE00u);
  r.s.tick(0xFFFFFFFFu);
  r.s.tick(487);
  EXPECT_TRUE(r.s.reply_rpc("1", "{}").ok());
  r.s.tick(488);
  EXPECT_EQ(r.s.reply_rpc("2", "{}").error(), errc::unknown_request);
}

TEST(session, resent_rpc_with_the_same_id_reuses_its_slot_and_refreshes_its_ttl) {
  tbmqtt::session_config config;
  config.server_rpc_ttl_ms = 1000;
  rig r(config);
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  char topic[96];
  // Fill every slot but one, then receive id 500 twice.
  for (std::uint32_t i = 0; i + 1 < TBMQTT_MAX_OPEN_SERVER_RPCS; ++i)
    deliver(r, rpc_request_topic(topic, i), R"({"method":"get"})", 0);
  deliver(r, "v1/devices/me/rpc/request/500", R"({"method":"get"})", 0);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/500", R"({"method":"get"})", 800);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);  // not "busy"
  EXPECT_EQ(r.port.publish_count, 0u);
  r.s.tick(1000);  // the others expire; 500 was refreshed until 1800
  EXPECT_EQ(r.s.reply_rpc("0", "{}").error(), errc::unknown_request);
  EXPECT_TRUE(r.s.reply_rpc("500", "{}").ok());
  EXPECT_EQ(r.s.reply_rpc("500", "{}").error(), errc::unknown_request);  // only one entry was kept
}

TEST(session, resent_rpc_with_the_same_id_keeps_a_single_open_entry) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/7", R"({"method":"get"})", 0);
  deliver(r, "v1/devices/me/rpc/request/7", R"({"method":"get"})", 10);
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 2u);
  EXPECT_TRUE(r.s.reply_rpc("7", "{}").ok());
  EXPECT_EQ(r.s.reply_rpc("7", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 1u);
}

namespace {
// Answers every server RPC from inside on_rpc_request, as many apps do.
class replying_events final : public tbmqtt::session_events {
 public:
  void on_rpc_request(const tbmqtt::rpc_request& request) noexcept override {
    ++requests;
    if (s != nullptr) result = s->reply_rpc(request.id, R"({"echo":true})").error();
  }
  tbmqtt::session* s = nullptr;
  int requests = 0;
  errc result = errc::cancelled;
};
}  // namespace

TEST(session, reply_rpc_works_from_inside_on_rpc_request) {
  tbmqtt_test::fake_transport port;
  replying_events events;
  tbmqtt::session s(port, events);
  events.s = &s;
  s.set_rpc_fallback(true);
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, granted_qos1);
  s.on_message("v1/devices/me/rpc/request/21", bytes(R"({"method":"echo"})"), 0);
  EXPECT_EQ(events.requests, 1);
  EXPECT_EQ(events.result, errc{});
  ASSERT_EQ(port.publish_count, 1u);
  EXPECT_EQ(port.last_topic(), std::string_view("v1/devices/me/rpc/response/21"));
  EXPECT_EQ(port.last_payload(), std::string_view(R"({"echo":true})"));
  EXPECT_EQ(s.reply_rpc("21", "{}").error(), errc::unknown_request);
}

TEST(session, too_many_open_server_rpcs_get_a_busy_error_reply) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  char topic[96];
  for (std::uint32_t i = 0; i < TBMQTT_MAX_OPEN_SERVER_RPCS; ++i)
    deliver(r, rpc_request_topic(topic, i), R"({"method":"get"})", 0);
  EXPECT_EQ(r.port.publish_count, 0u);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/999", R"({"method":"get"})", 0);
  ASSERT_EQ(r.port.publish_count, 1u);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/999"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"device busy: get"})"));
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::queue_full));
  EXPECT_EQ(r.s.reply_rpc("999", "{}").error(), errc::unknown_request);
  // Answering one frees a slot.
  ASSERT_TRUE(r.s.reply_rpc("3", "{}").ok());
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/1000", R"({"method":"get"})", 0);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);
  EXPECT_TRUE(r.s.reply_rpc("1000", "{}").ok());
}

TEST(session, registered_method_with_a_long_name_reaches_on_rpc_request) {
  // 80 characters: longer than any internal scratch buffer should matter for a registered name.
  constexpr std::string_view name =
      "a_method_name_that_is_quite_long_because_it_describes_what_it_does_in_great_detail";
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method(name).ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/1",
          R"({"method":"a_method_name_that_is_quite_long_because_it_describes_what_it_does_in_great_detail"})");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);
  EXPECT_EQ(r.events.last()->second.view(), name);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(session, registered_method_with_a_long_escaped_name_reaches_on_rpc_request) {
  constexpr std::string_view name = "a_method_name_that_is_quite_long_because_it_says_\"what\"_it_does_in_detail";
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method(name).ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/1",
          R"({"method":"a_method_name_that_is_quite_long_because_it_says_\"what\"_it_does_in_detail"})");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);
  EXPECT_EQ(r.events.last()->second.view(), name);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(session, add_rpc_method_reports_queue_full_beyond_the_method_table) {
  rig r;
  static const char* const names[] = {"m0",  "m1",  "m2",  "m3",  "m4",  "m5",  "m6",  "m7",  "m8",  "m9",  "m10",
                                      "m11", "m12", "m13", "m14", "m15", "m16", "m17", "m18", "m19", "m20", "m21",
                                      "m22", "m23", "m24", "m25", "m26", "m27", "m28", "m29", "m30", "m31"};
  static_assert(TBMQTT_MAX_RPC_METHODS < 32, "extend the name table");
  for (std::size_t i = 0; i < TBMQTT_MAX_RPC_METHODS; ++i) EXPECT_TRUE(r.s.add_rpc_method(names[i]).ok());
  EXPECT_EQ(r.s.add_rpc_method("extra").error(), errc::queue_full);
  EXPECT_TRUE(r.s.add_rpc_method("m0").ok());  // already registered
}

TEST(session, fallback_reports_queue_full_when_no_subscription_slot_is_left) {
  rig r;
  static const char* const filters[] = {"y/0",  "y/1",  "y/2",  "y/3",  "y/4",  "y/5",  "y/6",  "y/7",
                                        "y/8",  "y/9",  "y/10", "y/11", "y/12", "y/13", "y/14", "y/15",
                                        "y/16", "y/17", "y/18", "y/19", "y/20", "y/21", "y/22", "y/23",
                                        "y/24", "y/25", "y/26", "y/27", "y/28", "y/29", "y/30", "y/31"};
  static_assert(TBMQTT_MAX_SUBSCRIPTIONS - 2 < 32, "extend the filter table");
  for (std::size_t i = 0; i < TBMQTT_MAX_SUBSCRIPTIONS - 2; ++i) ASSERT_TRUE(r.s.add_subscription(filters[i]).ok());
  r.s.set_rpc_fallback(true);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::queue_full));
  EXPECT_EQ(e->first.view(), rpc_request_filter);
}

// ==== shared attributes ============================================================================

TEST(session, shared_attribute_push_reaches_an_all_keys_subscription) {
  rig r;
  auto sub = r.s.subscribe_shared_attributes("");
  ASSERT_TRUE(sub.ok());
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"fw_version":"1.2"})");
  deliver(r, attributes_topic, R"({"deleted":["k1"]})");
  ASSERT_EQ(r.events.event_count, 2u);
  const event_record* a = r.events.find(event_kind::shared_attributes, 0);
  const event_record* b = r.events.find(event_kind::shared_attributes, 1);
  ASSERT_TRUE(a != nullptr);
  ASSERT_TRUE(b != nullptr);
  EXPECT_EQ(a->number, *sub);
  EXPECT_EQ(a->first.view(), std::string_view(R"({"fw_version":"1.2"})"));
  EXPECT_EQ(b->first.view(), std::string_view(R"({"deleted":["k1"]})"));
}

TEST(session, shared_attribute_push_reaches_only_matching_key_lists) {
  rig r;
  auto fw = r.s.subscribe_shared_attributes("fw_version,fw_title");
  auto mode = r.s.subscribe_shared_attributes(" mode , level ");
  auto all = r.s.subscribe_shared_attributes("");
  ASSERT_TRUE(fw.ok());
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(all.ok());
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"fw_title":"x"})");
  ASSERT_EQ(r.events.event_count, 2u);
  EXPECT_EQ(r.events.events[0].number, *fw);
  EXPECT_EQ(r.events.events[1].number, *all);

  r.events.reset();
  deliver(r, attributes_topic, R"({"other":1,"level":2})");
  ASSERT_EQ(r.events.event_count, 2u);
  EXPECT_EQ(r.events.events[0].number, *mode);
  EXPECT_EQ(r.events.events[0].first.view(), std::string_view(R"({"other":1,"level":2})"));
  EXPECT_EQ(r.events.events[1].number, *all);

  r.events.reset();
  deliver(r, attributes_topic, R"({"fw":1,"version":2,"fw_versio":3,"fw_title2":4,"levels":5})");  // no exact key
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.events[0].number, *all);
}

TEST(session, shared_attribute_deletion_matches_by_key_list) {
  rig r;
  auto a = r.s.subscribe_shared_attributes("k1,k2");
  auto b = r.s.subscribe_shared_attributes("k3");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"deleted":["k0","k2"]})");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::shared_attributes);
  EXPECT_EQ(r.events.last()->number, *a);
  r.events.reset();
  deliver(r, attributes_topic, R"({"deleted":["k4"]})");
  EXPECT_EQ(r.events.event_count, 0u);
}

TEST(session, shared_attribute_keys_are_compared_after_unescaping) {
  rig r;
  auto sub = r.s.subscribe_shared_attributes("ab,q\"t");
  ASSERT_TRUE(sub.ok());
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"a\u0062":1})");
  deliver(r, attributes_topic, R"({"q\"t":1})");
  deliver(r, attributes_topic, R"({"deleted":["\u0061b"]})");
  deliver(r, attributes_topic, R"({"a\\b":1})");  // key a\b: no match
  EXPECT_EQ(r.events.count(event_kind::shared_attributes), 3u);
  EXPECT_EQ(r.events.event_count, 3u);
}

TEST(session, shared_attribute_with_a_long_key_matches_its_key_list) {
  // 70 characters; ThingsBoard keys may be much longer.
  constexpr std::string_view key = "configuration_parameter_with_a_rather_long_descriptive_name_number_one";
  rig r;
  auto sub = r.s.subscribe_shared_attributes(key);
  ASSERT_TRUE(sub.ok());
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"configuration_parameter_with_a_rather_long_descriptive_name_number_one":5})");
  deliver(r, attributes_topic,
          R"({"deleted":["configuration_parameter_with_a_rather_long_descriptive_name_number_one"]})");
  EXPECT_EQ(r.events.count(event_kind::shared_attributes), 2u);
}

TEST(session, shared_attribute_with_a_long_escaped_key_matches_its_key_list) {
  // 70 characters including a quote, which the server sends escaped.
  constexpr std::string_view key = "configuration_parameter_with_a_rather_long_name_and_a_\"quoted\"_part";
  rig r;
  auto sub = r.s.subscribe_shared_attributes(key);
  ASSERT_TRUE(sub.ok());
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"configuration_parameter_with_a_rather_long_name_and_a_\"quoted\"_part":5})");
  deliver(r, attributes_topic,
          R"({"deleted":["configuration_parameter_with_a_rather_long_name_and_a_\"quoted\"_part"]})");
  EXPECT_EQ(r.events.count(event_kind::shared_attributes), 2u);
}

TEST(session, malformed_shared_attribute_push_reports_malformed) {
  rig r;
  ASSERT_TRUE(r.s.subscribe_shared_attributes("").ok());
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"a":)");
  deliver(r, attributes_topic, "[1]");
  ASSERT_EQ(r.events.event_count, 2u);
  EXPECT_TRUE(is_error(&r.events.events[0], errc::malformed));
  EXPECT_TRUE(is_error(&r.events.events[1], errc::malformed));
  EXPECT_EQ(r.events.count(event_kind::shared_attributes), 0u);
}

TEST(session, subscribe_shared_attributes_reports_queue_full_beyond_its_table) {
  rig r;
  for (std::size_t i = 0; i < TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS; ++i) {
    auto sub = r.s.subscribe_shared_attributes("");
    ASSERT_TRUE(sub.ok());
    EXPECT_EQ(*sub, i);
  }
  EXPECT_EQ(r.s.subscribe_shared_attributes("").error(), errc::queue_full);
  connect(r);
  r.events.reset();
  deliver(r, attributes_topic, R"({"a":1})");
  EXPECT_EQ(r.events.count(event_kind::shared_attributes),
            static_cast<std::size_t>(TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS));
}

// ==== fragmented messages ==========================================================================

TEST(session, reassembles_in_order_fragments_into_one_dispatch) {
  rig r;
  std::byte buffer[256];
  r.s.set_reassembly_buffer(buffer);
  ASSERT_TRUE(r.s.add_rpc_method("setGpio").ok());
  connect(r);
  r.events.reset();
  constexpr std::string_view payload = R"({"method":"setGpio","params":{"pin":4}})";
  constexpr std::string_view topic = "v1/devices/me/rpc/request/17";
  r.s.on_message_fragment(topic, bytes(part(payload, 0, 10)), 0, payload.size(), 0);
  r.s.on_message_fragment("", bytes(part(payload, 10, 15)), 10, payload.size(), 0);
  EXPECT_EQ(r.events.event_count, 0u);
  r.s.on_message_fragment("", bytes(part(payload, 25)), 25, payload.size(), 0);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_request);
  EXPECT_EQ(e->first.view(), std::string_view("17"));
  EXPECT_EQ(e->second.view(), std::string_view("setGpio"));
  EXPECT_EQ(e->third.view(), std::string_view(R"({"pin":4})"));
}

TEST(session, passes_an_unfragmented_message_straight_through) {
  rig r;  // no reassembly buffer needed
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("hello"), 0, 5, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::other_message);
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("ext/topic"));
  EXPECT_EQ(r.events.last()->second.view(), std::string_view("hello"));
}

TEST(session, out_of_order_fragment_drops_the_message_as_malformed) {
  rig r;
  std::byte buffer[64];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("0123"), 0, 12, 0);
  r.s.on_message_fragment("", bytes("89ab"), 8, 12, 0);  // 4..7 skipped
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::malformed));
  EXPECT_EQ(e->first.view(), std::string_view("ext/topic"));
  // The rest of the dropped message is ignored.
  r.s.on_message_fragment("", bytes("4567"), 4, 12, 0);
  EXPECT_EQ(r.events.event_count, 1u);
}

TEST(session, fragment_with_a_changed_total_is_malformed) {
  rig r;
  std::byte buffer[64];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("0123"), 0, 8, 0);
  r.s.on_message_fragment("", bytes("4567"), 4, 9, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
}

TEST(session, message_larger_than_the_reassembly_buffer_is_payload_too_large) {
  rig r;
  std::byte buffer[8];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/big", bytes("01234"), 0, 9, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::payload_too_large));
  EXPECT_EQ(e->first.view(), std::string_view("ext/big"));
  r.s.on_message_fragment("", bytes("5678"), 5, 9, 0);
  EXPECT_EQ(r.events.event_count, 1u);
  // Exactly the buffer size fits.
  r.s.on_message_fragment("ext/fit", bytes("0123"), 0, 8, 0);
  r.s.on_message_fragment("", bytes("4567"), 4, 8, 0);
  ASSERT_EQ(r.events.event_count, 2u);
  EXPECT_EQ(r.events.last()->kind, event_kind::other_message);
  EXPECT_EQ(r.events.last()->second.view(), std::string_view("01234567"));
}

TEST(session, fragments_without_a_reassembly_buffer_are_payload_too_large) {
  rig r;
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("ext/topic", bytes("ab"), 0, 4, 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::payload_too_large));
}

TEST(session, a_new_message_after_a_dropped_one_is_reassembled) {
  rig r;
  std::byte buffer[16];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("ext/a", bytes("0123456789"), 0, 40, 0);  // too large
  r.s.on_message_fragment("", bytes("0123456789"), 10, 40, 0);
  r.s.on_message_fragment("ext/b", bytes("abc"), 0, 6, 0);
  r.s.on_message_fragment("", bytes("de"), 3, 6, 0);
  r.s.on_message_fragment("", bytes("0"), 9, 10, 0);  // out of order
  r.s.on_message_fragment("ext/c", bytes("xy"), 0, 4, 0);
  r.s.on_message_fragment("", bytes("zw"), 2, 4, 0);
  ASSERT_EQ(r.events.event_count, 3u);
  EXPECT_TRUE(is_error(&r.events.events[0], errc::payload_too_large));
  EXPECT_TRUE(is_error(&r.events.events[1], errc::malformed));
  EXPECT_EQ(r.events.events[1].first.view(), std::string_view("ext/b"));
  EXPECT_EQ(r.events.events[2].kind, event_kind::other_message);
  EXPECT_EQ(r.events.events[2].first.view(), std::string_view("ext/c"));
  EXPECT_EQ(r.events.events[2].second.view(), std::string_view("xyzw"));
}

TEST(session, reassembled_attribute_response_reaches_the_requester) {
  rig r;
  std::byte buffer[128];
  r.s.set_reassembly_buffer(buffer);
  connect(r);
  auto id = r.s.request_attributes("", "fw", 0);
  ASSERT_TRUE(id.ok());
  r.events.reset();
  char topic[96];
  const std::string_view t = attr_response_topic(topic, *id);
  constexpr std::string_view payload = R"({"shared":{"fw":"1.2.3"}})";
  for (std::size_t off = 0; off < payload.size(); off += 4)
    r.s.on_message_fragment(off == 0 ? t : std::string_view{}, bytes(part(payload, off, 4)), off, payload.size(), 0);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::attributes_response);
  EXPECT_EQ(r.events.last()->number, *id);
  EXPECT_EQ(r.events.last()->second.view(), std::string_view(R"({"fw":"1.2.3"})"));
}

// ==== streamed messages (session_extension::on_stream_*) ============================================

namespace {
// Takes fragmented messages whose topic starts with `prefix` and records what it was given.
struct streaming_extension final : tbmqtt::session_extension {
  std::string_view prefix = "stream/";
  char received[64] = {};
  std::size_t received_size = 0;
  std::size_t begins = 0, fragments = 0, ends = 0, total = 0;
  errc end_error = errc::again;  // not a value the session sends
  bool on_stream_begin(std::string_view topic, std::size_t size, std::uint32_t) noexcept override {
    if (part(topic, 0, prefix.size()) != prefix) return false;
    ++begins;
    total = size;
    received_size = 0;
    return true;
  }
  void on_stream_fragment(std::size_t offset, tbmqtt::span<const std::byte> fragment, std::uint32_t) noexcept override {
    ++fragments;
    EXPECT_EQ(offset, received_size);
    if (offset + fragment.size() <= sizeof received) std::memcpy(received + offset, fragment.data(), fragment.size());
    received_size = offset + fragment.size();
  }
  void on_stream_end(errc e, std::uint32_t) noexcept override {
    ++ends;
    end_error = e;
  }
  std::string_view text() const { return {received, received_size}; }
};

void send_fragments(rig& r, std::string_view topic, std::string_view payload, std::size_t piece) {
  for (std::size_t off = 0; off < payload.size(); off += piece)
    r.s.on_message_fragment(off == 0 ? topic : std::string_view{}, bytes(part(payload, off, piece)), off,
                            payload.size(), 0);
}
}  // namespace

TEST(session, a_taken_stream_gets_every_fragment_in_order_without_a_reassembly_buffer) {
  rig r;  // no reassembly buffer at all
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  send_fragments(r, "stream/a", "0123456789abcdefghij", 3);
  EXPECT_EQ(ext.begins, 1u);
  EXPECT_EQ(ext.total, 20u);
  EXPECT_EQ(ext.fragments, 7u);
  EXPECT_EQ(ext.text(), std::string_view("0123456789abcdefghij"));
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(ext.end_error, errc{});
  EXPECT_EQ(r.events.event_count, 0u);  // neither dispatched nor an error
}

TEST(session, a_declined_fragmented_message_is_reassembled_as_before) {
  rig r;
  std::byte buffer[32];
  r.s.set_reassembly_buffer(buffer);
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  send_fragments(r, "other/a", "0123456789", 4);
  EXPECT_EQ(ext.begins, 0u);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::other_message);
  EXPECT_EQ(r.events.last()->second.view(), std::string_view("0123456789"));
}

TEST(session, an_unfragmented_message_is_not_offered_as_a_stream) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.claim_other_messages = true;
  r.s.on_message_fragment("stream/a", bytes("whole"), 0, 5, 0);
  EXPECT_EQ(ext.begins, 0u);
  EXPECT_EQ(r.events.count(event_kind::other_message), 1u);
}

TEST(session, a_missing_fragment_ends_the_stream_as_malformed_and_drops_the_rest) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 12, 0);
  r.s.on_message_fragment("", bytes("89ab"), 8, 12, 0);  // 4..7 lost by the transport
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(ext.end_error, errc::malformed);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("stream/a"));
  r.s.on_message_fragment("", bytes("4567"), 4, 12, 0);  // late: ignored
  EXPECT_EQ(ext.fragments, 1u);
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(r.events.event_count, 1u);
}

TEST(session, a_disconnect_ends_the_stream_as_disconnected) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 8, 0);
  r.s.on_disconnected();
  EXPECT_EQ(ext.ends, 1u);
  EXPECT_EQ(ext.end_error, errc::disconnected);
  EXPECT_EQ(r.events.count(event_kind::error), 0u);
  connect(r);
  r.s.on_message_fragment("", bytes("4567"), 4, 8, 0);  // the old message's tail: ignored
  EXPECT_EQ(ext.fragments, 1u);
  EXPECT_EQ(ext.ends, 1u);
}

TEST(session, a_new_message_before_the_last_fragment_ends_the_old_one_as_malformed) {
  rig r;
  std::byte buffer[16];
  r.s.set_reassembly_buffer(buffer);
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.claim_other_messages = true;
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 8, 0);  // its last fragment never comes
  send_fragments(r, "stream/b", "abcdef", 2);
  EXPECT_EQ(ext.begins, 2u);
  EXPECT_EQ(ext.ends, 2u);
  EXPECT_EQ(ext.text(), std::string_view("abcdef"));
  EXPECT_EQ(ext.end_error, errc{});
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("stream/a"));
  // Likewise a partially reassembled message cut short by a whole one.
  r.s.on_message_fragment("other/x", bytes("01"), 0, 4, 0);
  r.s.on_message_fragment("other/y", bytes("whole"), 0, 5, 0);
  ASSERT_EQ(r.events.event_count, 3u);
  EXPECT_TRUE(is_error(&r.events.events[1], errc::malformed));
  EXPECT_EQ(r.events.events[1].first.view(), std::string_view("other/x"));
  EXPECT_EQ(r.events.events[2].second.view(), std::string_view("whole"));
}

TEST(session, a_stream_whose_extension_is_removed_goes_nowhere) {
  rig r;
  streaming_extension ext;
  ASSERT_TRUE(r.s.add_extension(ext).ok());
  connect(r);
  r.events.reset();
  r.s.on_message_fragment("stream/a", bytes("0123"), 0, 8, 0);
  r.s.remove_extension(ext);
  r.s.on_message_fragment("", bytes("4567"), 4, 8, 0);
  EXPECT_EQ(ext.fragments, 1u);
  EXPECT_EQ(ext.ends, 0u);
  EXPECT_EQ(r.events.event_count, 0u);
}

namespace {
struct ticking_extension final : tbmqtt::session_extension {
  std::size_t ticks = 0;
  void on_tick(std::uint32_t) noexcept override { ++ticks; }
};
}  // namespace

TEST(session, a_removed_extension_is_no_longer_called_and_the_others_are) {
  rig r;
  ticking_extension a, b, c;
  ASSERT_TRUE(r.s.add_extension(a).ok());
  ASSERT_TRUE(r.s.add_extension(b).ok());
  r.s.tick(1);
  r.s.remove_extension(a);
  r.s.remove_extension(c);  // never added: no-op
  r.s.tick(2);
  EXPECT_EQ(a.ticks, 1u);
  EXPECT_EQ(b.ticks, 2u);
  EXPECT_EQ(c.ticks, 0u);
  ASSERT_TRUE(r.s.add_extension(a).ok());  // can come back
  r.s.tick(3);
  EXPECT_EQ(a.ticks, 2u);
  EXPECT_EQ(b.ticks, 3u);
}

TEST(session, unknown_method_reply_survives_a_long_name_cut_inside_a_utf8_sequence) {
  rig r;
  connect(r);
  // "x" then 100 two-byte characters: the 112 bytes kept after the prefix end mid-character.
  char payload[256] = R"({"method":"x)";
  std::size_t n = std::strlen(payload);
  for (int i = 0; i < 100; ++i) {
    payload[n++] = '\xc3';
    payload[n++] = '\xa9';
  }
  std::memcpy(payload + n, "\"}", 3);
  deliver(r, "v1/devices/me/rpc/request/4", payload);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/4"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"unknown method: "})"));
}
