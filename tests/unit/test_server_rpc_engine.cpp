// Tests of src/core/server_rpc_engine.cpp: server-side RPC requests and replies.
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

// ==== server-side RPC ==============================================================================

TEST(server_rpc_engine, registered_method_reaches_on_rpc_request_with_id_method_and_params) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("setGpio").ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/17", R"({"method":"setGpio","params":{"pin":4}})");
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_request);
  EXPECT_EQ(e->first.view(), std::string_view("17"));
  EXPECT_EQ(e->second.view(), std::string_view("setGpio"));
  EXPECT_EQ(e->third_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->third.view(), std::string_view(R"({"pin":4})"));
  EXPECT_EQ(r.port.publish_count, 0u);  // the app answers
}

TEST(server_rpc_engine, rpc_request_without_params_has_absent_params) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("reboot").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"reboot"})");
  const event_record* e = r.events.find(event_kind::rpc_request);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->second.view(), std::string_view("reboot"));
  EXPECT_EQ(e->third_kind, tbmqtt::json::kind::absent);
}

TEST(server_rpc_engine, unregistered_method_is_answered_with_an_error_reply) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("known").ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/9", R"({"method":"m","params":{}})");
  ASSERT_EQ(r.port.publish_count, 1u);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/9"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"unknown method: m"})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::unknown_method));
  EXPECT_EQ(e->first.view(), std::string_view("m"));
  // Nothing is kept open for it.
  EXPECT_EQ(r.s.reply_rpc("9", "{}").error(), errc::unknown_request);
}

TEST(server_rpc_engine, unknown_method_error_reply_escapes_the_method_name) {
  rig r;
  r.s.set_rpc_fallback(false);
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/3", R"({"method":"a\"b\u00e9"})");
  EXPECT_EQ(r.port.last_payload(), std::string_view("{\"error\":\"unknown method: a\\\"b\xc3\xa9\"}"));
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_method));
  EXPECT_EQ(r.events.last()->first.view(), std::string_view("a\"b\xc3\xa9"));
}

TEST(server_rpc_engine, fallback_sends_every_method_to_on_rpc_request) {
  rig r;
  r.s.set_rpc_fallback(true);
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/5", R"({"method":"anything","params":[1]})");
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_request);
  EXPECT_EQ(e->first.view(), std::string_view("5"));
  EXPECT_EQ(e->second.view(), std::string_view("anything"));
  EXPECT_EQ(e->third.view(), std::string_view("[1]"));
  EXPECT_EQ(r.port.publish_count, 0u);
  // Turned off again: unknown methods get the error reply.
  r.s.set_rpc_fallback(false);
  deliver(r, "v1/devices/me/rpc/request/6", R"({"method":"anything"})");
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"unknown method: anything"})"));
}

TEST(server_rpc_engine, malformed_rpc_request_gets_an_error_reply_and_on_error) {
  rig r;
  r.s.set_rpc_fallback(true);
  connect(r);
  const std::string_view bad[] = {"{", "[]", R"({"params":{}})", R"({"method":5})", ""};
  std::size_t i = 0;
  for (std::string_view payload : bad) {
    r.events.reset();
    const std::size_t published = r.port.publish_count;
    deliver(r, "v1/devices/me/rpc/request/8", payload);
    ASSERT_EQ(r.events.event_count, 1u);
    EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
    ASSERT_EQ(r.port.publish_count, published + 1);
    EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/8"));
    EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"malformed request"})"));
    ++i;
  }
  EXPECT_EQ(i, 5u);
  EXPECT_EQ(r.s.reply_rpc("8", "{}").error(), errc::unknown_request);
}

TEST(server_rpc_engine, rpc_request_topic_with_a_bad_id_reports_malformed) {
  rig r;
  r.s.set_rpc_fallback(true);
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/", R"({"method":"m"})");
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  deliver(r, "v1/devices/me/rpc/request/01234567890123456789", R"({"method":"m"})");
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 0u);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(server_rpc_engine, reply_rpc_answers_on_the_response_topic) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/abc", R"({"method":"get"})");
  auto id = r.s.reply_rpc("abc", R"({"value":42})");
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(acknowledged_as(r, r.port.publishes[0].id, *id));
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/abc"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"value":42})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
}

