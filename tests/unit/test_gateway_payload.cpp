// Tests of src/core/gateway_payload.cpp: the gateway payload builders (igateway_telemetry,
// igateway_attributes) and write_single_attribute, byte for byte. No session.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <string_view>

#include "tbmqtt/gateway.hpp"

using tbmqtt::errc;

TEST(gateway_payload, telemetry_builder_writes_several_devices) {
  tbmqtt::gateway_telemetry<256> t;
  t.device("A").add("t", 1).add("on", true).device("B").at(1700000000000ULL).add("u", 2.5).at(2).add("u", 3);
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text,
            R"({"A":[{"t":1,"on":true}],"B":[{"ts":1700000000000,"values":{"u":2.5}},{"ts":2,"values":{"u":3}}]})");
  EXPECT_EQ(*t.finish(), *text);  // idempotent
}

TEST(gateway_payload, telemetry_builder_rejects_values_without_a_device_and_devices_without_values) {
  tbmqtt::gateway_telemetry<128> t;
  t.add("t", 1);
  EXPECT_EQ(t.finish().error(), errc::invalid_argument);
  t.clear();
  t.device("A").device("B").add("t", 1);
  EXPECT_EQ(t.finish().error(), errc::invalid_argument);
  t.clear();
  EXPECT_EQ(t.finish().error(), errc::invalid_argument);
  t.clear();
  t.device("A").add_json("cfg", R"({"a":[1]})");
  ASSERT_TRUE(t.finish().ok());
  EXPECT_EQ(*t.finish(), R"({"A":[{"cfg":{"a":[1]}}]})");
  tbmqtt::gateway_telemetry<16> tiny;
  tiny.device("A").add("temperature", 1);
  EXPECT_EQ(tiny.finish().error(), errc::not_enough_space);
}

TEST(gateway_payload, attributes_builder_writes_several_devices_and_rejects_empty_ones) {
  tbmqtt::gateway_attributes<128> a;
  a.device("A").add("k", "v").device("B").add("n", 2).add_json("o", "[1]");
  auto text = a.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"({"A":{"k":"v"},"B":{"n":2,"o":[1]}})");
  a.clear();
  a.device("A");
  EXPECT_EQ(a.finish().error(), errc::invalid_argument);
  a.clear();
  a.add("k", 1);
  EXPECT_EQ(a.finish().error(), errc::invalid_argument);
  a.clear();
  a.device("A").add_json("o", "[1");
  EXPECT_EQ(a.finish().error(), errc::invalid_argument);
  tbmqtt::gateway_attributes<16> tiny;
  tiny.device("A").add("temperature", 1);
  EXPECT_EQ(tiny.finish().error(), errc::not_enough_space);
}

TEST(gateway_payload, write_single_attribute_turns_the_one_value_answer_into_an_object) {
  char out[64];
  auto value = tbmqtt::json::value::parse(R"({"v":[1,"two"]})");
  ASSERT_TRUE(value.ok());
  auto text = tbmqtt::write_single_attribute(out, "fw \"x\"", (*value)["v"]);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"({"fw \"x\"":[1,"two"]})");
  char small[8];
  EXPECT_EQ(tbmqtt::write_single_attribute(small, "key", (*value)["v"]).error(), errc::not_enough_space);
  EXPECT_EQ(tbmqtt::write_single_attribute(out, "key", (*value)["absent"]).error(), errc::invalid_argument);
  EXPECT_EQ(tbmqtt::write_single_attribute(out, "\xFF", (*value)["v"]).error(), errc::invalid_argument);
}
