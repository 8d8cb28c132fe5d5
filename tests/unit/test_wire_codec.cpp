// Tests of the session's wire format (tbmqtt/wire_format.hpp, src/core/wire_codec.cpp): every
// engine builds and matches its topics by the configured family (v1, v2, v2/j, v2/p), and with
// protobuf payloads encodes what it sends and decodes what arrives (ThingsBoard's ProtoMqttAdaptor
// messages); payloads that do not decode end in a typed errc and nothing is lost.
// Expected bytes were checked with `protoc --encode` against tests/emulator/proto/*.proto.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "profile_schemas.hpp"
#include "queue_rig.hpp"
#include "session_rig.hpp"
#include "tbmqtt/detail/wire_codec.hpp"
#include "tbmqtt/protobuf.hpp"
#include "tbmqtt/rate_limit.hpp"
#include "tbmqtt/wire_format.hpp"

using namespace std::string_view_literals;
using tbmqtt::errc;
using tbmqtt::qos;
using tbmqtt::topics::topic_style;
using tbmqtt_test::bytes;
using tbmqtt_test::event_kind;
using namespace tbmqtt_test::session_rig;
namespace pb = tbmqtt::protobuf;

using namespace tbmqtt_test::profile;

namespace {

tbmqtt::session_config with(topic_style style, tbmqtt::payload_format payload = tbmqtt::payload_format::json) {
  tbmqtt::session_config c;
  c.wire.topics = style;
  c.wire.payload = payload;
  c.wire.schemas.telemetry = &reading;
  c.wire.schemas.attributes = &sensor_config;
  return c;
}

tbmqtt::session_config protobuf_session() { return with(topic_style::v2, tbmqtt::payload_format::protobuf); }

constexpr topic_style all_styles[] = {topic_style::v1, topic_style::v2, topic_style::v2_json, topic_style::v2_proto};

}  // namespace

// ==== topics by family ===============================================================================

TEST(wire_format, every_engine_uses_the_topics_of_the_configured_family) {
  for (topic_style style : all_styles) {
    const auto payload =
        style == topic_style::v2_proto ? tbmqtt::payload_format::protobuf : tbmqtt::payload_format::json;
    rig r(with(style, payload));
    ASSERT_TRUE(r.s.add_rpc_method("ping").ok());
    ASSERT_TRUE(r.s.subscribe_shared_attributes("").ok());
    connect(r);
    EXPECT_EQ(r.port.subscribe_times(tbmqtt::topics::attribute_response_filter_for(style)), 1u);
    EXPECT_EQ(r.port.subscribe_times(tbmqtt::topics::rpc_response_filter_for(style)), 1u);
    EXPECT_EQ(r.port.subscribe_times(tbmqtt::topics::rpc_request_filter_for(style)), 1u);
    EXPECT_EQ(r.port.subscribe_times(tbmqtt::topics::attributes_topic(style)), 1u);
    EXPECT_EQ(r.port.recorded_subscribes(), 4u);

    ASSERT_TRUE(r.s.publish_telemetry(R"({"temperature":21.5})", qos::at_least_once).ok());
    EXPECT_EQ(r.port.last_topic(), tbmqtt::topics::telemetry_topic(style));
    ASSERT_TRUE(r.s.publish_attributes(R"({"serialNumber":7})", qos::at_least_once).ok());
    EXPECT_EQ(r.port.last_topic(), tbmqtt::topics::attributes_topic(style));
    auto attr = r.s.request_attributes("a", "b", 0);
    ASSERT_TRUE(attr.ok());
    char topic[96];
    auto n = tbmqtt::topics::attribute_request(topic, style, *attr);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(r.port.last_topic(), std::string_view(topic, *n));
    auto call = r.s.call_rpc("getTime", "{}", 0);
    ASSERT_TRUE(call.ok());
    n = tbmqtt::topics::rpc_request(topic, style, *call);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(r.port.last_topic(), std::string_view(topic, *n));
    // v1 topics and the other families are not this session's.
    if (style != topic_style::v1) {
      r.events.reset();
      deliver(r, "v1/devices/me/rpc/request/5", R"({"method":"ping"})");
      EXPECT_TRUE(is_error(r.events.last(), errc::unknown_topic));
    }
  }
}