TEST(server_rpc_engine, reply_rpc_to_an_unknown_id_reports_unknown_request) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  EXPECT_EQ(r.s.reply_rpc("1", "{}").error(), errc::unknown_request);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"get"})");
  EXPECT_EQ(r.s.reply_rpc("2", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.s.reply_rpc("", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.s.reply_rpc("11", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(server_rpc_engine, reply_rpc_twice_reports_unknown_request_the_second_time) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  EXPECT_TRUE(r.s.reply_rpc("4", "1").ok());
  EXPECT_EQ(r.s.reply_rpc("4", "2").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(server_rpc_engine, reply_rpc_after_disconnect_reports_unknown_request) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  r.s.on_disconnected();
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::unknown_request);
  connect(r);
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(server_rpc_engine, reply_rpc_later_after_other_traffic_works) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("slow").ok());
  ASSERT_TRUE(r.s.add_rpc_method("fast").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/100", R"({"method":"slow"})", 0);
  deliver(r, "v1/devices/me/rpc/request/101", R"({"method":"fast"})", 10);
  ASSERT_TRUE(r.s.reply_rpc("101", "{}").ok());
  ASSERT_TRUE(r.s.publish_telemetry(R"({"t":1})", qos::at_least_once).ok());
  auto req = r.s.request_attributes("a", "", 20);
  ASSERT_TRUE(req.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *req), "{}", 30);
  deliver(r, "v1/devices/me/rpc/request/102", R"({"method":"unknown"})", 40);
  r.s.tick(50000);
  auto id = r.s.reply_rpc("100", R"({"done":true})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/100"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"done":true})"));
}

TEST(server_rpc_engine, reply_rpc_rejects_invalid_json_and_keeps_the_request_open) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  EXPECT_EQ(r.s.reply_rpc("4", "{oops").error(), errc::invalid_argument);
  EXPECT_EQ(r.s.reply_rpc("4", "").error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_TRUE(r.s.reply_rpc("4", R"("ok")").ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"("ok")"));
}

TEST(server_rpc_engine, reply_rpc_failing_to_publish_keeps_the_request_open) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/4", R"({"method":"get"})");
  r.port.fail_next_publish(errc::again);
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::again);
  r.s.set_max_payload(1);
  EXPECT_EQ(r.s.reply_rpc("4", "{}").error(), errc::payload_too_large);
  r.s.set_max_payload(100);
  EXPECT_TRUE(r.s.reply_rpc("4", "{}").ok());
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(server_rpc_engine, open_server_rpc_expires_after_its_ttl) {
  tbmqtt::session_config config;
  config.server_rpc_ttl_ms = 1000;
  rig r(config);
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"get"})", 5000);
  deliver(r, "v1/devices/me/rpc/request/2", R"({"method":"get"})", 5000);
  r.s.tick(5999);
  EXPECT_TRUE(r.s.reply_rpc("1", "{}").ok());
  r.s.tick(6000);
  EXPECT_EQ(r.s.reply_rpc("2", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 1u);
}

TEST(server_rpc_engine, open_server_rpc_ttl_survives_the_clock_wrap) {
  tbmqtt::session_config config;
  config.server_rpc_ttl_ms = 1000;
  rig r(config);
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/1", R"({"method":"get"})", 0xFFFFFE00u);  // expires at 488
  deliver(r, "v1/devices/me/rpc/request/2", R"({"method":"get"})", 0xFFFFFE00u);
  r.s.tick(0xFFFFFFFFu);
  r.s.tick(487);
  EXPECT_TRUE(r.s.reply_rpc("1", "{}").ok());
  r.s.tick(488);
  EXPECT_EQ(r.s.reply_rpc("2", "{}").error(), errc::unknown_request);
}

