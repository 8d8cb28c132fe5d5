// Tests of src/core/payload.cpp: the telemetry and client-attribute payload builders.
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "tbmqtt/json.hpp"
#include "tbmqtt/payload.hpp"

using tbmqtt::errc;

namespace {

// Builders over a caller buffer of any run-time size (the templates fix the size at compile time).
struct telemetry_over : tbmqtt::itelemetry {
  explicit telemetry_over(tbmqtt::span<char> buffer) noexcept : itelemetry(buffer) {}
};
struct attributes_over : tbmqtt::iattributes {
  explicit attributes_over(tbmqtt::span<char> buffer) noexcept : iattributes(buffer) {}
};

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

}  // namespace

// ---- telemetry --------------------------------------------------------------------------------------

TEST(itelemetry, writes_a_plain_object_when_only_add_is_used) {
  tbmqtt::telemetry<128> t;
  t.add("temp", 21.5).add("on", true).add("count", 40).add("name", "boiler");
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"temp":21.5,"on":true,"count":40,"name":"boiler"})"));
}

TEST(itelemetry, writes_the_ts_form_after_at) {
  tbmqtt::telemetry<128> t;
  t.at(1700000000000ULL).add("temp", 21.5).add("hum", 40);
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"ts":1700000000000,"values":{"temp":21.5,"hum":40}})"));
}

TEST(itelemetry, writes_an_array_for_several_ts_entries) {
  tbmqtt::telemetry<256> t;
  t.at(1).add("a", 1).at(2).add("b", 2).add("c", false).at(3).add("d", "x");
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"([{"ts":1,"values":{"a":1}},{"ts":2,"values":{"b":2,"c":false}},)"
                                    R"({"ts":3,"values":{"d":"x"}}])"));
}

TEST(itelemetry, writes_an_array_when_a_plain_entry_precedes_a_ts_entry) {
  tbmqtt::telemetry<128> t;
  t.add("a", 1).at(2).add("b", 2);
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"([{"a":1},{"ts":2,"values":{"b":2}}])"));
}

TEST(itelemetry, output_is_valid_json_of_the_documented_shape) {
  tbmqtt::telemetry<256> t;
  t.at(10).add("a", 1).at(20).add("a", 2);
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  auto doc = tbmqtt::json::value::parse(*text);
  ASSERT_TRUE(doc.ok());
  ASSERT_TRUE(doc->is_array());
  EXPECT_EQ(doc->size(), 2u);
  EXPECT_EQ(doc->at(1)["ts"].as_int().value_or(-1), 20);
  EXPECT_EQ(doc->at(1)["values"]["a"].as_int().value_or(-1), 2);
}

TEST(itelemetry, add_json_inserts_validated_raw_json) {
  tbmqtt::telemetry<128> t;
  t.add("t", 1).add_json("cfg", R"({"a":[1,2,{"b":null}]})").add_json("list", " [true] ");
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"t":1,"cfg":{"a":[1,2,{"b":null}]},"list":[true]})"));
}

TEST(itelemetry, add_json_with_invalid_json_makes_finish_fail) {
  tbmqtt::telemetry<128> t;
  t.add("t", 1).add_json("cfg", "{bad");
  auto text = t.finish();
  EXPECT_FALSE(text.ok());
  EXPECT_EQ(text.error(), errc::invalid_argument);
}

TEST(itelemetry, rejects_nan_and_infinity) {
  tbmqtt::telemetry<128> nan;
  nan.add("ok", 1).add("x", not_a_number);
  EXPECT_EQ(nan.finish().error(), errc::invalid_argument);

  tbmqtt::telemetry<128> inf;
  inf.at(5).add("x", -infinity);
  EXPECT_EQ(inf.finish().error(), errc::invalid_argument);

  tbmqtt::telemetry<128> flt;
  flt.add("x", std::numeric_limits<float>::infinity());
  EXPECT_EQ(flt.finish().error(), errc::invalid_argument);
}

TEST(itelemetry, rejects_an_empty_payload) {
  tbmqtt::telemetry<64> t;
  auto text = t.finish();
  EXPECT_FALSE(text.ok());
  EXPECT_EQ(text.error(), errc::invalid_argument);
}

TEST(itelemetry, escapes_keys_and_strings) {
  tbmqtt::telemetry<128> t;
  t.add("a\"b", "line\nbreak\\");
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"a\"b":"line\nbreak\\"})"));
}

TEST(itelemetry, reports_not_enough_space_for_every_buffer_shorter_than_the_payload) {
  constexpr std::string_view expected = R"({"ts":1700000000000,"values":{"temperature":21.5}})";
  char buffer[128];
  for (std::size_t len = 0; len < expected.size(); ++len) {
    telemetry_over t({buffer, len});
    t.at(1700000000000ULL).add("temperature", 21.5);
    auto text = t.finish();
    EXPECT_FALSE(text.ok());
    EXPECT_EQ(text.error(), errc::not_enough_space);
  }
  telemetry_over roomy({buffer, sizeof buffer});
  roomy.at(1700000000000ULL).add("temperature", 21.5);
  auto text = roomy.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, expected);
}

