// Tests of src/core/dispatcher.cpp: inbound routing to the engines and extensions, unknown topics.
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

// ==== extension subscriptions =====================================================================

TEST(dispatcher, add_subscription_subscribes_at_once_when_connected) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.add_subscription("v2/fw/error").ok());
  EXPECT_EQ(r.port.subscribe_times("v2/fw/error"), 1u);
  ASSERT_TRUE(r.s.add_subscription("v2/fw/error").ok());  // already kept: no second SUBSCRIBE
  EXPECT_EQ(r.port.subscribe_times("v2/fw/error"), 1u);
}

TEST(dispatcher, add_subscription_reports_queue_full_when_the_table_is_full) {
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

TEST(dispatcher, delivers_messages_of_extension_topics_to_on_other_message) {
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

TEST(dispatcher, reports_unknown_topic_unless_on_other_message_claims_it) {
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

namespace {
struct ticking_extension final : tbmqtt::session_extension {
  std::size_t ticks = 0;
  void on_tick(std::uint32_t) noexcept override { ++ticks; }
};
}  // namespace

TEST(dispatcher, a_removed_extension_is_no_longer_called_and_the_others_are) {
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
