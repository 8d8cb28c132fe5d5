// Tests of src/core/shared_attributes_engine.cpp: shared-attribute subscriptions.
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

// ==== shared attributes ============================================================================

TEST(shared_attributes_engine, shared_attribute_push_reaches_an_all_keys_subscription) {
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

TEST(shared_attributes_engine, shared_attribute_push_reaches_only_matching_key_lists) {
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

TEST(shared_attributes_engine, shared_attribute_deletion_matches_by_key_list) {
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

TEST(shared_attributes_engine, shared_attribute_keys_are_compared_after_unescaping) {
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

TEST(shared_attributes_engine, shared_attribute_with_a_long_key_matches_its_key_list) {
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

TEST(shared_attributes_engine, shared_attribute_with_a_long_escaped_key_matches_its_key_list) {
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

TEST(shared_attributes_engine, malformed_shared_attribute_push_reports_malformed) {
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

TEST(shared_attributes_engine, subscribe_shared_attributes_reports_queue_full_beyond_its_table) {
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
