// Tests of src/core/device_runtime.cpp: the portable part of the device clients — the tick, the
// registry attach, the connect outcome and connection events, the flush condition. Driven with a
// scripted OS adapter (clock, wake-ups) and a session over the fake transport.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstdint>

#include "session_rig.hpp"
#include "tbmqtt/device_runtime.hpp"
#include "tbmqtt/registry.hpp"

using tbmqtt::errc;
using tbmqtt::qos;
using namespace tbmqtt_test::session_rig;

namespace {

struct scripted_os final : tbmqtt::runtime_os {
  std::uint32_t now = 1000;
  std::uint64_t unix = 1700000000000;
  int wakes = 0, locks = 0;
  void lock() noexcept override { ++locks; }
  void unlock() noexcept override { --locks; }
  void wake() noexcept override { ++wakes; }
  std::uint32_t now_ms() noexcept override { return now; }
  std::uint64_t unix_ms() noexcept override { return unix; }
};

struct heard_events final : tbmqtt::connection_listener {
  tbmqtt::connection_event last{false, errc{}};
  int ups = 0, downs = 0;
  void on_connection(const tbmqtt::connection_event& e) noexcept override {
    last = e;
    (e.connected ? ups : downs)++;
  }
};

struct runtime_rig {
  rig r;
  scripted_os os;
  heard_events heard;
  tbmqtt::device_runtime runtime{r.s, os, 50};
  runtime_rig() { runtime.set_listener(&heard); }
};

}  // namespace

TEST(device_runtime, connect_outcome_is_the_first_answer_and_wakes_the_waiter) {
  runtime_rig t;
  EXPECT_TRUE(t.runtime.outcome_known());  // nobody waits
  t.runtime.begin_connect();
  EXPECT_FALSE(t.runtime.outcome_known());
  t.runtime.on_attempt_failed(errc::unreachable);  // no event: nobody refused us
  EXPECT_TRUE(t.runtime.outcome_known());
  EXPECT_EQ(t.runtime.outcome(), errc::unreachable);
  EXPECT_EQ(t.heard.downs, 0);
  EXPECT_EQ(t.os.wakes, 1);
  t.runtime.begin_connect();
  t.runtime.on_refused(errc::refused_credentials);
  EXPECT_EQ(t.runtime.outcome(), errc::refused_credentials);
  EXPECT_EQ(t.heard.downs, 1);
  t.runtime.on_ready();  // a later answer does not replace the first
  EXPECT_EQ(t.runtime.outcome(), errc::refused_credentials);
  EXPECT_EQ(t.heard.ups, 1);
  EXPECT_TRUE(t.runtime.ready());
}

TEST(device_runtime, a_refused_subscription_before_the_first_ready_is_the_outcome) {
  runtime_rig t;
  t.runtime.begin_connect();
  t.runtime.on_error(errc::malformed);  // not about the connection
  EXPECT_FALSE(t.runtime.outcome_known());
  t.runtime.on_error(errc::subscription_refused);
  EXPECT_EQ(t.runtime.outcome(), errc::subscription_refused);
}

TEST(device_runtime, a_lost_ready_connection_is_an_event_a_lost_attempt_is_not) {
  runtime_rig t;
  t.runtime.on_connection_lost(errc::timeout);  // never ready: silent
  EXPECT_EQ(t.heard.downs, 0);
  t.runtime.on_ready();
  t.runtime.on_connection_lost(errc{});
  EXPECT_EQ(t.heard.downs, 1);
  EXPECT_EQ(t.heard.last.reason, errc::disconnected);
  EXPECT_FALSE(t.runtime.ready());
  EXPECT_TRUE(t.runtime.ever_connected());
  t.runtime.on_attempt_failed(errc::unreachable);  // a reconnect attempt: nobody waits for it
  EXPECT_TRUE(t.runtime.outcome_known());
  EXPECT_EQ(t.runtime.outcome(), errc{});
  t.runtime.begin_connect();  // a new connect() (after a disconnect): its first answer counts
  EXPECT_FALSE(t.runtime.ever_connected());
  t.runtime.on_attempt_failed(errc::unreachable);
  EXPECT_EQ(t.runtime.outcome(), errc::unreachable);
}

TEST(device_runtime, tick_runs_the_session_and_the_registry_once_per_period) {
  runtime_rig t;
  tbmqtt::registry<4> points;
  ASSERT_TRUE(t.runtime.attach(points).ok());
  EXPECT_EQ(t.runtime.attached(), &points);
  connect(t.r);
  auto id = t.r.s.request_attributes("a", "", t.os.now);  // times out after request_timeout_ms
  ASSERT_TRUE(id.ok());
  t.runtime.tick();
  t.os.now += 10;
  t.runtime.tick();  // within the period: nothing
  t.os.now += t.r.s.config().request_timeout_ms;
  t.runtime.tick();
  EXPECT_EQ(t.r.s.pending_requests(), 0u);  // expired by the session's tick
  t.runtime.detach();
  EXPECT_EQ(t.runtime.attached(), nullptr);
}

TEST(device_runtime, with_lock_holds_the_platform_lock_around_the_call) {
  runtime_rig t;
  const int inside = t.runtime.with_lock([&] { return t.os.locks; });
  EXPECT_EQ(inside, 1);
  EXPECT_EQ(t.os.locks, 0);
}

TEST(device_runtime, flush_is_woken_when_the_last_outcome_arrives) {
  runtime_rig t;
  connect(t.r);
  EXPECT_TRUE(t.runtime.idle());
  ASSERT_TRUE(t.r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).ok());
  ASSERT_TRUE(t.r.s.publish_telemetry(R"({"a":2})", qos::at_least_once).ok());
  EXPECT_FALSE(t.runtime.idle());
  t.runtime.flush_waiting(true);
  const int before = t.os.wakes;
  t.r.s.on_puback(t.r.port.publishes[0].id);
  t.runtime.on_delivered();
  EXPECT_EQ(t.os.wakes, before);  // one still waits
  t.r.s.on_puback(t.r.port.publishes[1].id);
  t.runtime.on_delivered();
  EXPECT_EQ(t.os.wakes, before + 1);
  EXPECT_TRUE(t.runtime.idle());
  t.runtime.flush_waiting(false);
}
