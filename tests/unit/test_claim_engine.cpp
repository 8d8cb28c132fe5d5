// Tests of src/core/claim_engine.cpp: claim requests.
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

// ==== claim ========================================================================================

TEST(claim_engine, claim_sends_secret_and_duration) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.claim("abc", 60000).ok());
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/claim"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"secretKey":"abc","durationMs":60000})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
}

TEST(claim_engine, claim_leaves_out_empty_fields) {
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
