// Tests of src/core/request_table.cpp: request ids, timeouts and disconnects of pending requests.
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

// ==== timeouts and disconnects of pending requests =================================================

TEST(request_table, request_times_out_exactly_at_its_deadline) {
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

TEST(request_table, request_timeout_survives_the_wrap_of_the_32_bit_clock) {
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

TEST(request_table, response_after_timeout_is_an_unknown_request) {
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

TEST(request_table, disconnect_ends_every_pending_request_with_disconnected) {
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

TEST(request_table, reports_queue_full_when_every_request_slot_is_pending) {
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

TEST(request_table, never_reuses_a_request_id_that_is_still_pending) {
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

TEST(request_table, failed_publish_frees_the_request_slot) {
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