TEST(wire_format, server_rpc_on_a_v2_family_is_answered_on_the_same_family) {
  for (topic_style style : {topic_style::v2, topic_style::v2_json}) {
    rig r(with(style));
    ASSERT_TRUE(r.s.add_rpc_method("ping").ok());
    connect(r);
    char topic[96];
    std::string_view prefix = style == topic_style::v2 ? "v2/r/req/" : "v2/r/req/j/";
    deliver(r, with_number(topic, prefix, 17), R"({"method":"ping","params":{"a":1}})");
    const auto* req = r.events.find(event_kind::rpc_request);
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(req->first.view(), "17"sv);
    EXPECT_EQ(req->third.view(), R"({"a":1})"sv);
    ASSERT_TRUE(r.s.reply_rpc("17", R"({"pong":true})").ok());
    EXPECT_EQ(r.port.last_topic(), style == topic_style::v2 ? "v2/r/res/17"sv : "v2/r/res/j/17"sv);
    EXPECT_EQ(r.port.last_payload(), R"({"pong":true})"sv);
  }
}

TEST(wire_format, bare_v2_does_not_take_the_j_and_p_families) {
  rig r(with(topic_style::v2));
  ASSERT_TRUE(r.s.add_rpc_method("ping").ok());
  connect(r);
  deliver(r, "v2/r/req/j/3", R"({"method":"ping"})");
  EXPECT_TRUE(is_error(r.events.last(), errc::unknown_topic));
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 0u);
}

