// Tests of src/core/topics.cpp: the v1 device topic builders and parsers, and the v2 short topics.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/topics.hpp"

namespace topics = tbmqtt::topics;
using tbmqtt::errc;
using tbmqtt::span;

namespace {

constexpr std::string_view attr_request_1 = "v1/devices/me/attributes/request/1";
constexpr std::string_view attr_request_max = "v1/devices/me/attributes/request/4294967295";
constexpr std::string_view rpc_request_42 = "v1/devices/me/rpc/request/42";
constexpr std::string_view rpc_request_max = "v1/devices/me/rpc/request/4294967295";
constexpr std::string_view rpc_response_abc = "v1/devices/me/rpc/response/abc-17";

}  // namespace

// ---- constants ------------------------------------------------------------------------------------

TEST(topics, constants_spell_the_thingsboard_v1_topics) {
  EXPECT_EQ(topics::telemetry, std::string_view("v1/devices/me/telemetry"));
  EXPECT_EQ(topics::attributes, std::string_view("v1/devices/me/attributes"));
  EXPECT_EQ(topics::claim, std::string_view("v1/devices/me/claim"));
  EXPECT_EQ(topics::attribute_response_filter, std::string_view("v1/devices/me/attributes/response/+"));
  EXPECT_EQ(topics::rpc_request_filter, std::string_view("v1/devices/me/rpc/request/+"));
  EXPECT_EQ(topics::rpc_response_filter, std::string_view("v1/devices/me/rpc/response/+"));
}

// ---- builders -------------------------------------------------------------------------------------

TEST(topics, attribute_request_writes_prefix_and_decimal_id) {
  char out[96];
  auto n = topics::attribute_request(out, 1);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(out, *n), attr_request_1);

  n = topics::attribute_request(out, 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(out, *n), std::string_view("v1/devices/me/attributes/request/0"));

  n = topics::attribute_request(out, 4294967295u);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(out, *n), attr_request_max);
}

TEST(topics, attribute_request_fits_a_buffer_of_exactly_its_length) {
  char out[96];
  auto n = topics::attribute_request({out, attr_request_max.size()}, 4294967295u);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, attr_request_max.size());
  EXPECT_EQ(std::string_view(out, *n), attr_request_max);
}

TEST(topics, attribute_request_reports_not_enough_space_for_every_short_buffer) {
  char out[96];
  for (std::size_t len = 0; len < attr_request_1.size(); ++len) {
    auto n = topics::attribute_request({out, len}, 1);
    EXPECT_FALSE(n.ok());
    EXPECT_EQ(n.error(), errc::not_enough_space);
  }
  for (std::size_t len = 0; len < attr_request_max.size(); ++len) {
    auto n = topics::attribute_request({out, len}, 4294967295u);
    EXPECT_EQ(n.error(), errc::not_enough_space);
  }
}

TEST(topics, attribute_request_does_not_write_past_a_short_buffer) {
  char out[40];
  for (char& c : out) c = '#';
  auto n = topics::attribute_request({out, 20}, 123);
  EXPECT_EQ(n.error(), errc::not_enough_space);
  for (std::size_t i = 20; i < sizeof out; ++i) EXPECT_EQ(out[i], '#');
}

TEST(topics, rpc_request_writes_prefix_and_decimal_id) {
  char out[96];
  auto n = topics::rpc_request(out, 42);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(out, *n), rpc_request_42);

  n = topics::rpc_request(out, 4294967295u);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(out, *n), rpc_request_max);
}

TEST(topics, rpc_request_reports_not_enough_space_for_every_short_buffer) {
  char out[96];
  for (std::size_t len = 0; len < rpc_request_42.size(); ++len) {
    auto n = topics::rpc_request({out, len}, 42);
    EXPECT_EQ(n.error(), errc::not_enough_space);
  }
  for (std::size_t len = 0; len < rpc_request_max.size(); ++len) {
    auto n = topics::rpc_request({out, len}, 4294967295u);
    EXPECT_EQ(n.error(), errc::not_enough_space);
  }
  auto exact = topics::rpc_request({out, rpc_request_42.size()}, 42);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(*exact, rpc_request_42.size());
}

TEST(topics, rpc_response_writes_prefix_and_opaque_id) {
  char out[96];
  auto n = topics::rpc_response(out, "abc-17");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(out, *n), rpc_response_abc);

  n = topics::rpc_response(out, "7");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(out, *n), std::string_view("v1/devices/me/rpc/response/7"));
}

TEST(topics, rpc_response_reports_not_enough_space_for_every_short_buffer) {
  char out[96];
  for (std::size_t len = 0; len < rpc_response_abc.size(); ++len) {
    auto n = topics::rpc_response({out, len}, "abc-17");
    EXPECT_EQ(n.error(), errc::not_enough_space);
  }
  auto exact = topics::rpc_response({out, rpc_response_abc.size()}, "abc-17");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(std::string_view(out, *exact), rpc_response_abc);
}

