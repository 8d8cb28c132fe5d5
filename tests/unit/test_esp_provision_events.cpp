// Tests of src/platform/esp_idf/esp_provision_events.hpp: the esp-mqtt events of a provisioning
// connection -> provision_engine. The ESP-IDF call around it (provisioned_client.cpp) is only
// compile-checked (tests/esp_idf/check.sh).
// tbmqtt: host-only
#include <gtest/gtest.h>

#include <cstddef>
#include <string_view>

#include "../../src/platform/esp_idf/esp_provision_events.hpp"
#include "fake_transport.hpp"
#include "tbmqtt/provision.hpp"

using tbmqtt::errc;
using tbmqtt::detail::esp_error_type;
using tbmqtt::detail::esp_event_kind;
using tbmqtt::detail::esp_event_view;

namespace {

constexpr std::string_view answer = R"({"credentialsValue":"T","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"})";

esp_event_view event(esp_event_kind k, int msg_id = 0) {
  esp_event_view e;
  e.kind = k;
  e.msg_id = msg_id;
  return e;
}

esp_event_view transport_error(int esp_tls_err) {
  esp_event_view e = event(esp_event_kind::error);
  e.error.type = esp_error_type::tcp_transport;
  e.error.esp_tls_last_esp_err = esp_tls_err;
  return e;
}

struct mapper_fixture : ::testing::Test {
  tbmqtt_test::fake_transport transport;
  char response[256] = {};
  tbmqtt::detail::provision_engine x{transport, "{}", response};
  tbmqtt::detail::esp_provision_mapper m{x};

  errc error() const {
    auto o = x.outcome();
    return o ? errc{} : o.error();
  }
  int subscribe_id() const { return transport.subscribe_id(tbmqtt::provision_response_topic); }
};

}  // namespace

TEST_F(mapper_fixture, connected_subscribed_data_gives_the_answer_in_fragments) {
  m.handle(event(esp_event_kind::before_connect));
  m.handle(event(esp_event_kind::connected));
  ASSERT_NE(subscribe_id(), 0);
  esp_event_view sub = event(esp_event_kind::subscribed, subscribe_id());
  const std::byte granted[] = {std::byte{1}};
  sub.data = granted;
  m.handle(sub);
  ASSERT_EQ(transport.publish_count, 1u);
  m.handle(event(esp_event_kind::published, transport.publishes[0].id));

  esp_event_view first = event(esp_event_kind::data);
  first.topic = tbmqtt::provision_response_topic;
  first.data = tbmqtt::as_bytes(answer.substr(0, 30));
  first.total = answer.size();
  m.handle(first);
  esp_event_view rest = event(esp_event_kind::data);
  rest.data = tbmqtt::as_bytes(answer.substr(30));
  rest.offset = 30;
  rest.total = answer.size();
  m.handle(rest);
  ASSERT_TRUE(x.outcome());
  EXPECT_EQ(*x.outcome(), answer);
  m.handle(event(esp_event_kind::disconnected));  // our own stop() afterwards changes nothing
  EXPECT_TRUE(x.outcome());
}

TEST_F(mapper_fixture, connack_refusal_is_typed) {
  esp_event_view e = event(esp_event_kind::error);
  e.error.type = esp_error_type::connection_refused;
  e.error.connect_return_code = 5;
  m.handle(e);
  EXPECT_EQ(error(), errc::refused_credentials);
}

TEST_F(mapper_fixture, failed_tcp_connect_is_unreachable_when_the_disconnect_follows) {
  m.handle(transport_error(tbmqtt::detail::esp_err::esp_tls_base + 0x03));  // socket connect failed
  EXPECT_FALSE(x.finished());
  m.handle(event(esp_event_kind::disconnected));
  EXPECT_EQ(error(), errc::unreachable);
}

TEST_F(mapper_fixture, failed_handshake_is_tls_error) {
  m.handle(transport_error(tbmqtt::detail::esp_err::esp_tls_base + 0x0E));  // certificate verify failed
  m.handle(event(esp_event_kind::disconnected));
  EXPECT_EQ(error(), errc::tls_error);
}

TEST_F(mapper_fixture, lost_after_connect_without_answer_is_disconnected) {
  m.handle(event(esp_event_kind::connected));
  m.handle(transport_error(tbmqtt::detail::esp_err::esp_tls_base + 0x03));
  m.handle(event(esp_event_kind::disconnected));
  EXPECT_EQ(error(), errc::disconnected);
}

TEST_F(mapper_fixture, refused_subscription_v4_code_and_v5_flag) {
  m.handle(event(esp_event_kind::connected));
  esp_event_view sub = event(esp_event_kind::subscribed, subscribe_id());
  const std::byte refused[] = {std::byte{0x80}};
  sub.data = refused;
  m.handle(sub);
  EXPECT_EQ(error(), errc::subscription_refused);

  tbmqtt_test::fake_transport t2;
  char buf[64];
  tbmqtt::detail::provision_engine y{t2, "{}", buf};
  tbmqtt::detail::esp_provision_mapper m2{y};
  m2.handle(event(esp_event_kind::connected));
  esp_event_view flagged = event(esp_event_kind::error);
  flagged.error.type = esp_error_type::subscribe_failed;
  m2.handle(flagged);  // v5.x reports it again on SUBSCRIBED; the ERROR alone changes nothing
  EXPECT_FALSE(y.finished());
  esp_event_view v5 = event(esp_event_kind::subscribed, t2.subscribe_id(tbmqtt::provision_response_topic));
  v5.error.type = esp_error_type::subscribe_failed;
  m2.handle(v5);
  ASSERT_TRUE(y.finished());
  EXPECT_EQ(y.outcome().error(), errc::subscription_refused);
  EXPECT_EQ(t2.publish_count, 0u);
}
