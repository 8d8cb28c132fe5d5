// Tests of src/core/provision_engine.cpp: the provisioning round trip (CONNACK -> SUBSCRIBE ->
// SUBACK -> PUBLISH -> response) driven with a fake transport, its reassembly of a fragmented
// answer, and each way it can end without one.
#include <gtest/gtest.h>

#include <cstddef>
#include <string_view>

#include "fake_transport.hpp"
#include "tbmqtt/detail/provision_engine.hpp"
#include "tbmqtt/detail/slice.hpp"
#include "tbmqtt/provision.hpp"

using tbmqtt::errc;
using tbmqtt::detail::provision_engine;

namespace {

constexpr std::string_view request = R"({"provisionDeviceKey":"K","provisionDeviceSecret":"S"})";
constexpr std::string_view answer = R"({"credentialsValue":"T","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})";

tbmqtt::span<const std::byte> bytes(std::string_view s) { return tbmqtt::as_bytes(s); }

// A fake transport, a response buffer and the exchange under test.
struct harness {
  tbmqtt_test::fake_transport transport;
  char response[128] = {};
  provision_engine x{transport, request, response};

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

TEST(provision_engine, subscribes_after_connack_then_publishes_the_request_after_suback) {
  harness h;
  h.x.on_connack(errc{});
  ASSERT_EQ(h.transport.subscribe_count, 1u);
  EXPECT_EQ(h.transport.filter(0), tbmqtt::provision_response_topic);
  EXPECT_EQ(h.transport.subscribes[0].q, tbmqtt::qos::at_least_once);
  EXPECT_EQ(h.transport.publish_count, 0u);  // not before the SUBACK: the answer could be missed
  h.x.on_suback(h.transport.subscribes[0].id, 1);
  ASSERT_EQ(h.transport.publish_count, 1u);
  EXPECT_EQ(h.transport.topic(0), tbmqtt::provision_request_topic);
  EXPECT_EQ(h.transport.payload(0), request);
  EXPECT_EQ(h.transport.publishes[0].q, tbmqtt::qos::at_least_once);
  EXPECT_FALSE(h.x.finished());
  EXPECT_EQ(h.error(), errc::again);
}

TEST(provision_engine, whole_answer_finishes_with_the_payload) {
  harness h;
  h.subscribed();
  h.x.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size());
  ASSERT_TRUE(h.x.finished());
  auto o = h.x.outcome();
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, answer);
  static tbmqtt::credentials creds;
  ASSERT_TRUE(tbmqtt::parse_provision_response(*o, creds));
  EXPECT_EQ(creds.token.view(), "T");
}

TEST(provision_engine, fragmented_answer_is_reassembled) {
  harness h;
  h.subscribed();
  const std::size_t cut = 10;
  h.x.on_message_fragment(tbmqtt::provision_response_topic, bytes(tbmqtt::detail::slice(answer, 0, cut)), 0,
                          answer.size());
  EXPECT_FALSE(h.x.finished());
  h.x.on_message_fragment({}, bytes(tbmqtt::detail::slice(answer, cut)), cut, answer.size());
  ASSERT_TRUE(h.x.finished());
  ASSERT_TRUE(h.x.outcome());
  EXPECT_EQ(*h.x.outcome(), answer);
}

TEST(provision_engine, messages_on_other_topics_are_skipped_with_their_fragments) {
  harness h;
  h.subscribed();
  h.x.on_message_fragment("v1/devices/me/attributes", bytes("{\"a\":"), 0, 7);
  h.x.on_message_fragment({}, bytes("1}"), 5, 7);
  EXPECT_FALSE(h.x.finished());
  h.x.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size());
  ASSERT_TRUE(h.x.outcome());
  EXPECT_EQ(*h.x.outcome(), answer);
}

