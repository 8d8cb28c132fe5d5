// Tests of src/core/registry.cpp: the data-point registry and report by exception, driven by a
// fake clock (plain millisecond numbers) through a session on the fake transport.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "fake_transport.hpp"
#include "tbmqtt/registry.hpp"
#include "tbmqtt/session.hpp"

using tbmqtt::errc;
using tbmqtt::point_type;
using tbmqtt::point_value;
using tbmqtt::report_policy;
using tbmqtt_test::bytes;

namespace {

constexpr std::string_view telemetry_topic = "v1/devices/me/telemetry";
constexpr std::string_view attributes_topic = "v1/devices/me/attributes";
constexpr std::string_view request_prefix = "v1/devices/me/attributes/request/";

// A signal the test sets; the point's "get" reads it. `fail` makes the next read fail.
struct fake_signal {
  point_value value{0.0};
  errc fail{};
  std::uint32_t reads = 0;
};
tbmqtt::result<point_value> read_signal(void* context) {
  auto* s = static_cast<fake_signal*>(context);
  ++s->reads;
  if (s->fail != errc{}) {
    const errc e = s->fail;
    s->fail = errc{};
    return e;
  }
  return s->value;
}
tbmqtt::point_getter getter(fake_signal& s) { return {&read_signal, &s}; }

// Records what "set" callbacks received.
struct sink {
  point_value last;
  std::size_t calls = 0;
  char text[64] = {};
  std::size_t text_size = 0;
  std::string_view text_view() const { return {text, text_size}; }
};
void write_sink(void* context, point_value v) {
  auto* s = static_cast<sink*>(context);
  s->last = v;
  ++s->calls;
  if (v.type() == point_type::text || v.type() == point_type::json) {
    s->text_size = v.as_text().size() < sizeof s->text ? v.as_text().size() : sizeof s->text;
    std::memcpy(s->text, v.as_text().data(), s->text_size);
    s->last = point_value{};  // the view dies with the callback
    s->last = v.type() == point_type::text ? point_value{"?"} : point_value::json("?");
  }
}
tbmqtt::point_setter setter(sink& s) { return {&write_sink, &s}; }

// Records errors reported by the registry.
struct error_log {
  errc last{};
  char key[32] = {};
  std::size_t key_size = 0;
  std::size_t count = 0;
  std::string_view key_view() const { return {key, key_size}; }
};
void log_error(void* context, errc e, std::string_view key) {
  auto* log = static_cast<error_log*>(context);
  log->last = e;
  log->key_size = key.size() < sizeof log->key ? key.size() : sizeof log->key;
  std::memcpy(log->key, key.data(), log->key_size);
  ++log->count;
}

// The app's events: the registry is a session extension, so nothing is forwarded by hand;
// these only count what still reaches the app.
struct app_events final : tbmqtt::session_events {
  std::size_t foreign_responses = 0;
  std::size_t shared_updates = 0;
  std::size_t last_subscription = 99;
  void on_attributes_response(std::uint32_t, errc, tbmqtt::json::value, tbmqtt::json::value) noexcept override {
    ++foreign_responses;
  }
  void on_shared_attributes(std::size_t sub, tbmqtt::json::value) noexcept override {
    ++shared_updates;
    last_subscription = sub;
  }
};

struct rig {
  tbmqtt_test::fake_transport port;
  app_events events;
  tbmqtt::session s{port, events};
  tbmqtt::registry<4, 2, 2> reg;
  error_log errors;
  rig() { reg.on_error({&log_error, &errors}); }
  std::size_t telemetry_count() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < port.recorded_publishes(); ++i) n += port.topic(i) == telemetry_topic ? 1 : 0;
    return n;
  }
};

void connect(rig& r) {
  const std::size_t from = r.port.subscribe_count;
  r.s.on_connected(0);
  for (std::size_t i = from; i < r.port.recorded_subscribes(); ++i) r.s.on_suback(r.port.subscribes[i].id, 1);
}

report_policy every(std::uint32_t period_ms) {
  report_policy p;
  p.period_ms = period_ms;
  return p;
}

// Index of the last attribute request published, or max_records when none.
std::size_t last_request(const rig& r) {
  std::size_t found = tbmqtt_test::max_records;
  for (std::size_t i = 0; i < r.port.recorded_publishes(); ++i)
    if (r.port.topic(i).substr(0, request_prefix.size()) == request_prefix) found = i;
  return found;
}

