// Tests of src/core/subscription_set.cpp and the connection state of src/core/session.cpp: the filters kept subscribed, SUBACKs, ready.
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

// ==== connection state machine ==================================================================

TEST(subscription_set, starts_disconnected_without_subscribing) {
  rig r;
  EXPECT_EQ(r.s.state(), session_state::disconnected);
  EXPECT_EQ(r.port.subscribe_attempts, 0u);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(subscription_set, subscribes_the_two_response_filters_on_connect) {
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

TEST(subscription_set, becomes_ready_only_after_every_suback) {
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

TEST(subscription_set, calls_on_ready_once_per_connection) {
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

TEST(subscription_set, ignores_suback_with_an_unknown_packet_id) {
  rig r;
  r.s.on_connected(0);
  r.s.on_suback(12345, granted_qos1);
  r.s.on_suback(0, granted_qos1);
  EXPECT_EQ(r.s.state(), session_state::subscribing);
  EXPECT_EQ(r.events.event_count, 0u);
}

TEST(subscription_set, reports_a_refused_suback_with_the_filter) {
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

TEST(subscription_set, reports_a_failed_subscribe_call_with_the_filter) {
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

TEST(subscription_set, disconnect_returns_to_disconnected) {
  rig r;
  connect(r);
  r.s.on_disconnected();
  EXPECT_EQ(r.s.state(), session_state::disconnected);
}

TEST(subscription_set, resubscribes_every_filter_after_reconnect) {
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

TEST(subscription_set, subscribes_rpc_requests_only_once_a_method_is_registered) {
  rig r;
  connect(r);
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 0u);
  ASSERT_TRUE(r.s.add_rpc_method("a").ok());
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 1u);
  ASSERT_TRUE(r.s.add_rpc_method("b").ok());
  ASSERT_TRUE(r.s.add_rpc_method("a").ok());
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 1u);
}

TEST(subscription_set, subscribes_rpc_requests_once_the_fallback_is_on) {
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

TEST(subscription_set, subscribes_shared_attributes_only_once_a_subscription_exists) {
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

TEST(subscription_set, does_not_subscribe_optional_filters_after_reconnect_when_none_were_registered) {
  rig r;
  connect(r);
  r.s.on_disconnected();
  const std::size_t from = r.port.subscribe_count;
  connect(r);
  EXPECT_EQ(r.port.subscribe_count - from, 2u);
  EXPECT_EQ(r.port.subscribe_times(rpc_request_filter), 0u);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic), 0u);
}

TEST(subscription_set, registration_while_subscribing_delays_ready_until_its_suback) {
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

TEST(subscription_set, uses_control_qos_for_subscriptions) {
  tbmqtt::session_config config;
  config.control_qos = qos::at_most_once;
  rig r(config);
  r.s.on_connected(0);
  ASSERT_EQ(r.port.subscribe_count, 2u);
  EXPECT_EQ(r.port.subscribes[0].q, qos::at_most_once);
  EXPECT_EQ(r.port.subscribes[1].q, qos::at_most_once);
}
