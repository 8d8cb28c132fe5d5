// Tests of src/core/publisher.cpp: the session's one outbound path — rate-limit pacing of the
// offline queue and of direct sends, getSessionLimits holding the queue, fail_when_rate_limited.
// Driven through a session with a queue (tests/unit/queue_rig.hpp). Time is a parameter.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "queue_rig.hpp"
#include "tbmqtt/rate_limit.hpp"

using tbmqtt::errc;
using tbmqtt::qos;
using tbmqtt_test::crash_log;
using namespace tbmqtt_test::queue_rig;
using namespace tbmqtt_test::session_rig;

// ---- rate-limit pacing of the queue (tbmqtt/rate_limit.hpp) --------------------------------------

namespace {

// Publishes recorded on `topic` from index `from`.
std::size_t publishes_on(const tbmqtt_test::fake_transport& port, std::string_view topic, std::size_t from = 0) {
  std::size_t n = 0;
  for (std::size_t i = from; i < port.recorded_publishes(); ++i) n += port.topic(i) == topic ? 1 : 0;
  return n;
}

}  // namespace

TEST(publisher, queued_messages_wait_for_the_rate_limit_and_keep_their_order) {
  crash_log disk;
  device d{disk};
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::messages, "2:1", 0).ok());
  d.s.set_rate_limiter(&limiter);
  for (int i = 0; i < 6; ++i) {
    char buf[24];
    ASSERT_TRUE(d.send(doc(buf, i)).ok());
  }
  d.connect(0);
  EXPECT_EQ(d.port.publish_count, 1u);  // the burst of a 2:1 rule is 1
  std::uint32_t sent_at[8] = {};
  std::size_t seen = 1;
  for (std::uint32_t t = 1; t <= 10000 && seen < 6; ++t) {
    d.s.tick(t);
    d.ack_from(seen);  // acknowledged at once: only the limit holds them back
    for (; seen < d.port.publish_count; ++seen) sent_at[seen] = t;
  }
  ASSERT_EQ(d.port.publish_count, 6u);
  for (int i = 0; i < 6; ++i) {
    char buf[24];
    EXPECT_EQ(d.port.payload(static_cast<std::size_t>(i)), doc(buf, i));
  }
  for (std::size_t i = 2; i < 6; ++i) EXPECT_GE(sent_at[i] - sent_at[i - 2], 1000u) << i;  // never 3 in a second
}

TEST(publisher, session_limits_are_learned_on_connect_and_the_queue_waits_for_them) {
  crash_log disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.learn_session_limits = true;
  tbmqtt::session s{port, events, config};
  queue8 queue{disk};
  ASSERT_TRUE(queue.open().ok());
  s.set_offline_queue(&queue);
  tbmqtt::rate_limiter limiter;
  s.set_rate_limiter(&limiter);
  ASSERT_TRUE(s.publish_telemetry("{\"n\":0}", qos::at_least_once).ok());
  ASSERT_TRUE(s.publish_telemetry("{\"n\":1}", qos::at_least_once).ok());
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  ASSERT_EQ(port.publish_count, 1u);  // only the question
  EXPECT_EQ(port.topic(0).substr(0, 26), "v1/devices/me/rpc/request/");
  EXPECT_EQ(port.payload(0), "{\"method\":\"getSessionLimits\",\"params\":{}}");
  const std::string_view id = port.topic(0).substr(26);
  char response_topic[64] = "v1/devices/me/rpc/response/";
  std::memcpy(response_topic + 27, id.data(), id.size());
  s.on_message(
      {response_topic, 27 + id.size()},
      tbmqtt_test::bytes(R"({"maxPayloadSize":4096,"maxInflightMessages":100,"rateLimits":)"
                         R"({"messages":"10:1,300:60","telemetryMessages":"2:1","telemetryDataPoints":null}})"),
      5);
  EXPECT_EQ(s.config().max_payload, 4096u);
  ASSERT_EQ(limiter.buckets(tbmqtt::rate_limit_kind::messages).size(), 2u);
  ASSERT_EQ(limiter.buckets(tbmqtt::rate_limit_kind::telemetry_messages).size(), 1u);
  EXPECT_EQ(limiter.buckets(tbmqtt::rate_limit_kind::telemetry_data_points).size(), 0u);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 1u);  // released, paced by telemetryMessages 2:1
  s.tick(2000);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 2u);
  EXPECT_EQ(s.pending_requests(), 0u);
}