TEST(server_rpc_engine, resent_rpc_with_the_same_id_reuses_its_slot_and_refreshes_its_ttl) {
  tbmqtt::session_config config;
  config.server_rpc_ttl_ms = 1000;
  rig r(config);
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  char topic[96];
  // Fill every slot but one, then receive id 500 twice.
  for (std::uint32_t i = 0; i + 1 < TBMQTT_MAX_OPEN_SERVER_RPCS; ++i)
    deliver(r, rpc_request_topic(topic, i), R"({"method":"get"})", 0);
  deliver(r, "v1/devices/me/rpc/request/500", R"({"method":"get"})", 0);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/500", R"({"method":"get"})", 800);
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);  // not "busy"
  EXPECT_EQ(r.port.publish_count, 0u);
  r.s.tick(1000);  // the others expire; 500 was refreshed until 1800
  EXPECT_EQ(r.s.reply_rpc("0", "{}").error(), errc::unknown_request);
  EXPECT_TRUE(r.s.reply_rpc("500", "{}").ok());
  EXPECT_EQ(r.s.reply_rpc("500", "{}").error(), errc::unknown_request);  // only one entry was kept
}

TEST(server_rpc_engine, resent_rpc_with_the_same_id_keeps_a_single_open_entry) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  deliver(r, "v1/devices/me/rpc/request/7", R"({"method":"get"})", 0);
  deliver(r, "v1/devices/me/rpc/request/7", R"({"method":"get"})", 10);
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 2u);
  EXPECT_TRUE(r.s.reply_rpc("7", "{}").ok());
  EXPECT_EQ(r.s.reply_rpc("7", "{}").error(), errc::unknown_request);
  EXPECT_EQ(r.port.publish_count, 1u);
}

namespace {
// Answers every server RPC from inside on_rpc_request, as many apps do.
class replying_events final : public tbmqtt::session_events {
 public:
  void on_rpc_request(const tbmqtt::rpc_request& request) noexcept override {
    ++requests;
    if (s != nullptr) result = s->reply_rpc(request.id, R"({"echo":true})").error();
  }
  tbmqtt::session* s = nullptr;
  int requests = 0;
  errc result = errc::cancelled;
};
}  // namespace

TEST(server_rpc_engine, reply_rpc_works_from_inside_on_rpc_request) {
  tbmqtt_test::fake_transport port;
  replying_events events;
  tbmqtt::session s(port, events);
  events.s = &s;
  s.set_rpc_fallback(true);
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, granted_qos1);
  s.on_message("v1/devices/me/rpc/request/21", bytes(R"({"method":"echo"})"), 0);
  EXPECT_EQ(events.requests, 1);
  EXPECT_EQ(events.result, errc{});
  ASSERT_EQ(port.publish_count, 1u);
  EXPECT_EQ(port.last_topic(), std::string_view("v1/devices/me/rpc/response/21"));
  EXPECT_EQ(port.last_payload(), std::string_view(R"({"echo":true})"));
  EXPECT_EQ(s.reply_rpc("21", "{}").error(), errc::unknown_request);
}

TEST(server_rpc_engine, too_many_open_server_rpcs_get_a_busy_error_reply) {
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method("get").ok());
  connect(r);
  char topic[96];
  for (std::uint32_t i = 0; i < TBMQTT_MAX_OPEN_SERVER_RPCS; ++i)
    deliver(r, rpc_request_topic(topic, i), R"({"method":"get"})", 0);
  EXPECT_EQ(r.port.publish_count, 0u);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/999", R"({"method":"get"})", 0);
  ASSERT_EQ(r.port.publish_count, 1u);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/999"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"device busy: get"})"));
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::queue_full));
  EXPECT_EQ(r.s.reply_rpc("999", "{}").error(), errc::unknown_request);
  // Answering one frees a slot.
  ASSERT_TRUE(r.s.reply_rpc("3", "{}").ok());
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/1000", R"({"method":"get"})", 0);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);
  EXPECT_TRUE(r.s.reply_rpc("1000", "{}").ok());
}

