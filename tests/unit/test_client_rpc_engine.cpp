// Tests of src/core/client_rpc_engine.cpp: client-side RPC calls and their answers.
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

// ==== client-side RPC ==============================================================================

TEST(client_rpc_engine, call_rpc_sends_method_and_empty_params) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("getTime", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  EXPECT_EQ(r.port.last_topic(), rpc_request_topic(topic, *id));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"getTime","params":{}})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
  EXPECT_EQ(r.s.pending_requests(), 1u);
}

TEST(client_rpc_engine, call_rpc_passes_params_through) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.call_rpc("set", R"({"pin":4,"on":true})", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"set","params":{"pin":4,"on":true}})"));
  ASSERT_TRUE(r.s.call_rpc("list", "[1,2]", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"list","params":[1,2]})"));
  ASSERT_TRUE(r.s.call_rpc("q\"t", "7", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"q\"t","params":7})"));
}

TEST(client_rpc_engine, call_rpc_rejects_invalid_params_without_publishing) {
  rig r;
  connect(r);
  EXPECT_EQ(r.s.call_rpc("m", "{bad", 0).error(), errc::invalid_argument);
  EXPECT_EQ(r.s.call_rpc("m", "1 2", 0).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(client_rpc_engine, call_rpc_while_disconnected_reports_not_connected) {
  rig r;
  EXPECT_EQ(r.s.call_rpc("m", "", 0).error(), errc::not_connected);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(client_rpc_engine, call_rpc_delivers_the_servers_answer) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("getTime", "", 0);
  ASSERT_TRUE(id.ok());
  r.events.reset();
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"time":1700000000000})");
  ASSERT_EQ(r.events.event_count, 1u);
  const event_record* e = r.events.last();
  EXPECT_EQ(e->kind, event_kind::rpc_response);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc{});
  EXPECT_EQ(e->first_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->first.view(), std::string_view(R"({"time":1700000000000})"));
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(client_rpc_engine, call_rpc_reports_an_error_reply_as_server_error) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"error":"x"})");
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc::server_error);
  EXPECT_EQ(e->first.view(), std::string_view(R"({"error":"x"})"));
}

TEST(client_rpc_engine, call_rpc_treats_a_reply_with_more_than_an_error_member_as_an_answer) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"error":"none","value":3})");
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->e, errc{});
  EXPECT_EQ(e->first.view(), std::string_view(R"({"error":"none","value":3})"));
}

TEST(client_rpc_engine, call_rpc_reports_a_malformed_reply_as_malformed) {
  rig r;
  connect(r);
  auto id = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, rpc_response_topic(topic, *id), R"({"time":)");
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc::malformed);
  EXPECT_EQ(e->first_kind, tbmqtt::json::kind::absent);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(client_rpc_engine, call_rpc_times_out) {
  tbmqtt::session_config config;
  config.request_timeout_ms = 250;
  rig r(config);
  connect(r);
  auto id = r.s.call_rpc("m", "", 1000);
  ASSERT_TRUE(id.ok());
  r.s.tick(1249);
  EXPECT_EQ(r.events.count(event_kind::rpc_response), 0u);
  r.s.tick(1250);
  const event_record* e = r.events.find(event_kind::rpc_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc::timeout);
}

TEST(client_rpc_engine, rpc_response_with_an_unknown_id_reports_unknown_request) {
  rig r;
  connect(r);
  r.events.reset();
  deliver(r, "v1/devices/me/rpc/response/4242", "{}");
  ASSERT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
}

TEST(client_rpc_engine, notify_rpc_publishes_without_waiting_for_an_answer) {
  rig r;
  connect(r);
  auto msg = r.s.notify_rpc("log", R"({"line":"hi"})");
  ASSERT_TRUE(msg.ok());
  EXPECT_TRUE(acknowledged_as(r, r.port.publishes[0].id, *msg));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"log","params":{"line":"hi"}})"));
  const std::string_view topic = r.port.last_topic();
  auto id = tbmqtt::topics::parse_decimal(part(topic, 26));
  EXPECT_EQ(part(topic, 0, 26), std::string_view("v1/devices/me/rpc/request/"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(r.s.pending_requests(), 0u);
  ASSERT_TRUE(r.s.notify_rpc("ping", "").ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"method":"ping","params":{}})"));
  EXPECT_NE(r.port.last_topic(), r.port.topic(0));  // a fresh id each time
  EXPECT_EQ(r.s.notify_rpc("m", "{x").error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_count, 2u);
  // Its id is not confused with a pending call.
  auto call = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(call.ok());
  EXPECT_NE(*call, *id);
}