TEST(provision_engine, answer_larger_than_the_buffer_is_payload_too_large) {
  harness h;
  h.subscribed();
  h.x.on_message_fragment(tbmqtt::provision_response_topic, bytes("{"), 0, sizeof h.response + 1);
  EXPECT_EQ(h.error(), errc::payload_too_large);
}

TEST(provision_engine, fragment_out_of_order_is_malformed) {
  harness h;
  h.subscribed();
  h.x.on_message_fragment(tbmqtt::provision_response_topic, bytes(tbmqtt::detail::slice(answer, 0, 10)), 0,
                          answer.size());
  h.x.on_message_fragment({}, bytes(tbmqtt::detail::slice(answer, 20)), 20, answer.size());
  EXPECT_EQ(h.error(), errc::malformed);
}

TEST(provision_engine, fragment_past_the_total_is_malformed) {
  harness h;
  h.subscribed();
  h.x.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size() - 1);
  EXPECT_EQ(h.error(), errc::malformed);
}

TEST(provision_engine, refused_connack_finishes_with_the_refusal) {
  harness h;
  h.x.on_connack(errc::refused_credentials);
  EXPECT_EQ(h.error(), errc::refused_credentials);
  EXPECT_EQ(h.transport.subscribe_count, 0u);
}

TEST(provision_engine, refused_subscription_finishes_without_publishing) {
  harness h;
  h.x.on_connack(errc{});
  h.x.on_suback(h.transport.subscribes[0].id, 0x80);
  EXPECT_EQ(h.error(), errc::subscription_refused);
  EXPECT_EQ(h.transport.publish_count, 0u);
}

TEST(provision_engine, suback_for_another_id_is_ignored) {
  harness h;
  h.x.on_connack(errc{});
  h.x.on_suback(static_cast<tbmqtt::message_id>(h.transport.subscribes[0].id + 1), 1);
  EXPECT_EQ(h.transport.publish_count, 0u);
  EXPECT_FALSE(h.x.finished());
}

TEST(provision_engine, transport_failures_finish_with_their_error) {
  harness h;
  h.transport.fail_next_subscribe(errc::not_connected);
  h.x.on_connack(errc{});
  EXPECT_EQ(h.error(), errc::not_connected);

  tbmqtt_test::fake_transport t2;
  char buf[64];
  provision_engine y{t2, request, buf};
  y.on_connack(errc{});
  t2.fail_next_publish(errc::again);
  y.on_suback(t2.subscribes[0].id, 1);
  ASSERT_TRUE(y.finished());
  EXPECT_EQ(y.outcome().error(), errc::again);
}

TEST(provision_engine, lost_before_connack_is_the_reason_or_unreachable) {
  harness h;
  h.x.on_connection_lost(errc::tls_error);
  EXPECT_EQ(h.error(), errc::tls_error);

  tbmqtt_test::fake_transport t2;
  char buf[64];
  provision_engine y{t2, request, buf};
  y.on_connection_lost(errc{});
  EXPECT_EQ(y.outcome().error(), errc::unreachable);
}

TEST(provision_engine, lost_after_connack_without_answer_is_disconnected) {
  harness h;
  h.subscribed();
  h.x.on_connection_lost(errc::unreachable);
  EXPECT_EQ(h.error(), errc::disconnected);
}

TEST(provision_engine, deadline_is_timeout_but_never_replaces_an_outcome) {
  harness h;
  h.subscribed();
  h.x.on_deadline();
  EXPECT_EQ(h.error(), errc::timeout);

  tbmqtt_test::fake_transport t2;
  char buf[128];
  provision_engine y{t2, request, buf};
  y.on_connack(errc{});
  y.on_suback(t2.subscribes[0].id, 1);
  y.on_message_fragment(tbmqtt::provision_response_topic, bytes(answer), 0, answer.size());
  y.on_deadline();
  y.on_connection_lost(errc{});
  ASSERT_TRUE(y.outcome());
  EXPECT_EQ(*y.outcome(), answer);
}
