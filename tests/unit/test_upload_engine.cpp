// Tests of src/core/upload_engine.cpp (and the publisher under it): telemetry and attribute uploads.
// Driven through the session façade between a fake transport and an event recorder
// (tests/unit/session_rig.hpp). Time is always a parameter, never a clock.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "session_rig.hpp"

using tbmqtt::errc;
using tbmqtt::qos;
using tbmqtt::session_state;
using tbmqtt_test::bytes;
using tbmqtt_test::event_kind;
using tbmqtt_test::event_record;
using namespace tbmqtt_test::session_rig;

// ==== publishing ==================================================================================

TEST(upload_engine, publishes_telemetry_object_and_array_text) {
  rig r;
  connect(r);
  auto a = r.s.publish_telemetry(R"({"temp":21.5})", qos::at_least_once);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(acknowledged_as(r, r.port.publishes[0].id, *a));
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

TEST(upload_engine, rejects_scalar_or_invalid_telemetry_text_without_publishing) {
  rig r;
  connect(r);
  const std::string_view bad[] = {"", "42", "\"text\"", "true", "null", "{", R"({"a":})", "{} {}", "[1,]"};
  for (std::string_view text : bad)
    EXPECT_EQ(r.s.publish_telemetry(text, qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(upload_engine, publishes_telemetry_to_the_configured_topic) {
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

TEST(upload_engine, publishes_a_built_telemetry_payload) {
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

TEST(upload_engine, publishes_client_attributes_only_as_an_object) {
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

TEST(upload_engine, rejects_payloads_above_the_cap_with_payload_too_large) {
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

TEST(upload_engine, qos0_publish_while_disconnected_reports_not_connected) {
  rig r;
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":1})", qos::at_most_once).error(), errc::not_connected);
  EXPECT_EQ(r.s.publish_attributes(R"({"a":1})", qos::at_most_once).error(), errc::not_connected);
  EXPECT_EQ(r.s.publish_raw("t", "x", qos::at_most_once).error(), errc::not_connected);
  connect(r);
  r.s.on_disconnected();
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":1})", qos::at_most_once).error(), errc::not_connected);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(upload_engine, qos1_publish_while_disconnected_is_handed_to_the_transport) {
  rig r;
  auto queued = r.s.publish_telemetry(R"({"a":1})", qos::at_least_once);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(r.port.publish_count, 1u);
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"a":1})"));
  r.port.fail_next_publish(errc::not_connected);
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":2})", qos::at_least_once).error(), errc::not_connected);
}

TEST(upload_engine, passes_transport_errors_through) {
  rig r;
  connect(r);
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).error(), errc::again);
  EXPECT_EQ(r.port.publish_count, 0u);
  EXPECT_TRUE(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).ok());
}