// Answers the last attribute request with `payload`.
void answer(rig& r, std::string_view payload) {
  const std::size_t i = last_request(r);
  ASSERT_LT(i, tbmqtt_test::max_records);
  const std::string_view id = r.port.topic(i).substr(request_prefix.size());
  char topic[96];
  constexpr std::string_view prefix = "v1/devices/me/attributes/response/";
  std::memcpy(topic, prefix.data(), prefix.size());
  std::memcpy(topic + prefix.size(), id.data(), id.size());
  r.s.on_message({topic, prefix.size() + id.size()}, bytes(payload), 0);
}

void push(rig& r, std::string_view payload) { r.s.on_message(attributes_topic, bytes(payload), 0); }

}  // namespace

// ==== registration ===============================================================================

TEST(registry, rejects_duplicate_keys_and_reports_a_full_table) {
  rig r;
  fake_signal s;
  EXPECT_TRUE(r.reg.add_time_series("a", point_type::real, getter(s)).ok());
  EXPECT_EQ(r.reg.add_time_series("a", point_type::real, getter(s)).error(), errc::invalid_argument);
  EXPECT_TRUE(r.reg.add_time_series("b", point_type::real, getter(s)).ok());
  EXPECT_TRUE(r.reg.add_time_series("c", point_type::real, getter(s)).ok());
  EXPECT_TRUE(r.reg.add_time_series("d", point_type::real, getter(s)).ok());
  EXPECT_EQ(r.reg.add_time_series("e", point_type::real, getter(s)).error(), errc::queue_full);
  EXPECT_EQ(r.reg.time_series_count(), 4u);
}

TEST(registry, function_ref_binds_plain_functions_and_named_lambdas) {
  int calls = 0;
  auto counting = [&calls]() -> tbmqtt::result<point_value> { return point_value{++calls}; };
  tbmqtt::point_getter from_lambda{counting};
  tbmqtt::point_getter from_function{[]() -> tbmqtt::result<point_value> { return point_value{true}; }};
  EXPECT_EQ(from_lambda()->as_int(), 1);
  EXPECT_EQ(from_lambda()->as_int(), 2);
  EXPECT_TRUE(from_function()->as_bool());
  EXPECT_FALSE(static_cast<bool>(tbmqtt::point_getter{}));
}

// ==== one-call upload ============================================================================

