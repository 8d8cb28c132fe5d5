// Tests of src/core/provision_exchange.cpp: the provisioning round trip (CONNACK -> SUBSCRIBE ->
// SUBACK -> PUBLISH -> response) driven with a fake transport, its reassembly of a fragmented
// answer, and each way it can end without one.
#include <gtest/gtest.h>

#include <cstddef>
#include <string_view>

#include "fake_transport.hpp"
#include "tbmqtt/detail/provision_exchange.hpp"
#include "tbmqtt/detail/slice.hpp"
#include "tbmqtt/provision.hpp"

using tbmqtt::errc;
using tbmqtt::detail::provision_exchange;

namespace {

constexpr std::string_view request = R"({"provisionDeviceKey":"K","provisionDeviceSecret":"S"})";
constexpr std::string_view answer = R"({"credentialsValue":"T","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})";

tbmqtt::span<const std::byte> bytes(std::string_view s) { return tbmqtt::as_bytes(s); }

struct exchange_fixture : ::testing::Test {
  tbmqtt_test::fake_transport transport;
  char response[128] = {};
  provision_exchange x{transport, request, response};

  // CONNACK and SUBACK accepted: the request is out.
  void subscribed() {
    x.on_connack(errc{});
    x.on_suback(transport.subscribe_id(tbmqtt::provision_response_topic), 1);
  }
  errc error() const {
    auto o = x.outcome();
    return o ? errc{} : o.error();
  }
};

}  // namespace

TEST_F(exchange_fixture, subscribes_after_connack_then_publishes_the_request_after_suback) {
  x.on_connack(errc{});
  ASSERT_EQ(transport.subscribe_count, 1u);
  EXPECT_EQ(transport.filter(0), tbmqtt::provision_response_topic);
  EXPECT_EQ(transport.subscribes[0].q, tbmqtt::qos::at_least_once);
  EXPECT_EQ(transport.publish_count, 0u);  // not before the SUBACK: the answer could be missed
  x.on_suback(transport.subscribes[0].id, 1);
  ASSERT_EQ(transport.publish_count, 1u);
  EXPECT_EQ(transport.topic(0), tbmqtt::provision_request_topic);
  EXPECT_EQ(transport.payload(0), request);
  EXPECT_EQ(transport.publishes[0].q, tbmqtt::qos::at_least_once);
  EXPECT_FALSE(x.finished());
  EXPECT_EQ(error(), errc::again);
}

TEST_F(exchange_fixture, whole_answer_finishes_with_the_payload) {
  subscribed();
  x.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size());
  ASSERT_TRUE(x.finished());
  auto o = x.outcome();
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, answer);
  auto creds = tbmqtt::parse_provision_response(*o, tbmqtt::span<char>{});
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->token, "T");
}

TEST_F(exchange_fixture, fragmented_answer_is_reassembled) {
  subscribed();
  const std::size_t cut = 10;
  x.on_message_fragment(tbmqtt::provision_response_topic, bytes(tbmqtt::detail::slice(answer, 0, cut)), 0, answer.size());
  EXPECT_FALSE(x.finished());
  x.on_message_fragment({}, bytes(tbmqtt::detail::slice(answer, cut)), cut, answer.size());
  ASSERT_TRUE(x.finished());
  ASSERT_TRUE(x.outcome());
  EXPECT_EQ(*x.outcome(), answer);
}

TEST_F(exchange_fixture, messages_on_other_topics_are_skipped_with_their_fragments) {
  subscribed();
  x.on_message_fragment("v1/devices/me/attributes", bytes("{\"a\":"), 0, 7);
  x.on_message_fragment({}, bytes("1}"), 5, 7);
  EXPECT_FALSE(x.finished());
  x.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size());
  ASSERT_TRUE(x.outcome());
  EXPECT_EQ(*x.outcome(), answer);
}

TEST_F(exchange_fixture, answer_larger_than_the_buffer_is_payload_too_large) {
  subscribed();
  x.on_message_fragment(tbmqtt::provision_response_topic, bytes("{"), 0, sizeof response + 1);
  EXPECT_EQ(error(), errc::payload_too_large);
}

TEST_F(exchange_fixture, fragment_out_of_order_is_malformed) {
  subscribed();
  x.on_message_fragment(tbmqtt::provision_response_topic, bytes(tbmqtt::detail::slice(answer, 0, 10)), 0, answer.size());
  x.on_message_fragment({}, bytes(tbmqtt::detail::slice(answer, 20)), 20, answer.size());
  EXPECT_EQ(error(), errc::malformed);
}

TEST_F(exchange_fixture, fragment_past_the_total_is_malformed) {
  subscribed();
  x.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size() - 1);
  EXPECT_EQ(error(), errc::malformed);
}

TEST_F(exchange_fixture, refused_connack_finishes_with_the_refusal) {
  x.on_connack(errc::refused_credentials);
  EXPECT_EQ(error(), errc::refused_credentials);
  EXPECT_EQ(transport.subscribe_count, 0u);
}

TEST_F(exchange_fixture, refused_subscription_finishes_without_publishing) {
  x.on_connack(errc{});
  x.on_suback(transport.subscribes[0].id, 0x80);
  EXPECT_EQ(error(), errc::subscription_refused);
  EXPECT_EQ(transport.publish_count, 0u);
}

TEST_F(exchange_fixture, suback_for_another_id_is_ignored) {
  x.on_connack(errc{});
  x.on_suback(static_cast<tbmqtt::message_id>(transport.subscribes[0].id + 1), 1);
  EXPECT_EQ(transport.publish_count, 0u);
  EXPECT_FALSE(x.finished());
}

TEST_F(exchange_fixture, transport_failures_finish_with_their_error) {
  transport.fail_next_subscribe(errc::not_connected);
  x.on_connack(errc{});
  EXPECT_EQ(error(), errc::not_connected);

  tbmqtt_test::fake_transport t2;
  char buf[64];
  provision_exchange y{t2, request, buf};
  y.on_connack(errc{});
  t2.fail_next_publish(errc::again);
  y.on_suback(t2.subscribes[0].id, 1);
  ASSERT_TRUE(y.finished());
  EXPECT_EQ(y.outcome().error(), errc::again);
}

TEST_F(exchange_fixture, lost_before_connack_is_the_reason_or_unreachable) {
  x.on_connection_lost(errc::tls_error);
  EXPECT_EQ(error(), errc::tls_error);

  tbmqtt_test::fake_transport t2;
  char buf[64];
  provision_exchange y{t2, request, buf};
  y.on_connection_lost(errc{});
  EXPECT_EQ(y.outcome().error(), errc::unreachable);
}

TEST_F(exchange_fixture, lost_after_connack_without_answer_is_disconnected) {
  subscribed();
  x.on_connection_lost(errc::unreachable);
  EXPECT_EQ(error(), errc::disconnected);
}

TEST_F(exchange_fixture, deadline_is_timeout_but_never_replaces_an_outcome) {
  subscribed();
  x.on_deadline();
  EXPECT_EQ(error(), errc::timeout);

  tbmqtt_test::fake_transport t2;
  char buf[128];
  provision_exchange y{t2, request, buf};
  y.on_connack(errc{});
  y.on_suback(t2.subscribes[0].id, 1);
  y.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size());
  y.on_deadline();
  y.on_connection_lost(errc{});
  ASSERT_TRUE(y.outcome());
  EXPECT_EQ(*y.outcome(), answer);
}