TEST(publisher, an_unanswered_session_limits_request_releases_the_queue_after_the_timeout) {
  crash_log disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.learn_session_limits = true;
  config.request_timeout_ms = 500;
  tbmqtt::session s{port, events, config};
  queue8 queue{disk};
  ASSERT_TRUE(queue.open().ok());
  s.set_offline_queue(&queue);
  tbmqtt::rate_limiter limiter;
  s.set_rate_limiter(&limiter);
  ASSERT_TRUE(s.publish_telemetry("{\"n\":0}", qos::at_least_once).ok());
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 0u);
  s.tick(499);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 0u);
  s.tick(500);
  EXPECT_EQ(publishes_on(port, telemetry_topic), 1u);
  EXPECT_FALSE(limiter.active());
}

TEST(publisher, asked_not_to_wait_a_publish_over_the_limit_fails_with_again) {
  crash_log disk;
  tbmqtt_test::fake_transport port;
  forward_log events;
  tbmqtt::session_config config;
  config.fail_when_rate_limited = true;
  tbmqtt::session s{port, events, config};
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::telemetry_messages, "2:1", 0).ok());
  s.set_rate_limiter(&limiter);
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  ASSERT_TRUE(s.publish_telemetry("{\"n\":0}", qos::at_least_once).ok());
  EXPECT_EQ(s.publish_telemetry("{\"n\":1}", qos::at_least_once).error(), errc::again);
  EXPECT_TRUE(s.publish_attributes("{\"a\":1}", qos::at_least_once).ok());  // not telemetry
  s.tick(1200);
  EXPECT_TRUE(s.publish_telemetry("{\"n\":1}", qos::at_least_once).ok());
  EXPECT_EQ(publishes_on(port, telemetry_topic), 2u);
}

TEST(publisher, messages_outside_the_queue_are_counted_against_the_limit) {
  crash_log disk;
  device d{disk};
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::messages, "2:1", 0).ok());
  d.s.set_rate_limiter(&limiter);
  d.connect(0);
  ASSERT_TRUE(d.s.claim("secret", 0).ok());  // takes the one-message burst
  ASSERT_TRUE(d.send("{\"n\":0}").ok());
  EXPECT_EQ(publishes_on(d.port, telemetry_topic), 0u);
  d.s.tick(1000);
  EXPECT_EQ(publishes_on(d.port, telemetry_topic), 1u);
}

// ---- direct sends and PUBACKs ---------------------------------------------------------------------

TEST(publisher, reports_puback_as_delivered_with_the_ticket_the_publish_returned) {
  rig r;
  connect(r);
  auto first = r.s.publish_telemetry(R"({"a":1})", qos::at_least_once);
  auto second = r.s.publish_telemetry(R"({"a":2})", qos::at_least_once);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(*first, *second);
  EXPECT_EQ(r.s.unacknowledged(), 2u);
  r.s.on_puback(77);  // no message of ours: nothing reported
  EXPECT_EQ(r.events.count(event_kind::delivered), 0u);
  EXPECT_TRUE(acknowledged_as(r, r.port.publishes[1].id, *second));  // out of order too
  EXPECT_TRUE(acknowledged_as(r, r.port.publishes[0].id, *first));
  r.s.on_puback(r.port.publishes[0].id);  // a duplicate PUBACK: reported once only
  EXPECT_EQ(r.events.count(event_kind::delivered), 2u);
  EXPECT_EQ(r.s.unacknowledged(), 0u);
}

TEST(publisher, one_ticket_counter_for_direct_and_queued_messages) {
  crash_log disk;
  device d{disk};
  d.connect();
  auto queued = d.send(R"({"n":1})");                                    // through the offline queue
  auto direct = d.s.publish_telemetry(R"({"n":2})", qos::at_most_once);  // QoS 0: bypasses it
  auto claimed = d.s.claim("secret", 0);
  auto queued_again = d.send(R"({"n":3})");
  ASSERT_TRUE(queued.ok() && direct.ok() && claimed.ok() && queued_again.ok());
  const tbmqtt::delivery_ticket tickets[] = {*queued, *direct, *claimed, *queued_again};
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = i + 1; j < 4; ++j) EXPECT_NE(tickets[i], tickets[j]);
  d.ack_from(0);  // every outcome through on_delivered, keyed by the ticket
  ASSERT_EQ(d.events.count, 4u);
  for (tbmqtt::delivery_ticket t : tickets) {
    bool seen = false;
    for (std::size_t i = 0; i < d.events.count; ++i) seen |= d.events.outcomes[i].ticket == t;
    EXPECT_TRUE(seen) << tbmqtt::to_underlying(t);
  }
  EXPECT_EQ(d.events.with(errc{}), 4u);
  EXPECT_TRUE(d.queue.empty());
}