TEST(topics, built_topics_fit_the_configured_topic_capacity) {
  char out[TBMQTT_TOPIC_CAPACITY];
  EXPECT_TRUE(topics::attribute_request(out, 4294967295u).ok());
  EXPECT_TRUE(topics::rpc_request(out, 4294967295u).ok());
  char id[TBMQTT_RPC_ID_CAPACITY];
  for (char& c : id) c = 'x';
  EXPECT_TRUE(topics::rpc_response(out, std::string_view(id, sizeof id)).ok());
}

// ---- parsers --------------------------------------------------------------------------------------

TEST(topics, parse_attribute_response_returns_the_decimal_id) {
  auto id = topics::parse_attribute_response("v1/devices/me/attributes/response/17");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 17u);
  id = topics::parse_attribute_response("v1/devices/me/attributes/response/0");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 0u);
  id = topics::parse_attribute_response("v1/devices/me/attributes/response/4294967295");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 4294967295u);
}

TEST(topics, parse_attribute_response_reports_no_match_for_other_topics) {
  const std::string_view others[] = {
      "",
      "v1/devices/me/attributes",
      "v1/devices/me/attributes/response",
      "v1/devices/me/attributes/request/1",
      "v1/devices/me/attributes/responses/1",
      "v1/devices/me/rpc/response/1",
      "v1/devices/me/telemetry",
      "V1/devices/me/attributes/response/1",
      "v2/a/res/1",
  };
  for (std::string_view t : others) EXPECT_EQ(topics::parse_attribute_response(t).error(), errc::no_match);
}

TEST(topics, parse_attribute_response_reports_malformed_ids) {
  const std::string_view bad[] = {
      "v1/devices/me/attributes/response/",
      "v1/devices/me/attributes/response/abc",
      "v1/devices/me/attributes/response/-1",
      "v1/devices/me/attributes/response/+1",
      "v1/devices/me/attributes/response/ 1",
      "v1/devices/me/attributes/response/1 ",
      "v1/devices/me/attributes/response/12a",
      "v1/devices/me/attributes/response/1/2",
      "v1/devices/me/attributes/response/+",
      "v1/devices/me/attributes/response/4294967296",
      "v1/devices/me/attributes/response/99999999999",
  };
  for (std::string_view t : bad) EXPECT_EQ(topics::parse_attribute_response(t).error(), errc::malformed);
}

TEST(topics, parse_rpc_response_returns_the_decimal_id) {
  auto id = topics::parse_rpc_response("v1/devices/me/rpc/response/5");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 5u);
  id = topics::parse_rpc_response("v1/devices/me/rpc/response/4294967295");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 4294967295u);
}

TEST(topics, parse_rpc_response_reports_no_match_for_other_topics) {
  const std::string_view others[] = {
      "",
      "v1/devices/me/rpc/response",
      "v1/devices/me/rpc/request/5",
      "v1/devices/me/attributes/response/5",
      "v1/devices/me/rpc/responses/5",
      "v1/devices/me/rpc",
  };
  for (std::string_view t : others) EXPECT_EQ(topics::parse_rpc_response(t).error(), errc::no_match);
}

TEST(topics, parse_rpc_response_reports_malformed_ids) {
  const std::string_view bad[] = {
      "v1/devices/me/rpc/response/",           "v1/devices/me/rpc/response/x",
      "v1/devices/me/rpc/response/-5",         "v1/devices/me/rpc/response/5x",
      "v1/devices/me/rpc/response/4294967296", "v1/devices/me/rpc/response/18446744073709551621",
  };
  for (std::string_view t : bad) EXPECT_EQ(topics::parse_rpc_response(t).error(), errc::malformed);
}

TEST(topics, parse_rpc_request_returns_a_view_of_the_opaque_id_inside_the_topic) {
  constexpr std::string_view topic = "v1/devices/me/rpc/request/abc-17";
  auto id = topics::parse_rpc_request(topic);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, std::string_view("abc-17"));
  EXPECT_TRUE(id->data() == topic.data() + 26);

  id = topics::parse_rpc_request("v1/devices/me/rpc/request/17");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, std::string_view("17"));
}

TEST(topics, parse_rpc_request_accepts_an_id_of_exactly_the_capacity) {
  char topic[64] = "v1/devices/me/rpc/request/";
  const std::size_t prefix = 26;
  for (std::size_t i = 0; i < TBMQTT_RPC_ID_CAPACITY; ++i) topic[prefix + i] = static_cast<char>('a' + i % 26);
  auto id = topics::parse_rpc_request(std::string_view(topic, prefix + TBMQTT_RPC_ID_CAPACITY));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), static_cast<std::size_t>(TBMQTT_RPC_ID_CAPACITY));
}