TEST(wire_format, an_app_renamed_data_topic_is_kept) {
  auto c = with(topic_style::v2);
  c.telemetry_topic = "custom/t";
  rig r(c);
  connect(r);
  ASSERT_TRUE(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.last_topic(), "custom/t"sv);
  ASSERT_TRUE(r.s.publish_attributes(R"({"a":1})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.last_topic(), "v2/a"sv);
}

TEST(wire_format, protobuf_follows_the_family_and_the_profile) {
  using tbmqtt::payload_format;
  tbmqtt::wire_format w;
  EXPECT_FALSE(w.protobuf());
  w.payload = payload_format::protobuf;
  EXPECT_TRUE(w.protobuf());  // v1 with a PROTOBUF profile
  w.topics = topic_style::v2_json;
  EXPECT_FALSE(w.protobuf());  // /j is always JSON
  w.topics = topic_style::v2_proto;
  w.payload = payload_format::json;
  EXPECT_TRUE(w.protobuf());  // /p is always protobuf
}

// ==== protobuf uplinks ===============================================================================

TEST(wire_format, telemetry_and_attributes_are_encoded_in_the_profile_schemas) {
  rig r(protobuf_session());
  connect(r);
  ASSERT_TRUE(
      r.s.publish_telemetry(R"({"temperature":21.5,"uptimeS":7,"status":"ok","extra":1})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.last_topic(), "v2/t"sv);
  EXPECT_EQ(r.port.last_payload(),
            "\x09\x00\x00\x00\x00\x00\x80"
            "5@\x18\x07\"\x02ok"sv);
  ASSERT_TRUE(r.s.publish_attributes(R"({"firmwareVersion":"1.2","serial_number":300})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.last_topic(), "v2/a"sv);
  EXPECT_EQ(r.port.last_payload(),
            "\x0a\x03"
            "1.2\x10\xac\x02"sv);
}

TEST(wire_format, telemetry_that_does_not_fit_the_schema_is_refused_and_nothing_is_sent) {
  rig r(protobuf_session());
  connect(r);
  // An array has no protobuf form; a string in a number field; a number in a string field.
  EXPECT_EQ(r.s.publish_telemetry(R"([{"temperature":1}])", qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.s.publish_telemetry(R"({"temperature":"warm"})", qos::at_least_once).error(), errc::wrong_type);
  EXPECT_EQ(r.s.publish_telemetry(R"({"status":5})", qos::at_least_once).error(), errc::wrong_type);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(wire_format, telemetry_larger_than_the_protobuf_buffer_is_not_enough_space) {
  rig r(protobuf_session());
  connect(r);
  char json[TBMQTT_PROTOBUF_PAYLOAD_CAPACITY + 64];
  std::size_t n = 0;
  for (char c : R"({"status":")"sv) json[n++] = c;
  while (n < TBMQTT_PROTOBUF_PAYLOAD_CAPACITY + 20) json[n++] = 'x';
  json[n++] = '"';
  json[n++] = '}';
  EXPECT_EQ(r.s.publish_telemetry(std::string_view(json, n), qos::at_least_once).error(), errc::not_enough_space);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(wire_format, without_a_schema_telemetry_is_refused) {
  auto c = protobuf_session();
  c.wire.schemas.telemetry = nullptr;
  rig r(c);
  connect(r);
  EXPECT_EQ(r.s.publish_telemetry(R"({"a":1})", qos::at_least_once).error(), errc::invalid_argument);
  EXPECT_EQ(r.port.publish_attempts, 0u);
}

TEST(wire_format, attribute_request_client_rpc_and_claim_use_the_transport_messages) {
  rig r(protobuf_session());
  connect(r);
  auto attr = r.s.request_attributes("a,b", "c", 0);
  ASSERT_TRUE(attr.ok());
  EXPECT_EQ(r.port.last_payload(),
            "\x0a\x03"
            "a,b\x12\x01"
            "c"sv);  // transportapi.AttributesRequest
  auto call = r.s.call_rpc("getTime", R"({"tz":"UTC"})", 0);
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(r.port.last_payload(), "\x0a\x07getTime\x12\x0c{\"tz\":\"UTC\"}"sv);  // transportapi.RpcRequest
  ASSERT_TRUE(r.s.claim("s3cret", 60000).ok());
  EXPECT_EQ(r.port.last_topic(), "v1/devices/me/claim"sv);
  EXPECT_EQ(r.port.last_payload(), "\x0a\x06s3cret\x10\xe0\xd4\x03"sv);  // transportapi.ClaimDevice
}

// ==== protobuf downlinks =============================================================================

TEST(wire_format, shared_attribute_push_is_decoded_to_json) {
  rig r(protobuf_session());
  ASSERT_TRUE(r.s.subscribe_shared_attributes("").ok());
  connect(r);
  // AttributeUpdateNotificationMsg{sharedUpdated: [{ts:1, kv:{key:"fw", type:STRING_V, string_v:"1.2"}},
  //   {kv:{key:"n", type:LONG_V, long_v:5}}, {kv:{key:"on", bool_v:true}}, {kv:{key:"j", type:JSON_V, json_v:"{\"a\":1}"}}]}
  deliver(
      r, "v2/a",
      "\x0a\x0f\x08\x01\x12\x0b\x0a\x02"
      "fw\x10\x03"
      "2\x03"
      "1.2\x0a\x09\x12\x07\x0a\x01n\x10\x01 \x05\x0a\x08\x12\x06\x0a\x02on\x18\x01\x0a\x10\x12\x0e\x0a\x01j\x10\x04:\x07{\"a\":1}"sv);
  const auto* push = r.events.find(event_kind::shared_attributes);
  ASSERT_NE(push, nullptr);
  EXPECT_EQ(push->first.view(), R"({"fw":"1.2","n":5,"on":true,"j":{"a":1}})"sv);
  deliver(r, "v2/a",
          "\x12\x02"
          "fw\x12\x01n"sv);  // sharedDeleted
  const auto* deleted = r.events.find(event_kind::shared_attributes, 1);
  ASSERT_NE(deleted, nullptr);
  EXPECT_EQ(deleted->first.view(), R"({"deleted":["fw","n"]})"sv);
}

TEST(wire_format, a_push_that_does_not_decode_is_malformed_with_its_topic) {
  rig r(protobuf_session());
  ASSERT_TRUE(r.s.subscribe_shared_attributes("").ok());
  connect(r);
  deliver(r, "v2/a", "\x0a\x05\x01"sv);  // truncated
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.last()->first.view(), "v2/a"sv);
  deliver(r, "v2/a", "\x0a\x0a\x12\x08\x0a\x01j\x10\x04:\x01{"sv);  // JSON_V that is not JSON
  EXPECT_TRUE(is_error(r.events.last(), errc::malformed));
  EXPECT_EQ(r.events.count(event_kind::shared_attributes), 0u);
}

TEST(wire_format, attribute_response_is_decoded_and_a_bad_one_ends_the_request_malformed) {
  rig r(protobuf_session());
  connect(r);
  auto first = r.s.request_attributes("", "", 0);
  auto second = r.s.request_attributes("", "", 0);
  ASSERT_TRUE(first.ok() && second.ok());
  char topic[96];
  // GetAttributeResponseMsg{requestId, clientAttributeList:[{kv:{key:"a",LONG_V,1}}], sharedAttributeList:[{kv:{key:"s",STRING_V,"x"}}]}
  deliver(r, with_number(topic, "v2/a/res/", *first),
          "\x08\x01\x12\x09\x12\x07\x0a\x01"
          "a\x10\x01 \x01\x1a\x0a\x12\x08\x0a\x01s\x10\x03"
          "2\x01x"sv);
  const auto* ok = r.events.find(event_kind::attributes_response);
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->e, errc{});
  EXPECT_EQ(ok->first.view(), R"({"a":1})"sv);
  EXPECT_EQ(ok->second.view(), R"({"s":"x"})"sv);
  deliver(r, with_number(topic, "v2/a/res/", *second), "\xff\xff"sv);
  const auto* bad = r.events.find(event_kind::attributes_response, 1);
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->number, *second);
  EXPECT_EQ(bad->e, errc::malformed);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(wire_format, client_rpc_answer_is_the_payload_and_an_error_is_server_error) {
  rig r(protobuf_session());
  connect(r);
  auto a = r.s.call_rpc("getTime", "{}", 0);
  auto b = r.s.call_rpc("getTime", "{}", 0);
  auto c = r.s.call_rpc("getTime", "{}", 0);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  char topic[96];
  deliver(r, with_number(topic, "v2/r/res/", *a), "\x08\x01\x12\x07{\"t\":5}"sv);  // ToServerRpcResponseMsg
  deliver(r, with_number(topic, "v2/r/res/", *b), "\x1a\x04nope"sv);               // error
  deliver(r, with_number(topic, "v2/r/res/", *c), "\x12\x07{\"t\":5"sv);           // truncated
  const auto* ra = r.events.find(event_kind::rpc_response, 0);
  const auto* rb = r.events.find(event_kind::rpc_response, 1);
  const auto* rc = r.events.find(event_kind::rpc_response, 2);
  ASSERT_TRUE(ra && rb && rc);
  EXPECT_EQ(ra->e, errc{});
  EXPECT_EQ(ra->first.view(), R"({"t":5})"sv);
  EXPECT_EQ(rb->e, errc::server_error);
  EXPECT_EQ(rb->first.view(), R"({"error":"nope"})"sv);
  EXPECT_EQ(rc->number, *c);
  EXPECT_EQ(rc->e, errc::malformed);
  EXPECT_EQ(r.s.pending_requests(), 0u);
}

TEST(wire_format, server_rpc_is_decoded_in_the_request_schema_and_answered_in_the_response_schema) {
  rig r(protobuf_session());
  ASSERT_TRUE(r.s.add_rpc_method("setGpio").ok());
  connect(r);
  // rpc.RpcRequestMsg (ThingsBoard's default): method "setGpio", requestId 9, params "on".
  deliver(r, "v2/r/req/9", "\x0a\x07setGpio\x10\x09\x1a\x02on"sv);
  const auto* req = r.events.find(event_kind::rpc_request);
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(req->second.view(), "setGpio"sv);
  EXPECT_EQ(req->third.view(), R"("on")"sv);
  ASSERT_TRUE(r.s.reply_rpc("9", R"({"payload":"done"})").ok());
  EXPECT_EQ(r.port.last_topic(), "v2/r/res/9"sv);
  EXPECT_EQ(r.port.last_payload(),
            "\x0a\x04"
            "done"sv);  // rpc.RpcResponseMsg
}

TEST(wire_format, a_server_rpc_that_does_not_decode_is_reported_and_answered_with_an_error) {
  rig r(protobuf_session());
  ASSERT_TRUE(r.s.add_rpc_method("setGpio").ok());
  connect(r);
  const std::size_t before = r.port.publish_count;
  deliver(r, "v2/r/req/4", "\x0a\x09setGpio"sv);  // truncated
  EXPECT_TRUE(is_error(r.events.find(event_kind::error), errc::malformed));
  EXPECT_EQ(r.events.find(event_kind::error)->first.view(), "4"sv);
  EXPECT_EQ(r.events.count(event_kind::rpc_request), 0u);
  ASSERT_EQ(r.port.publish_count, before + 1);  // the server hears an error answer, not silence
  EXPECT_EQ(r.port.last_topic(), "v2/r/res/4"sv);
  EXPECT_EQ(r.port.last_payload(),
            "\x0a\x1d"
            R"({"error":"malformed request"})"sv);  // rpc.RpcResponseMsg.payload
}

// ThingsBoard takes any answer as the JSON of the profile's RPC response schema
// (ProtoMqttAdaptor.convertToDeviceRpcResponse: no error field of its own), so the library's
// error answers ({"error":"unknown method: m"}, ...) go in that schema's `error` string field, else
// as JSON text in its first string field (the default schema's `payload`), never as an empty message.
TEST(wire_format, an_error_answer_to_a_server_rpc_goes_in_the_response_schema) {
  using ft = pb::field_type;
  static constexpr pb::field_desc with_error_fields[] = {{"code", "code", 1, ft::int32},
                                                         {"error", "error", 2, ft::string}};
  static const pb::message_desc with_error{"rpc.Answer", with_error_fields, 2};
  const std::string_view reboot = "\x0a\x06reboot\x10\x05"sv;  // rpc.RpcRequestMsg {method "reboot", requestId 5}
  {
    rig r(protobuf_session());  // ThingsBoard's default response schema: {payload}
    connect(r);
    deliver(r, "v2/r/req/5", reboot);
    EXPECT_EQ(r.port.last_topic(), "v2/r/res/5"sv);
    EXPECT_EQ(r.port.last_payload(),
              "\x0a\x22"
              R"({"error":"unknown method: reboot"})"sv);
  }
  {
    auto c = protobuf_session();
    c.wire.schemas.rpc_response = &with_error;
    rig r(c);
    connect(r);
    deliver(r, "v2/r/req/5", reboot);
    EXPECT_EQ(r.port.last_payload(), "\x12\x16unknown method: reboot"sv);
    // An app's own answer is encoded as it is (its `error` key too).
    ASSERT_TRUE(r.s.add_rpc_method("setGpio").ok());
    deliver(r, "v2/r/req/6", "\x0a\x07setGpio\x10\x06"sv);
    ASSERT_TRUE(r.s.reply_rpc("6", R"({"code":3,"error":"busy"})").ok());
    EXPECT_EQ(r.port.last_payload(),
              "\x08\x03\x12\x04"
              "busy"sv);
  }
  {
    auto c = protobuf_session();
    c.wire.schemas.rpc_response = &rpc_response;  // no string field: the schema's empty message
    rig r(c);
    connect(r);
    const std::size_t before = r.port.publish_count;
    deliver(r, "v2/r/req/5", reboot);
    ASSERT_EQ(r.port.publish_count, before + 1);
    EXPECT_EQ(r.port.last_payload(), ""sv);
  }
}

// The limiter counts telemetry data points as the server does: from the JSON it prints for the
// protobuf message (default values included), not from the encoded bytes.
TEST(wire_format, protobuf_telemetry_data_points_count_against_the_rate_limit) {
  auto c = protobuf_session();
  c.fail_when_rate_limited = true;
  rig r(c);
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::telemetry_data_points, "6:10", 0).ok());  // a burst of 3
  r.s.set_rate_limiter(&limiter);
  connect(r);
  // temperature, uptimeS, status: 3 points (humidity is optional and absent: not printed).
  ASSERT_TRUE(r.s.publish_telemetry(R"({"temperature":21.5,"uptimeS":7,"status":"ok"})", qos::at_least_once).ok());
  EXPECT_GT(limiter.wait_ms(true, 1, 0), 0u);
  EXPECT_EQ(r.s.publish_telemetry(R"({"temperature":22})", qos::at_least_once).error(), errc::again);
  EXPECT_TRUE(r.s.publish_attributes(R"({"serialNumber":1})", qos::at_least_once).ok());  // not telemetry

  // uptimeS and status are printed with their defaults: {"uptimeS":0,"status":""} is 2 points.
  EXPECT_EQ(tbmqtt::detail::telemetry_data_points(c.wire, "\x09\x00\x00\x00\x00\x00\x80\x35\x40"sv), 3u);
  EXPECT_EQ(tbmqtt::detail::telemetry_data_points(c.wire, ""sv), 2u);
  EXPECT_EQ(tbmqtt::detail::telemetry_data_points(c.wire, "\x0a"sv), 0u);  // does not decode
  tbmqtt::wire_format json;
  EXPECT_EQ(tbmqtt::detail::telemetry_data_points(json, R"({"ts":1,"values":{"a":1,"b":2}})"sv), 2u);
}

TEST(wire_format, v1_with_a_protobuf_profile_uses_protobuf_on_v1_topics) {
  rig r(with(topic_style::v1, tbmqtt::payload_format::protobuf));
  connect(r);
  ASSERT_TRUE(r.s.publish_telemetry(R"({"uptimeS":1})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.last_topic(), "v1/devices/me/telemetry"sv);
  EXPECT_EQ(r.port.last_payload(), "\x18\x01"sv);
}

TEST(wire_format, json_on_v2_j_is_unchanged_even_with_a_protobuf_profile) {
  rig r(with(topic_style::v2_json, tbmqtt::payload_format::protobuf));
  connect(r);
  ASSERT_TRUE(r.s.publish_telemetry(R"({"uptimeS":1})", qos::at_least_once).ok());
  EXPECT_EQ(r.port.last_topic(), "v2/t/j"sv);
  EXPECT_EQ(r.port.last_payload(), R"({"uptimeS":1})"sv);
}

// Messages stored while offline are protobuf already: the pacing of the store counts their points too.
TEST(wire_format, protobuf_telemetry_from_the_offline_store_is_paced_by_its_data_points) {
  namespace qr = tbmqtt_test::queue_rig;
  tbmqtt_test::crash_log disk;
  tbmqtt_test::fake_transport port;
  qr::forward_log events;
  tbmqtt::session s{port, events, protobuf_session()};
  qr::queue8 queue(disk, qr::limits(8));
  ASSERT_TRUE(queue.open().ok());
  s.set_offline_queue(&queue);
  tbmqtt::rate_limiter limiter;
  ASSERT_TRUE(limiter.set(tbmqtt::rate_limit_kind::telemetry_data_points, "6:10", 0).ok());  // a burst of 3
  s.set_rate_limiter(&limiter);
  ASSERT_TRUE(s.publish_telemetry(R"({"temperature":21.5,"uptimeS":7,"status":"ok"})", qos::at_least_once).ok());
  ASSERT_TRUE(s.publish_telemetry(R"({"temperature":22.5,"uptimeS":8,"status":"ok"})", qos::at_least_once).ok());
  s.on_connected(0);
  for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  s.tick(1);
  std::size_t sent = 0;
  for (std::size_t i = 0; i < port.recorded_publishes(); ++i) sent += port.topic(i) == "v2/t"sv ? 1 : 0;
  EXPECT_EQ(sent, 1u);  // the second reading's 3 points wait for the bucket
}

// ==== capture time of stored protobuf telemetry ======================================================

namespace {

std::uint64_t wall_ms = 0;  // the offline queue's epoch clock in these tests
std::uint64_t wall() noexcept { return wall_ms; }

tbmqtt::session_config with_telemetry_schema(const pb::message_desc& schema) {
  auto c = protobuf_session();
  c.wire.schemas.telemetry = &schema;
  return c;
}

// A protobuf session with an offline queue whose clock is `wall_ms`.
struct stored_device {
  tbmqtt_test::crash_log disk;
  tbmqtt_test::fake_transport port;
  tbmqtt_test::queue_rig::forward_log events;
  tbmqtt::session s;
  tbmqtt_test::queue_rig::queue8 queue;
  explicit stored_device(const tbmqtt::session_config& c) : s(port, events, c), queue(disk, clocked()) {
    EXPECT_TRUE(queue.open().ok());
    s.set_offline_queue(&queue);
  }
  static tbmqtt::offline_queue_config clocked() {
    auto q = tbmqtt_test::queue_rig::limits(8);
    q.epoch_ms = &wall;
    return q;
  }
  void connect() {
    s.on_connected(0);
    for (std::size_t i = 0; i < port.recorded_subscribes(); ++i) s.on_suback(port.subscribes[i].id, 1);
  }
};

std::string_view as_json(const pb::message_desc& schema, std::string_view payload, tbmqtt::span<char> out) {
  auto text = pb::decode_json(schema, tbmqtt::as_bytes(payload), out);
  return text ? *text : "(does not decode)"sv;
}

}  // namespace

TEST(wire_format, only_a_schema_with_an_integer_ts_and_a_values_message_carries_a_time) {
  EXPECT_TRUE(tbmqtt::detail::telemetry_carries_time(with_telemetry_schema(timed_reading).wire));
  EXPECT_FALSE(tbmqtt::detail::telemetry_carries_time(with_telemetry_schema(reading).wire));
  EXPECT_FALSE(tbmqtt::detail::telemetry_carries_time(with_telemetry_schema(pb::transport::ts_kv).wire));  // {ts, kv}
  EXPECT_FALSE(tbmqtt::detail::telemetry_carries_time(with_telemetry_schema(timed_values).wire));
  auto json = with_telemetry_schema(timed_reading);
  json.wire.payload = tbmqtt::payload_format::json;
  EXPECT_FALSE(tbmqtt::detail::telemetry_carries_time(json.wire));
  // Attributes never carry one; a telemetry time of 0 is "unknown".
  std::byte buffer[64];
  auto c = with_telemetry_schema(timed_reading);
  c.wire.schemas.attributes = &timed_reading;
  EXPECT_EQ(*tbmqtt::detail::encode_uplink(c.wire, tbmqtt::detail::uplink::attributes, R"({"values":{"state":"a"}})",
                                           buffer, 5),
            "\x12\x03\x12\x01\x61"sv);
  EXPECT_EQ(*tbmqtt::detail::encode_uplink(c.wire, tbmqtt::detail::uplink::telemetry, R"({"values":{"state":"a"}})",
                                           buffer, 0),
            "\x12\x03\x12\x01\x61"sv);
}

// Telemetry stored while offline in a time-stamped schema goes out with the time it was captured,
// however late the connection comes (the server would stamp it on arrival otherwise).
TEST(wire_format, protobuf_telemetry_stored_offline_carries_its_capture_time_not_its_send_time) {
  stored_device d(with_telemetry_schema(timed_reading));
  wall_ms = 1700000000123;
  ASSERT_TRUE(d.s.publish_telemetry(R"({"temperature":7.5,"state":"idle"})", qos::at_least_once).ok());  // flat
  wall_ms = 1700000000456;
  ASSERT_TRUE(
      d.s.publish_telemetry(R"({"values":{"temperature":8.5}})", qos::at_least_once).ok());  // the schema's shape
  ASSERT_TRUE(d.s.publish_telemetry(R"({"ts":1600000000000,"values":{"state":"own"}})", qos::at_least_once).ok());
  EXPECT_EQ(d.port.publish_count, 0u);
  wall_ms = 1700000099999;  // the connection comes back much later
  d.connect();
  ASSERT_EQ(d.port.publish_count, 3u);
  char json[256];
  EXPECT_EQ(as_json(timed_reading, d.port.payload(0), json),
            R"({"ts":1700000000123,"values":{"temperature":7.5,"state":"idle"}})"sv);
  EXPECT_EQ(as_json(timed_reading, d.port.payload(1), json), R"({"ts":1700000000456,"values":{"temperature":8.5}})"sv);
  EXPECT_EQ(as_json(timed_reading, d.port.payload(2), json), R"({"ts":1600000000000,"values":{"state":"own"}})"sv);
  // The rate limiter counts the values, as the server does for {"ts":..,"values":{..}}.
  EXPECT_EQ(tbmqtt::detail::telemetry_data_points(d.s.config().wire, d.port.payload(0)), 2u);
  for (std::size_t i = 0; i < 3; ++i) d.s.on_puback(d.port.publishes[i].id);
  EXPECT_EQ(d.events.with(errc{}), 3u);
}

// Sent directly (QoS 0, or no offline store) a message goes now: the server stamps it, as with JSON.
TEST(wire_format, protobuf_telemetry_sent_directly_is_not_stamped) {
  stored_device d(with_telemetry_schema(timed_reading));
  wall_ms = 1700000000123;
  d.connect();
  ASSERT_TRUE(d.s.publish_telemetry(R"({"values":{"temperature":1}})", qos::at_most_once).ok());
  char json[128];
  EXPECT_EQ(as_json(timed_reading, d.port.last_payload(), json), R"({"values":{"temperature":1}})"sv);
  rig r(with_telemetry_schema(timed_reading));
  connect(r);
  ASSERT_TRUE(r.s.publish_telemetry(R"({"values":{"temperature":2}})", qos::at_least_once).ok());
  EXPECT_EQ(as_json(timed_reading, r.port.last_payload(), json), R"({"values":{"temperature":2}})"sv);
}

// A schema without ts/values cannot carry a time: the stored message is the encoded one, byte for
// byte (ThingsBoard stamps it on arrival), even when its bytes would read as JSON text.
TEST(wire_format, protobuf_telemetry_in_a_schema_without_a_time_is_stored_unchanged) {
  static constexpr pb::field_desc note_fields[] = {{"note", "note", 1, pb::field_type::string}};
  static const pb::message_desc note{"telemetry.Note", note_fields, 1};
  stored_device d(with_telemetry_schema(note));
  wall_ms = 1700000000123;
  // Field 1, length 9: "\n\t" then {"x":123}, which is JSON after two white-space characters.
  ASSERT_TRUE(d.s.publish_telemetry(R"({"note":"{\"x\":123}"})", qos::at_least_once).ok());
  d.connect();
  ASSERT_EQ(d.port.publish_count, 1u);
  EXPECT_EQ(d.port.payload(0), "\n\t{\"x\":123}"sv);
}

// A stamped message that no longer fits the protobuf buffer is refused, and nothing is stored.
TEST(wire_format, a_stamped_message_that_does_not_fit_is_not_enough_space) {
  stored_device d(with_telemetry_schema(timed_reading));
  wall_ms = 1700000000123;
  char json[TBMQTT_PROTOBUF_PAYLOAD_CAPACITY + 64];
  std::size_t n = 0;
  for (char c : R"({"state":")"sv) json[n++] = c;
  while (n < TBMQTT_PROTOBUF_PAYLOAD_CAPACITY) json[n++] = 'x';  // with ts and nesting: 515 bytes
  json[n++] = '"';
  json[n++] = '}';
  EXPECT_EQ(d.s.publish_telemetry(std::string_view(json, n), qos::at_least_once).error(), errc::not_enough_space);
  EXPECT_EQ(d.queue.size(), 0u);
}