TEST(itelemetry, reports_not_enough_space_when_a_later_entry_overflows) {
  tbmqtt::telemetry<40> t;
  t.at(1).add("a", 1).at(2).add("a_much_longer_key_that_does_not_fit", 2);
  EXPECT_EQ(t.finish().error(), errc::not_enough_space);
}

TEST(itelemetry, finish_is_idempotent) {
  tbmqtt::telemetry<128> single;
  single.add("a", 1);
  auto first = single.finish();
  auto second = single.finish();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, std::string_view(R"({"a":1})"));
  EXPECT_EQ(*second, *first);

  tbmqtt::telemetry<128> several;
  several.at(1).add("a", 1).at(2).add("a", 2);
  auto one = several.finish();
  auto two = several.finish();
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*one, std::string_view(R"([{"ts":1,"values":{"a":1}},{"ts":2,"values":{"a":2}}])"));
  EXPECT_EQ(*two, *one);
}

TEST(itelemetry, add_after_finish_fails) {
  tbmqtt::telemetry<128> t;
  t.add("a", 1);
  ASSERT_TRUE(t.finish().ok());
  t.add("b", 2);
  EXPECT_EQ(t.finish().error(), errc::invalid_argument);

  tbmqtt::telemetry<128> ts;
  ts.at(1).add("a", 1);
  ASSERT_TRUE(ts.finish().ok());
  ts.at(2);
  EXPECT_EQ(ts.finish().error(), errc::invalid_argument);
}

TEST(itelemetry, clear_forgets_entries_and_errors) {
  tbmqtt::telemetry<128> t;
  t.add("x", not_a_number);
  EXPECT_EQ(t.finish().error(), errc::invalid_argument);
  t.clear();
  EXPECT_EQ(t.finish().error(), errc::invalid_argument);  // empty again
  t.add("y", 2);
  auto text = t.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"y":2})"));
}

// ---- attributes ------------------------------------------------------------------------------------

TEST(iattributes, writes_a_flat_object) {
  tbmqtt::attributes<128> a;
  a.add("fw", "1.0").add("mode", "eco").add("level", 3).add("on", false).add("ratio", 0.25);
  auto text = a.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"fw":"1.0","mode":"eco","level":3,"on":false,"ratio":0.25})"));
}

TEST(iattributes, add_json_inserts_validated_raw_json) {
  tbmqtt::attributes<128> a;
  a.add_json("cfg", R"({"k":[1]})");
  auto text = a.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"cfg":{"k":[1]}})"));

  tbmqtt::attributes<128> bad;
  bad.add("a", 1).add_json("cfg", "[1,");
  EXPECT_EQ(bad.finish().error(), errc::invalid_argument);
}

TEST(iattributes, rejects_an_empty_payload) {
  tbmqtt::attributes<64> a;
  EXPECT_EQ(a.finish().error(), errc::invalid_argument);
}

TEST(iattributes, rejects_nan) {
  tbmqtt::attributes<64> a;
  a.add("x", not_a_number);
  EXPECT_EQ(a.finish().error(), errc::invalid_argument);
}

TEST(iattributes, reports_not_enough_space_for_every_buffer_shorter_than_the_payload) {
  constexpr std::string_view expected = R"({"fw":"1.0","mode":"eco"})";
  char buffer[64];
  for (std::size_t len = 0; len < expected.size(); ++len) {
    attributes_over a({buffer, len});
    a.add("fw", "1.0").add("mode", "eco");
    auto text = a.finish();
    EXPECT_FALSE(text.ok());
    EXPECT_EQ(text.error(), errc::not_enough_space);
  }
  attributes_over exact({buffer, expected.size()});
  exact.add("fw", "1.0").add("mode", "eco");
  auto text = exact.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, expected);
}

TEST(iattributes, finish_is_idempotent) {
  tbmqtt::attributes<64> a;
  a.add("k", "v");
  auto first = a.finish();
  auto second = a.finish();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, std::string_view(R"({"k":"v"})"));
  EXPECT_EQ(*second, *first);
}

TEST(iattributes, add_after_finish_fails) {
  tbmqtt::attributes<64> a;
  a.add("k", "v");
  ASSERT_TRUE(a.finish().ok());
  a.add("later", 1);
  EXPECT_EQ(a.finish().error(), errc::invalid_argument);
}

TEST(iattributes, clear_makes_the_builder_reusable) {
  tbmqtt::attributes<64> a;
  a.add("k", "v");
  ASSERT_TRUE(a.finish().ok());
  a.clear();
  EXPECT_EQ(a.finish().error(), errc::invalid_argument);
  a.add("n", 2);
  auto text = a.finish();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"n":2})"));
}