TEST(server_rpc_engine, registered_method_with_a_long_name_reaches_on_rpc_request) {
  // 80 characters: longer than any internal scratch buffer should matter for a registered name.
  constexpr std::string_view name =
      "a_method_name_that_is_quite_long_because_it_describes_what_it_does_in_great_detail";
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method(name).ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/1",
          R"({"method":"a_method_name_that_is_quite_long_because_it_describes_what_it_does_in_great_detail"})");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);
  EXPECT_EQ(r.events.last()->second.view(), name);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(server_rpc_engine, registered_method_with_a_long_escaped_name_reaches_on_rpc_request) {
  constexpr std::string_view name = "a_method_name_that_is_quite_long_because_it_says_\"what\"_it_does_in_detail";
  rig r;
  ASSERT_TRUE(r.s.add_rpc_method(name).ok());
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/request/1",
          R"({"method":"a_method_name_that_is_quite_long_because_it_says_\"what\"_it_does_in_detail"})");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_EQ(r.events.last()->kind, event_kind::rpc_request);
  EXPECT_EQ(r.events.last()->second.view(), name);
  EXPECT_EQ(r.port.publish_count, 0u);
}

TEST(server_rpc_engine, add_rpc_method_reports_queue_full_beyond_the_method_table) {
  rig r;
  static const char* const names[] = {"m0",  "m1",  "m2",  "m3",  "m4",  "m5",  "m6",  "m7",  "m8",  "m9",  "m10",
                                      "m11", "m12", "m13", "m14", "m15", "m16", "m17", "m18", "m19", "m20", "m21",
                                      "m22", "m23", "m24", "m25", "m26", "m27", "m28", "m29", "m30", "m31"};
  static_assert(TBMQTT_MAX_RPC_METHODS < 32, "extend the name table");
  for (std::size_t i = 0; i < TBMQTT_MAX_RPC_METHODS; ++i) EXPECT_TRUE(r.s.add_rpc_method(names[i]).ok());
  EXPECT_EQ(r.s.add_rpc_method("extra").error(), errc::queue_full);
  EXPECT_TRUE(r.s.add_rpc_method("m0").ok());  // already registered
}

TEST(server_rpc_engine, fallback_reports_queue_full_when_no_subscription_slot_is_left) {
  rig r;
  static const char* const filters[] = {"y/0",  "y/1",  "y/2",  "y/3",  "y/4",  "y/5",  "y/6",  "y/7",
                                        "y/8",  "y/9",  "y/10", "y/11", "y/12", "y/13", "y/14", "y/15",
                                        "y/16", "y/17", "y/18", "y/19", "y/20", "y/21", "y/22", "y/23",
                                        "y/24", "y/25", "y/26", "y/27", "y/28", "y/29", "y/30", "y/31"};
  static_assert(TBMQTT_MAX_SUBSCRIPTIONS - 2 < 32, "extend the filter table");
  for (std::size_t i = 0; i < TBMQTT_MAX_SUBSCRIPTIONS - 2; ++i) ASSERT_TRUE(r.s.add_subscription(filters[i]).ok());
  r.s.set_rpc_fallback(true);
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::queue_full));
  EXPECT_EQ(e->first.view(), rpc_request_filter);
}

TEST(server_rpc_engine, unknown_method_reply_survives_a_long_name_cut_inside_a_utf8_sequence) {
  rig r;
  connect(r);
  // "x" then 100 two-byte characters: the 112 bytes kept after the prefix end mid-character.
  char payload[256] = R"({"method":"x)";
  std::size_t n = std::strlen(payload);
  for (int i = 0; i < 100; ++i) {
    payload[n++] = '\xc3';
    payload[n++] = '\xa9';
  }
  std::memcpy(payload + n, "\"}", 3);
  deliver(r, "v1/devices/me/rpc/request/4", payload);
  EXPECT_EQ(r.port.last_topic(), std::string_view("v1/devices/me/rpc/response/4"));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"error":"unknown method: "})"));
}
