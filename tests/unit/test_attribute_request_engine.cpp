// Tests of src/core/attribute_request_engine.cpp: attribute requests and their answers.
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

// ==== attribute requests ===========================================================================

TEST(attribute_request_engine, request_attributes_sends_both_key_lists) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a,b", "c", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  EXPECT_EQ(r.port.last_topic(), with_number(topic, "v1/devices/me/attributes/request/", *id));
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"clientKeys":"a,b","sharedKeys":"c"})"));
  EXPECT_EQ(r.port.publishes[0].q, qos::at_least_once);
  EXPECT_EQ(r.s.pending_requests(), 1u);
}

TEST(attribute_request_engine, request_attributes_leaves_out_empty_key_lists) {
  rig r;
  connect(r);
  ASSERT_TRUE(r.s.request_attributes("a", "", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"clientKeys":"a"})"));
  ASSERT_TRUE(r.s.request_attributes("", "fw_version,fw_title", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view(R"({"sharedKeys":"fw_version,fw_title"})"));
  ASSERT_TRUE(r.s.request_attributes("", "", 0).ok());
  EXPECT_EQ(r.port.last_payload(), std::string_view("{}"));
  EXPECT_EQ(r.s.pending_requests(), 3u);
}

TEST(attribute_request_engine, request_attributes_while_disconnected_reports_not_connected) {
  rig r;
  EXPECT_EQ(r.s.request_attributes("a", "", 0).error(), errc::not_connected);
  EXPECT_EQ(r.s.pending_requests(), 0u);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(attribute_request_engine, requests_too_large_to_encode_report_not_enough_space_and_free_their_slot) {
  rig r;
  connect(r);
  char keys[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  for (char& c : keys) c = 'k';
  const std::string_view long_keys(keys, sizeof keys);
  EXPECT_EQ(r.s.request_attributes(long_keys, "", 0).error(), errc::not_enough_space);
  EXPECT_EQ(r.s.request_attributes("", long_keys, 0).error(), errc::not_enough_space);
  char params[TBMQTT_REQUEST_PAYLOAD_CAPACITY];
  for (char& c : params) c = ' ';
  params[0] = '"';
  params[sizeof params - 1] = '"';
  const std::string_view long_params(params, sizeof params);
  EXPECT_EQ(r.s.call_rpc("m", long_params, 0).error(), errc::not_enough_space);
  EXPECT_EQ(r.s.notify_rpc("m", long_params).error(), errc::not_enough_space);
  EXPECT_EQ(r.port.publish_attempts, 0u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(attribute_request_engine, request_attributes_uses_fresh_ids) {
  rig r;
  connect(r);
  auto a = r.s.request_attributes("a", "", 0);
  auto b = r.s.request_attributes("b", "", 0);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, 0u);
  EXPECT_NE(*b, 0u);
}

TEST(attribute_request_engine, dispatches_an_attribute_response_with_client_and_shared_sections) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a", "fw_version", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *id), R"({"client":{"a":1},"shared":{"fw_version":"1.2"}})");
  const event_record* e = r.events.find(event_kind::attributes_response);
  ASSERT_TRUE(e != nullptr);
  EXPECT_EQ(e->number, *id);
  EXPECT_EQ(e->e, errc{});
  EXPECT_EQ(e->first_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->first.view(), std::string_view(R"({"a":1})"));
  EXPECT_EQ(e->second_kind, tbmqtt::json::kind::object);
  EXPECT_EQ(e->second.view(), std::string_view(R"({"fw_version":"1.2"})"));
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(attribute_request_engine, attribute_response_leaves_missing_sections_absent) {
  rig r;
  connect(r);
  auto shared_only = r.s.request_attributes("", "k", 0);
  auto nothing = r.s.request_attributes("x", "", 0);
  ASSERT_TRUE(shared_only.ok());
  ASSERT_TRUE(nothing.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *shared_only), R"({"shared":{"k":true}})");
  deliver(r, attr_response_topic(topic, *nothing), "{}");
  const event_record* a = r.events.find(event_kind::attributes_response, 0);
  const event_record* b = r.events.find(event_kind::attributes_response, 1);
  ASSERT_TRUE(a != nullptr);
  ASSERT_TRUE(b != nullptr);
  EXPECT_EQ(a->number, *shared_only);
  EXPECT_EQ(a->e, errc{});
  EXPECT_EQ(a->first_kind, tbmqtt::json::kind::absent);
  EXPECT_EQ(a->second.view(), std::string_view(R"({"k":true})"));
  EXPECT_EQ(b->number, *nothing);
  EXPECT_EQ(b->e, errc{});
  EXPECT_EQ(b->first_kind, tbmqtt::json::kind::absent);
  EXPECT_EQ(b->second_kind, tbmqtt::json::kind::absent);
}

TEST(attribute_request_engine, malformed_attribute_response_reaches_the_requester_as_malformed) {
  rig r;
  connect(r);
  const std::string_view bad[] = {
      "{", "[]", "42", R"({"client":[1]})", R"({"shared":"x"})", R"({"client":{},"shared":null})"};
  char topic[96];
  std::size_t n = 0;
  for (std::string_view payload : bad) {
    auto id = r.s.request_attributes("a", "", 0);
    ASSERT_TRUE(id.ok());
    r.events.reset();
    deliver(r, attr_response_topic(topic, *id), payload);
    ASSERT_EQ(r.events.event_count, 1u);
    const event_record* e = r.events.last();
    EXPECT_EQ(e->kind, event_kind::attributes_response);
    EXPECT_EQ(e->number, *id);
    EXPECT_EQ(e->e, errc::malformed);
    EXPECT_EQ(e->first_kind, tbmqtt::json::kind::absent);
    EXPECT_EQ(e->second_kind, tbmqtt::json::kind::absent);
    ++n;
  }
  EXPECT_EQ(n, 6u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(attribute_request_engine, attribute_response_with_an_unknown_id_reports_unknown_request) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a", "", 0);
  ASSERT_TRUE(id.ok());
  r.events.reset();
  char topic[96];
  deliver(r, attr_response_topic(topic, *id + 100), R"({"client":{"a":1}})");
  EXPECT_EQ(r.events.event_count, 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
  EXPECT_EQ(r.s.pending_requests(), 1u);
}

TEST(attribute_request_engine, attribute_response_does_not_complete_an_rpc_with_the_same_id) {
  rig r;
  connect(r);
  auto rpc = r.s.call_rpc("m", "", 0);
  ASSERT_TRUE(rpc.ok());
  r.events.reset();
  char topic[96];
  deliver(r, attr_response_topic(topic, *rpc), "{}");
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
  EXPECT_EQ(r.s.pending_requests(), 1u);
  r.events.reset();
  deliver(r, rpc_response_topic(topic, *rpc), R"({"ok":1})");
  EXPECT_EQ(r.events.count(event_kind::rpc_response), 1u);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(attribute_request_engine, a_second_response_to_the_same_request_is_unknown) {
  rig r;
  connect(r);
  auto id = r.s.request_attributes("a", "", 0);
  ASSERT_TRUE(id.ok());
  char topic[96];
  deliver(r, attr_response_topic(topic, *id), "{}");
  deliver(r, attr_response_topic(topic, *id), "{}");
  EXPECT_EQ(r.events.count(event_kind::attributes_response), 1u);
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_request));
}

TEST(attribute_request_engine, response_topic_with_a_bad_id_reports_malformed_with_the_topic) {
  rig r;
  connect(r);
  deliver(r, "v1/devices/me/attributes/response/abc", "{}");
  const event_record* e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::malformed));
  EXPECT_EQ(e->first.view(), std::string_view("v1/devices/me/attributes/response/abc"));
  deliver(r, "v1/devices/me/rpc/response/-1", "{}");
  e = r.events.last();
  ASSERT_TRUE(is_error(e, errc::malformed));
  EXPECT_EQ(e->first.view(), std::string_view("v1/devices/me/rpc/response/-1"));
}