TEST(publisher, qos0_messages_not_written_are_lost_with_the_connection) {
  rig r;
  connect(r);
  auto id = r.s.publish_telemetry(R"({"a":1})", qos::at_most_once);
  auto kept = r.s.publish_telemetry(R"({"a":2})", qos::at_least_once);
  ASSERT_TRUE(id.ok() && kept.ok());
  r.s.on_disconnected();
  const event_record* e = r.events.find(event_kind::delivered);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, tbmqtt::to_underlying(*id));
  EXPECT_EQ(e->e, errc::disconnected);
  EXPECT_EQ(r.events.count(event_kind::delivered), 1u);  // QoS 1 waits: the transport resends it
  EXPECT_EQ(r.s.unacknowledged(), 1u);
}

TEST(publisher, a_message_the_transport_gives_up_reports_its_error) {
  rig r;
  connect(r);
  auto id = r.s.publish_telemetry(R"({"a":1})", qos::at_least_once);
  ASSERT_TRUE(id.ok());
  r.s.on_publish_failed(r.port.publishes[0].id, errc::timeout);
  const event_record* e = r.events.find(event_kind::delivered);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, tbmqtt::to_underlying(*id));
  EXPECT_EQ(e->e, errc::timeout);
  r.s.on_puback(r.port.publishes[0].id);  // too late: already reported
  EXPECT_EQ(r.events.count(event_kind::delivered), 1u);
}

TEST(publisher, a_reused_packet_id_reports_the_older_message_lost) {
  rig r;
  connect(r);
  auto older = r.s.publish_telemetry(R"({"a":1})", qos::at_least_once);
  ASSERT_TRUE(older.ok());
  r.port.next_id = r.port.publishes[0].id;  // the transport numbers the next packet the same
  auto newer = r.s.publish_telemetry(R"({"a":2})", qos::at_least_once);
  ASSERT_TRUE(newer.ok());
  const event_record* e = r.events.find(event_kind::delivered);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, tbmqtt::to_underlying(*older));
  EXPECT_EQ(e->e, errc::disconnected);
  EXPECT_TRUE(acknowledged_as(r, r.port.publishes[1].id, *newer));
}

TEST(publisher, full_delivery_slots_make_a_publish_fail_with_again_and_lose_nothing) {
  rig r;
  tbmqtt::delivery_slot slots[2];
  r.s.set_delivery_slots(slots);
  connect(r);
  ASSERT_TRUE(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).ok());
  ASSERT_TRUE(r.s.publish_telemetry(R"({"a":2})", qos::at_least_once).ok());
  const std::size_t sent = r.port.publish_count;
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":3})", qos::at_least_once).error(), errc::again);
  EXPECT_EQ(r.port.publish_count, sent);  // not handed to the transport
  r.s.on_puback(r.port.publishes[0].id);
  EXPECT_TRUE(r.s.publish_telemetry(R"({"a":3})", qos::at_least_once).ok());
}

TEST(publisher, abandon_reports_every_waiting_message) {
  rig r;
  connect(r);
  auto a = r.s.publish_telemetry(R"({"a":1})", qos::at_least_once);
  auto b = r.s.publish_telemetry(R"({"a":2})", qos::at_least_once);
  ASSERT_TRUE(a.ok() && b.ok());
  r.s.abandon_deliveries(errc::cancelled);
  ASSERT_EQ(r.events.count(event_kind::delivered), 2u);
  EXPECT_EQ(r.events.find(event_kind::delivered, 0)->e, errc::cancelled);
  EXPECT_EQ(r.events.find(event_kind::delivered, 1)->e, errc::cancelled);
  EXPECT_EQ(r.s.unacknowledged(), 0u);
}

TEST(publisher, publish_raw_sends_any_payload_to_any_topic) {
  rig r;
  connect(r);
  auto id = r.s.publish_raw("v2/fw/request/1/chunk/0", "4096", qos::at_least_once);
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(acknowledged_as(r, r.port.publishes[0].id, *id));
  EXPECT_EQ(r.port.last_topic(), std::string_view("v2/fw/request/1/chunk/0"));
  EXPECT_EQ(r.port.last_payload(), std::string_view("4096"));
  r.s.set_max_payload(3);
  EXPECT_EQ(r.s.publish_raw("t", "4096", qos::at_least_once).error(), errc::payload_too_large);
  EXPECT_EQ(r.port.publish_count, 1u);
}