TEST(topics, parse_rpc_request_reports_an_id_longer_than_the_capacity_as_malformed) {
  char topic[64] = "v1/devices/me/rpc/request/";
  const std::size_t prefix = 26;
  for (std::size_t i = 0; i <= TBMQTT_RPC_ID_CAPACITY; ++i) topic[prefix + i] = '9';
  auto id = topics::parse_rpc_request(std::string_view(topic, prefix + TBMQTT_RPC_ID_CAPACITY + 1));
  EXPECT_FALSE(id.ok());
  EXPECT_EQ(id.error(), errc::malformed);
}

TEST(topics, parse_rpc_request_reports_empty_id_or_slash_as_malformed) {
  EXPECT_EQ(topics::parse_rpc_request("v1/devices/me/rpc/request/").error(), errc::malformed);
  EXPECT_EQ(topics::parse_rpc_request("v1/devices/me/rpc/request/1/2").error(), errc::malformed);
  EXPECT_EQ(topics::parse_rpc_request("v1/devices/me/rpc/request//").error(), errc::malformed);
}

TEST(topics, parse_rpc_request_reports_no_match_for_other_topics) {
  const std::string_view others[] = {
      "",
      "v1/devices/me/rpc/request",
      "v1/devices/me/rpc/response/1",
      "v1/devices/me/attributes/request/1",
      "v1/devices/me/rpc/requests/1",
      "v1/gateway/rpc",
  };
  for (std::string_view t : others) EXPECT_EQ(topics::parse_rpc_request(t).error(), errc::no_match);
}

TEST(topics, parse_decimal_reads_uint32_values) {
  auto v = topics::parse_decimal("0");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 0u);
  v = topics::parse_decimal("123456");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 123456u);
  v = topics::parse_decimal("4294967295");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 4294967295u);
}

TEST(topics, parse_decimal_rejects_signs_junk_and_overflow) {
  const std::string_view bad[] = {"", "-0", "+1", " 1", "1 ", "0x10", "1.5", "1e3", "4294967296", "10000000000", "a"};
  for (std::string_view t : bad) EXPECT_EQ(topics::parse_decimal(t).error(), errc::malformed);
}

// ---- v2 topics ------------------------------------------------------------------------------------

TEST(topics_v2, names_of_each_style) {
  using topics::topic_style;
  EXPECT_EQ(topics::telemetry_topic(topic_style::v1), topics::telemetry);
  EXPECT_EQ(topics::telemetry_topic(topic_style::v2), std::string_view("v2/t"));
  EXPECT_EQ(topics::telemetry_topic(topic_style::v2_json), std::string_view("v2/t/j"));
  EXPECT_EQ(topics::telemetry_topic(topic_style::v2_proto), std::string_view("v2/t/p"));
  EXPECT_EQ(topics::attributes_topic(topic_style::v2_proto), std::string_view("v2/a/p"));
  EXPECT_EQ(topics::attribute_response_filter_for(topic_style::v2_json), std::string_view("v2/a/res/j/+"));
  EXPECT_EQ(topics::rpc_request_filter_for(topic_style::v2_proto), std::string_view("v2/r/req/p/+"));
  EXPECT_EQ(topics::rpc_response_filter_for(topic_style::v2), std::string_view("v2/r/res/+"));
  EXPECT_EQ(topics::rpc_request_filter_for(topic_style::v1), topics::rpc_request_filter);
}

TEST(topics_v2, builders_and_parsers) {
  using topics::topic_style;
  char buf[32];
  auto n = topics::attribute_request(buf, topic_style::v2_proto, 7);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(buf, *n), std::string_view("v2/a/req/p/7"));
  n = topics::rpc_request(buf, topic_style::v2, 4294967295u);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(buf, *n), std::string_view("v2/r/req/4294967295"));
  n = topics::rpc_response(buf, topic_style::v2_json, "12");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string_view(buf, *n), std::string_view("v2/r/res/j/12"));
  EXPECT_EQ(topics::rpc_request(span<char>(buf, 5), topic_style::v2, 1).error(), errc::not_enough_space);

  EXPECT_EQ(*topics::parse_attribute_response("v2/a/res/p/9", topic_style::v2_proto), 9u);
  EXPECT_EQ(topics::parse_attribute_response("v2/a/res/p/9", topic_style::v2).error(), errc::no_match);
  EXPECT_EQ(topics::parse_attribute_response("v2/a/res/x", topic_style::v2).error(), errc::malformed);
  EXPECT_EQ(*topics::parse_rpc_response("v2/r/res/5", topic_style::v2), 5u);
  EXPECT_EQ(topics::parse_rpc_response("v1/devices/me/rpc/response/5", topic_style::v2).error(), errc::no_match);
  EXPECT_EQ(*topics::parse_rpc_request("v2/r/req/j/33", topic_style::v2_json), std::string_view("33"));
  EXPECT_EQ(topics::parse_rpc_request("v2/r/req/j/33", topic_style::v2).error(), errc::no_match);
  EXPECT_EQ(topics::parse_rpc_request("v2/r/req/", topic_style::v2).error(), errc::malformed);
  EXPECT_EQ(*topics::parse_rpc_request("v1/devices/me/rpc/request/8", topic_style::v1), std::string_view("8"));
}