TEST(registry, upload_time_series_sends_every_point_in_one_message_with_ts) {
  rig r;
  fake_signal temp, on, mode;
  temp.value = 21.5;
  on.value = true;
  mode.value = "eco";
  ASSERT_TRUE(r.reg.add_time_series("temp", point_type::real, getter(temp)).ok());
  ASSERT_TRUE(r.reg.add_time_series("on", point_type::boolean, getter(on)).ok());
  ASSERT_TRUE(r.reg.add_time_series("mode", point_type::text, getter(mode)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  ASSERT_TRUE(r.reg.upload_time_series(0, 1700000000000ull).ok());
  ASSERT_EQ(r.telemetry_count(), 1u);
  EXPECT_EQ(r.port.last_payload(), R"({"ts":1700000000000,"values":{"temp":21.5,"on":true,"mode":"eco"}})");
  ASSERT_TRUE(r.reg.upload_time_series(0, 0).ok());
  EXPECT_EQ(r.port.last_payload(), R"({"temp":21.5,"on":true,"mode":"eco"})");
  EXPECT_EQ(r.reg.stats().messages, 2u);
}

TEST(registry, upload_leaves_out_a_failing_point_and_reports_it) {
  rig r;
  fake_signal a, b;
  a.value = 1;
  b.value = 2;
  b.fail = errc::again;
  ASSERT_TRUE(r.reg.add_time_series("a", point_type::integer, getter(a)).ok());
  ASSERT_TRUE(r.reg.add_time_series("b", point_type::integer, getter(b)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  ASSERT_TRUE(r.reg.upload_time_series(0, 0).ok());
  EXPECT_EQ(r.port.last_payload(), R"({"a":1})");
  EXPECT_EQ(r.errors.last, errc::again);
  EXPECT_EQ(r.errors.key_view(), "b");
}

TEST(registry, upload_with_no_readable_point_is_invalid_argument) {
  rig r;
  fake_signal a;
  a.fail = errc::timeout;
  ASSERT_TRUE(r.reg.add_time_series("a", point_type::real, getter(a)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  EXPECT_EQ(r.reg.upload_time_series(0, 0).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(registry, upload_reports_a_payload_that_does_not_fit) {
  rig r0;
  tbmqtt::registry<2, 0, 0, 16> small;
  fake_signal a;
  a.value = "a rather long text value";
  ASSERT_TRUE(small.add_time_series("a", point_type::text, getter(a)).ok());
  ASSERT_TRUE(small.attach(r0.s).ok());
  EXPECT_EQ(small.upload_time_series(0, 0).error(), errc::not_enough_space);
}

// ==== report by exception ========================================================================

TEST(registry, first_sample_is_the_baseline_and_then_nothing_without_a_trigger) {
  rig r;
  fake_signal t;
  t.value = 20.5;
  report_policy p = every(1000);
  p.max = 30;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  ASSERT_EQ(r.telemetry_count(), 1u);
  EXPECT_EQ(r.port.last_payload(), R"({"t":20.5})");
  for (std::uint32_t now = 1000; now <= 10000; now += 1000) r.reg.tick(now, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  EXPECT_EQ(t.reads, 11u);  // sampled every period
}

TEST(registry, samples_only_at_its_period) {
  rig r;
  fake_signal t;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), every(500)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  for (std::uint32_t now = 0; now < 2000; now += 100) r.reg.tick(now, 0);
  EXPECT_EQ(t.reads, 4u);  // 0, 500, 1000, 1500
}

TEST(registry, crossing_above_max_is_uploaded_at_once_and_so_is_coming_back) {
  rig r;
  fake_signal t;
  t.value = 20.5;
  report_policy p = every(1000);
  p.max = 30;
  p.min_interval_ms = 60000;  // crossings are never held back
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  t.value = 30.0;  // not above
  r.reg.tick(1000, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  t.value = 30.5;
  r.reg.tick(2000, 0);
  ASSERT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"t":30.5})");
  t.value = 35.5;  // still above: no new crossing
  r.reg.tick(3000, 0);
  EXPECT_EQ(r.telemetry_count(), 2u);
  t.value = 25.5;  // back inside
  r.reg.tick(4000, 0);
  ASSERT_EQ(r.telemetry_count(), 3u);
  EXPECT_EQ(r.port.last_payload(), R"({"t":25.5})");
}

TEST(registry, crossing_below_min_is_uploaded_at_once) {
  rig r;
  fake_signal t;
  t.value = 10;
  report_policy p = every(100);
  p.min = 5;
  ASSERT_TRUE(r.reg.add_time_series("level", point_type::integer, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  t.value = 5;
  r.reg.tick(100, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  t.value = 4;
  r.reg.tick(200, 0);
  ASSERT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"level":4})");
}

TEST(registry, absolute_delta_fires_only_when_exceeded_since_the_last_upload) {
  rig r;
  fake_signal t;
  t.value = 20.0;
  report_policy p = every(1000);
  p.delta = 0.5;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  t.value = 20.25;
  r.reg.tick(1000, 0);
  t.value = 20.5;  // exactly delta: not more
  r.reg.tick(2000, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  t.value = 20.75;  // drifted past delta from the last upload (20), in small steps
  r.reg.tick(3000, 0);
  ASSERT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"t":20.75})");
  t.value = 20.5;  // 0.25 from the new baseline
  r.reg.tick(4000, 0);
  EXPECT_EQ(r.telemetry_count(), 2u);
  t.value = 20.0;  // 0.75 down
  r.reg.tick(5000, 0);
  EXPECT_EQ(r.telemetry_count(), 3u);
}

TEST(registry, relative_delta_fires_on_a_ratio_of_the_last_upload) {
  rig r;
  fake_signal t;
  t.value = 200;
  report_policy p = every(10);
  p.delta_ratio = 0.1;  // 10 %
  ASSERT_TRUE(r.reg.add_time_series("power", point_type::integer, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  t.value = 219;
  r.reg.tick(10, 0);
  t.value = 181;
  r.reg.tick(20, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  t.value = 221;
  r.reg.tick(30, 0);
  ASSERT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"power":221})");
  // From 0 any change is relative infinity.
  t.value = 0;
  r.reg.tick(40, 0);  // -100 %
  EXPECT_EQ(r.telemetry_count(), 3u);
  t.value = 1;
  r.reg.tick(50, 0);
  EXPECT_EQ(r.telemetry_count(), 4u);
}

TEST(registry, min_interval_holds_back_changes_and_then_sends_the_latest) {
  rig r;
  fake_signal t;
  t.value = 10.0;
  report_policy p = every(100);
  p.delta = 1;
  p.min_interval_ms = 1000;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  t.value = 12.0;
  r.reg.tick(100, 0);  // a change, but too soon
  t.value = 14.5;
  for (std::uint32_t now = 200; now < 1000; now += 100) r.reg.tick(now, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  r.reg.tick(1000, 0);
  ASSERT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"t":14.5})");
  // A change that went away while held back is not sent.
  t.value = 16.5;
  r.reg.tick(1100, 0);
  t.value = 14.5;
  for (std::uint32_t now = 1200; now <= 2500; now += 100) r.reg.tick(now, 0);
  EXPECT_EQ(r.telemetry_count(), 2u);
}

TEST(registry, min_interval_limits_a_fixed_period_point) {
  rig r;
  fake_signal t;
  report_policy p = every(100);
  p.min_interval_ms = 300;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  for (std::uint32_t now = 0; now < 1000; now += 100) r.reg.tick(now, 0);
  EXPECT_EQ(r.telemetry_count(), 4u);  // 0, 300, 600, 900
}

TEST(registry, fixed_period_point_uploads_every_sample) {
  rig r;
  fake_signal t;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), every(1000)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  for (std::uint32_t now = 0; now < 5000; now += 500) r.reg.tick(now, 0);
  EXPECT_EQ(r.telemetry_count(), 5u);
}

TEST(registry, heartbeat_uploads_an_unchanged_value_at_the_max_interval) {
  rig r;
  fake_signal t;
  t.value = 20.5;
  report_policy p = every(1000);
  p.delta = 1;
  p.max_interval_ms = 5000;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  for (std::uint32_t now = 0; now < 5000; now += 1000) r.reg.tick(now, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  r.reg.tick(5000, 0);
  EXPECT_EQ(r.telemetry_count(), 2u);
  // A change resets the heartbeat.
  t.value = 22.5;
  r.reg.tick(7000, 0);
  EXPECT_EQ(r.telemetry_count(), 3u);
  for (std::uint32_t now = 8000; now < 12000; now += 1000) r.reg.tick(now, 0);
  EXPECT_EQ(r.telemetry_count(), 3u);
  r.reg.tick(12000, 0);
  EXPECT_EQ(r.telemetry_count(), 4u);
}

TEST(registry, a_point_with_only_a_heartbeat_is_uploaded_at_that_interval) {
  rig r;
  fake_signal t;
  report_policy p = every(100);
  p.max_interval_ms = 1000;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  for (std::uint32_t now = 0; now < 3000; now += 100) {
    t.value = static_cast<double>(now) / 1000.0;
    r.reg.tick(now, 0);
  }
  EXPECT_EQ(r.telemetry_count(), 3u);  // 0, 1000, 2000
  EXPECT_EQ(r.port.last_payload(), R"({"t":2})");
}

TEST(registry, points_that_fire_together_go_out_in_one_message) {
  rig r;
  fake_signal a, b, c;
  a.value = 1.5;
  b.value = 2.5;
  c.value = 3.5;
  report_policy p = every(1000);
  p.delta = 1;
  ASSERT_TRUE(r.reg.add_time_series("a", point_type::real, getter(a), p).ok());
  ASSERT_TRUE(r.reg.add_time_series("b", point_type::real, getter(b), p).ok());
  ASSERT_TRUE(r.reg.add_time_series("c", point_type::real, getter(c), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 1700000000000ull);
  ASSERT_EQ(r.telemetry_count(), 1u);
  EXPECT_EQ(r.port.last_payload(), R"({"ts":1700000000000,"values":{"a":1.5,"b":2.5,"c":3.5}})");
  a.value = 5.5;
  c.value = 0.25;
  r.reg.tick(1000, 1700000001000ull);
  ASSERT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"ts":1700000001000,"values":{"a":5.5,"c":0.25}})");
}

TEST(registry, on_change_reports_booleans_and_text_when_they_change) {
  rig r;
  fake_signal door, mode;
  door.value = false;
  mode.value = "eco";
  report_policy p = every(100);
  p.on_change = true;
  ASSERT_TRUE(r.reg.add_time_series("door", point_type::boolean, getter(door), p).ok());
  ASSERT_TRUE(r.reg.add_time_series("mode", point_type::text, getter(mode), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  r.reg.tick(100, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  door.value = true;
  r.reg.tick(200, 0);
  EXPECT_EQ(r.port.last_payload(), R"({"door":true})");
  mode.value = "boost";
  r.reg.tick(300, 0);
  EXPECT_EQ(r.port.last_payload(), R"({"mode":"boost"})");
  EXPECT_EQ(r.telemetry_count(), 3u);
}

// ==== bad input ==================================================================================

TEST(registry, nan_and_infinity_are_reported_and_skipped) {
  rig r;
  fake_signal t;
  t.value = 20.5;
  report_policy p = every(100);
  p.delta = 1;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  t.value = std::numeric_limits<double>::quiet_NaN();
  r.reg.tick(100, 0);
  EXPECT_EQ(r.errors.last, errc::invalid_argument);
  EXPECT_EQ(r.errors.key_view(), "t");
  t.value = std::numeric_limits<double>::infinity();
  r.reg.tick(200, 0);
  EXPECT_EQ(r.errors.count, 2u);
  EXPECT_EQ(r.telemetry_count(), 1u);
  t.value = 25.5;  // the baseline is still the last good upload
  r.reg.tick(300, 0);
  EXPECT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"t":25.5})");
}

TEST(registry, a_value_of_another_type_is_reported_and_skipped) {
  rig r;
  fake_signal t;
  t.value = 20;  // an integer for a real point is widened
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), every(100)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  EXPECT_EQ(r.errors.count, 0u);
  t.value = "hot";
  r.reg.tick(100, 0);
  EXPECT_EQ(r.telemetry_count(), 1u);
  EXPECT_EQ(r.errors.last, errc::wrong_type);
  t.value = point_value::json("{bad");
  fake_signal j;
  j.value = point_value::json("{bad");
  ASSERT_TRUE(r.reg.add_time_series("j", point_type::json, getter(j), every(100)).ok());
  r.reg.tick(200, 0);
  EXPECT_EQ(r.errors.last, errc::invalid_argument);
  EXPECT_EQ(r.errors.key_view(), "j");
}

TEST(registry, a_failing_get_skips_the_sample_and_other_points_still_go) {
  rig r;
  fake_signal a, b;
  a.value = 1.5;
  b.value = 2.5;
  ASSERT_TRUE(r.reg.add_time_series("a", point_type::real, getter(a), every(100)).ok());
  ASSERT_TRUE(r.reg.add_time_series("b", point_type::real, getter(b), every(100)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  a.fail = errc::timeout;
  r.reg.tick(0, 0);
  EXPECT_EQ(r.port.last_payload(), R"({"b":2.5})");
  EXPECT_EQ(r.errors.last, errc::timeout);
  EXPECT_EQ(r.errors.key_view(), "a");
}

TEST(registry, a_failed_publish_is_retried_at_the_next_sample) {
  rig r;
  fake_signal t;
  t.value = 20.5;
  report_policy p = every(100);
  p.max = 30;
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  t.value = 31.5;
  r.port.fail_next_publish(errc::again);
  r.reg.tick(100, 0);
  EXPECT_EQ(r.errors.last, errc::again);
  EXPECT_EQ(r.errors.key_view(), "telemetry");
  EXPECT_EQ(r.telemetry_count(), 1u);
  r.reg.tick(200, 0);
  ASSERT_EQ(r.telemetry_count(), 2u);
  EXPECT_EQ(r.port.last_payload(), R"({"t":31.5})");
}

// ==== attributes =================================================================================

TEST(registry, client_attributes_upload_together) {
  rig r;
  fake_signal fw, serial;
  fw.value = "1.2.0";
  serial.value = 42;
  ASSERT_TRUE(r.reg.add_client_attribute("fw", point_type::text, getter(fw)).ok());
  ASSERT_TRUE(r.reg.add_client_attribute("serial", point_type::integer, getter(serial)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  ASSERT_TRUE(r.reg.upload_client_attributes().ok());
  EXPECT_EQ(r.port.last_topic(), attributes_topic);
  EXPECT_EQ(r.port.last_payload(), R"({"fw":"1.2.0","serial":42})");
}

TEST(registry, client_attributes_are_initialized_from_the_server_once) {
  rig r;
  fake_signal mode_get, limit_get, fw_get;
  sink mode_set, limit_set;
  mode_get.value = "eco";
  limit_get.value = 10;
  ASSERT_TRUE(r.reg.add_client_attribute("mode", point_type::text, getter(mode_get), setter(mode_set)).ok());
  ASSERT_TRUE(r.reg.add_client_attribute("limit", point_type::integer, getter(limit_get), setter(limit_set)).ok());
  r.reg.init_client_attributes_from_server(true);
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  ASSERT_LT(last_request(r), tbmqtt_test::max_records);
  EXPECT_EQ(r.port.payload(last_request(r)), R"({"clientKeys":"mode,limit"})");
  answer(r, R"({"client":{"mode":"bo\"ost","limit":25}})");
  EXPECT_EQ(mode_set.calls, 1u);
  EXPECT_EQ(mode_set.text_view(), "bo\"ost");
  ASSERT_EQ(limit_set.calls, 1u);
  EXPECT_EQ(limit_set.last.as_int(), 25);
  EXPECT_EQ(r.events.foreign_responses, 0u);
  // Not again after a reconnect.
  const std::size_t before = r.port.publish_count;
  r.s.on_disconnected();
  connect(r);
  r.reg.tick(10, 0);
  EXPECT_EQ(r.port.publish_count, before);
}

TEST(registry, shared_attributes_are_subscribed_requested_on_every_connect_and_set) {
  rig r;
  sink target, name;
  ASSERT_TRUE(r.reg.add_shared_attribute("target", point_type::real, setter(target)).ok());
  ASSERT_TRUE(r.reg.add_shared_attribute("name", point_type::text, setter(name)).ok());
  r.reg.set_remote_tuning(false);
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic), 1u);
  r.reg.tick(0, 0);
  EXPECT_EQ(r.port.payload(last_request(r)), R"({"sharedKeys":"target,name"})");
  answer(r, R"({"shared":{"target":21.5}})");
  ASSERT_EQ(target.calls, 1u);
  EXPECT_DOUBLE_EQ(target.last.as_double(), 21.5);
  EXPECT_EQ(name.calls, 0u);  // never set on the server

  push(r, R"({"target":22,"other":1})");
  ASSERT_EQ(target.calls, 2u);
  EXPECT_DOUBLE_EQ(target.last.as_double(), 22.0);
  push(r, R"({"name":"kitchen"})");
  EXPECT_EQ(name.text_view(), "kitchen");

  push(r, R"({"deleted":["target"]})");
  ASSERT_EQ(target.calls, 3u);
  EXPECT_TRUE(target.last.empty());

  // Reconnect: requested again; a known key missing from the answer was deleted offline.
  r.s.on_disconnected();
  connect(r);
  const std::size_t before = last_request(r);
  r.reg.tick(100, 0);
  EXPECT_NE(last_request(r), before);
  answer(r, R"({"shared":{"target":23}})");
  EXPECT_EQ(target.calls, 4u);
  EXPECT_EQ(name.calls, 2u);
  EXPECT_TRUE(name.last.empty());
}

TEST(registry, a_shared_attribute_of_the_wrong_type_is_reported) {
  rig r;
  sink on;
  ASSERT_TRUE(r.reg.add_shared_attribute("on", point_type::boolean, setter(on)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  push(r, R"({"on":"yes"})");
  EXPECT_EQ(on.calls, 0u);
  EXPECT_EQ(r.errors.last, errc::wrong_type);
  EXPECT_EQ(r.errors.key_view(), "on");
}

TEST(registry, a_foreign_attribute_response_is_not_claimed) {
  rig r;
  sink s;
  ASSERT_TRUE(r.reg.add_shared_attribute("a", point_type::integer, setter(s)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  ASSERT_TRUE(r.s.request_attributes("x", "", 0).ok());  // the app's own request
  answer(r, R"({"client":{"x":1}})");
  EXPECT_EQ(r.events.foreign_responses, 1u);
}

TEST(registry, a_timed_out_request_is_sent_again) {
  rig r;
  sink s;
  ASSERT_TRUE(r.reg.add_shared_attribute("a", point_type::integer, setter(s)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  const std::size_t first = last_request(r);
  r.s.tick(20000);  // the session times the request out
  EXPECT_EQ(r.errors.last, errc::timeout);
  r.reg.tick(20000, 0);
  EXPECT_NE(last_request(r), first);
}

// ==== remote tuning ==============================================================================

TEST(registry, thresholds_come_from_the_rbe_shared_attribute) {
  rig r;
  fake_signal t;
  t.value = 20.5;
  report_policy p = every(1000);
  p.delta = 5;
  ASSERT_TRUE(r.reg.add_time_series("temp", point_type::real, getter(t), p).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  r.reg.tick(0, 0);
  EXPECT_EQ(r.port.payload(last_request(r)), R"({"sharedKeys":"rbe_temp"})");
  answer(r, R"({"shared":{"rbe_temp":{"max":25,"delta":null,"maxIntervalMs":3000}}})");
  const report_policy* now = r.reg.policy("temp");
  ASSERT_TRUE(now != nullptr);
  EXPECT_DOUBLE_EQ(now->max, 25.0);
  EXPECT_TRUE(std::isnan(now->delta));
  EXPECT_EQ(now->max_interval_ms, 3000u);
  EXPECT_EQ(now->period_ms, 1000u);  // kept from the registration

  t.value = 25.5;  // over the remote max
  r.reg.tick(1000, 0);
  EXPECT_EQ(r.telemetry_count(), 2u);

  push(r, R"({"rbe_temp":{"periodMs":"fast"}})");
  EXPECT_EQ(r.errors.last, errc::wrong_type);
  EXPECT_DOUBLE_EQ(r.reg.policy("temp")->max, 25.0);  // unchanged

  push(r, R"({"deleted":["rbe_temp"]})");
  EXPECT_TRUE(std::isnan(r.reg.policy("temp")->max));
  EXPECT_DOUBLE_EQ(r.reg.policy("temp")->delta, 5.0);
}

// ==== wiring (session extension) ==================================================================

TEST(registry, attach_is_once_per_session_and_another_session_is_refused) {
  rig r;
  sink s;
  ASSERT_TRUE(r.reg.add_shared_attribute("a", point_type::integer, setter(s)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  EXPECT_TRUE(r.reg.attach(r.s).ok());  // no-op: still one extension
  tbmqtt_test::fake_transport other_port;
  app_events other_events;
  tbmqtt::session other{other_port, other_events};
  EXPECT_EQ(r.reg.attach(other).error(), errc::invalid_argument);
  connect(r);
  push(r, R"({"a":1})");
  EXPECT_EQ(s.calls, 1u);  // once: attached once
  // After detach it can move to another session.
  r.reg.detach();
  EXPECT_TRUE(r.reg.attach(other).ok());
  r.reg.detach();
}

TEST(registry, the_app_keeps_its_own_shared_attribute_subscription_indices) {
  rig r;
  sink s;
  ASSERT_TRUE(r.reg.add_shared_attribute("a", point_type::integer, setter(s)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  auto index = r.s.subscribe_shared_attributes("b");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 0u);  // the registry took no subscription index
  connect(r);
  EXPECT_EQ(r.port.subscribe_times(attributes_topic), 1u);
  push(r, R"({"a":2})");
  EXPECT_EQ(s.calls, 1u);
  EXPECT_EQ(r.events.shared_updates, 0u);  // not the app's key
  push(r, R"({"b":3})");
  EXPECT_EQ(r.events.shared_updates, 1u);
  EXPECT_EQ(r.events.last_subscription, 0u);
}

TEST(registry, a_detached_registry_no_longer_sees_the_session) {
  rig r;
  sink s;
  fake_signal t;
  ASSERT_TRUE(r.reg.add_shared_attribute("a", point_type::integer, setter(s)).ok());
  ASSERT_TRUE(r.reg.add_time_series("t", point_type::real, getter(t)).ok());
  ASSERT_TRUE(r.reg.attach(r.s).ok());
  connect(r);
  push(r, R"({"a":1})");
  EXPECT_EQ(s.calls, 1u);
  r.reg.detach();
  r.reg.detach();  // no-op
  push(r, R"({"a":2})");
  EXPECT_EQ(s.calls, 1u);
  const std::size_t before = r.port.publish_count;
  r.s.on_disconnected();
  connect(r);
  r.reg.tick(0, 0);
  EXPECT_EQ(r.port.publish_count, before);  // no request: not attached
  EXPECT_EQ(r.reg.upload_time_series(0, 0).error(), errc::not_open);
}
