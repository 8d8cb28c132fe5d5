// Tests of src/core/json.cpp. Also built for bare-metal Cortex-M under a tiny gtest look-alike, so
// only TEST, EXPECT_TRUE/FALSE/EQ/NE and ASSERT_TRUE/FALSE/EQ are used: no fixtures, no streams,
// no std::string.
#include "tbmqtt/config.hpp"
#include "tbmqtt/json.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace {

using namespace std::string_view_literals;
using tbmqtt::errc;
using tbmqtt::span;
namespace json = tbmqtt::json;

// Returns the document when it is wrongly judged, so that a failure message names it.
std::string_view misjudged(std::string_view doc, bool should_be_valid) {
  return json::validate(doc).ok() == should_be_valid ? std::string_view{} : doc;
}

json::value parse_ok(std::string_view text) {
  auto r = json::value::parse(text);
  return r.ok() ? r.value() : json::value{};
}

// ---------------------------------------------------------------------------------------------
// Grammar

constexpr std::string_view valid_documents[] = {
    "null"sv,
    "true"sv,
    "false"sv,
    "0"sv,
    "-0"sv,
    "1"sv,
    "-1"sv,
    "123"sv,
    "1234567890123456789012345678901234567890"sv,
    "0.5"sv,
    "-0.5"sv,
    "10.25"sv,
    "1e5"sv,
    "1E5"sv,
    "1e+5"sv,
    "1e-5"sv,
    "1.5e10"sv,
    "-1.5E-3"sv,
    "0e0"sv,
    "0.0"sv,
    "1e400"sv,
    "\"\""sv,
    "\"abc\""sv,
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""sv,
    "\"\\u0041\\uABcd\\u00e9\""sv,
    "\"\\ud83d\\ude00\""sv,
    "\"\\ud800\""sv,
    "\"'single'\""sv,
    "\"\x7f\""sv,
    "\"\xc3\xa9\""sv,
    "\"\xe2\x82\xac\""sv,
    "\"\xf0\x9f\x98\x80\""sv,
    "\"\xf4\x8f\xbf\xbf\""sv,
    "\"\xef\xbb\xbf\""sv,
    "[]"sv,
    "{}"sv,
    "[ ]"sv,
    "{ }"sv,
    "[1,2,3]"sv,
    "[[[]]]"sv,
    "[{}]"sv,
    "[null,true,\"x\",1.5]"sv,
    "{\"a\":1}"sv,
    "{\"a\":1,\"b\":[true,{\"c\":null}]}"sv,
    "{\"\":0}"sv,
    "{\"a\":1,\"a\":2}"sv,
    " \t\r\n 1 \t\r\n "sv,
    "{ \"a\" : [ 1 , { } ] , \"b\" : \"c\" }"sv,
    "\n[\n1\n,\n2\n]\n"sv,
    "{\"method\":\"setGpio\",\"params\":{\"pin\":4,\"value\":1}}"sv,
};

constexpr std::string_view invalid_documents[] = {
    // empty and bare words
    ""sv,
    " "sv,
    "\n"sv,
    "nul"sv,
    "nulll"sv,
    "True"sv,
    "FALSE"sv,
    "NaN"sv,
    "Infinity"sv,
    "-Infinity"sv,
    "undefined"sv,
    "tru e"sv,
    // numbers
    "+1"sv,
    "01"sv,
    "-01"sv,
    "00"sv,
    "1."sv,
    ".5"sv,
    "-"sv,
    "-.5"sv,
    "1e"sv,
    "1e+"sv,
    "1E-"sv,
    "1.e5"sv,
    "0x10"sv,
    "--1"sv,
    "1 2"sv,
    "1.5.5"sv,
    "1e5e5"sv,
    "- 1"sv,
    "1,"sv,
    // arrays
    "["sv,
    "]"sv,
    "[1"sv,
    "[1,"sv,
    "[1,]"sv,
    "[,1]"sv,
    "[,]"sv,
    "[1 2]"sv,
    "[1]]"sv,
    "[1}"sv,
    "[] []"sv,
    "[1]x"sv,
    // objects
    "{"sv,
    "}"sv,
    "{\"a\"}"sv,
    "{\"a\":}"sv,
    "{\"a\" 1}"sv,
    "{a:1}"sv,
    "{\"a\":1,}"sv,
    "{,\"a\":1}"sv,
    "{\"a\":1 \"b\":2}"sv,
    "{1:2}"sv,
    "{\"a\":1]"sv,
    "{}}"sv,
    "{\"a\"::1}"sv,
    "{null:1}"sv,
    "{\"a\":1"sv,
    "{'a':1}"sv,
    // strings
    "'a'"sv,
    "\"abc"sv,
    "\""sv,
    "\"\\x\""sv,
    "\"\\u12\""sv,
    "\"\\u12G4\""sv,
    "\"\\U0041\""sv,
    "\"\\\""sv,
    "\"\\'\""sv,
    "\"a\tb\""sv,
    "\"a\nb\""sv,
    "\"\x01\""sv,
    "\"\x1f\""sv,
    "\"\0\""sv,
    // UTF-8
    "\"\xff\""sv,
    "\"\x80\""sv,
    "\"\xc0\xaf\""sv,
    "\"\xc1\xbf\""sv,
    "\"\xe0\x80\xaf\""sv,
    "\"\xed\xa0\x80\""sv,
    "\"\xf4\x90\x80\x80\""sv,
    "\"\xf5\x80\x80\x80\""sv,
    "\"\xe2\x82\""sv,
    "\"\xc3\""sv,
    "\"\xf0\x9f\x98\""sv,
    // other
    "1\0"sv,
    "\xef\xbb\xbf{}"sv,
    "\f1"sv,
    "\v1"sv,
    "1 // comment"sv,
    "/* c */ 1"sv,
    "[1]\0"sv,
};

TEST(json_reader, accepts_every_valid_document_in_the_table) {
  for (std::string_view doc : valid_documents) {
    EXPECT_EQ(misjudged(doc, true), std::string_view{});
  }
}

TEST(json_reader, rejects_every_invalid_document_in_the_table) {
  for (std::string_view doc : invalid_documents) {
    EXPECT_EQ(misjudged(doc, false), std::string_view{});
    EXPECT_EQ(json::value::parse(doc).error(), errc::malformed);
  }
}

// validate(text, &where) names the first fault: its byte offset and its reason.
TEST(json_reader, a_fault_has_its_offset_and_reason) {
  using json::syntax_error;
  const struct {
    std::string_view text;
    std::size_t offset;
    syntax_error reason;
  } cases[] = {
      {"", 0, syntax_error::expected_value},
      {"  ", 2, syntax_error::expected_value},
      {"{\"a\":1,}", 7, syntax_error::expected_member_name},
      {"{\"a\":\n1 2}", 8, syntax_error::expected_comma_or_brace},
      {"[1 2]", 3, syntax_error::expected_comma_or_bracket},
      {"[1,2", 4, syntax_error::expected_comma_or_bracket},
      {"{\"a\" 1}", 5, syntax_error::expected_colon},
      {"{'a':1}", 1, syntax_error::expected_member_name},
      {"['a']", 1, syntax_error::single_quotes},
      {"{\"a\":tru}", 5, syntax_error::expected_value},
      {"\"abc", 4, syntax_error::unterminated_string},
      {"\"a\x01\"", 2, syntax_error::control_character},
      {"\"a\\x\"", 2, syntax_error::invalid_escape},
      {"\"\\u12\"", 1, syntax_error::invalid_escape},
      {"\"\xC0\x80\"", 1, syntax_error::invalid_utf8},
      {"-", 1, syntax_error::expected_digit},
      {"1.", 2, syntax_error::expected_digit},
      {"1e+", 3, syntax_error::expected_digit},
      {"[012]", 1, syntax_error::leading_zero},
      {"{} x", 3, syntax_error::trailing_text},
  };
  for (const auto& c : cases) {
    json::syntax_fault where;
    const bool right = json::validate(c.text, &where).error() == errc::malformed && where.offset == c.offset &&
                       where.reason == c.reason;
    EXPECT_EQ(right ? std::string_view{} : c.text, std::string_view{});  // names a misjudged text
  }
  char deep[TBMQTT_JSON_MAX_DEPTH + 1];
  std::memset(deep, '[', sizeof deep);
  json::syntax_fault where;
  EXPECT_FALSE(json::validate(std::string_view(deep, sizeof deep), &where).ok());
  EXPECT_EQ(where.offset, std::size_t{TBMQTT_JSON_MAX_DEPTH});
  EXPECT_TRUE(where.reason == syntax_error::too_deep);
  json::syntax_fault untouched{7, syntax_error::too_deep};
  EXPECT_TRUE(json::validate("{\"a\":[1,2.5e3,\"\\u00e9\"]}", &untouched).ok());
  EXPECT_EQ(untouched.offset, std::size_t{7});  // written only on a fault
  EXPECT_FALSE(json::validate("[", nullptr).ok());
}

TEST(json_reader, rejects_trailing_comma_in_object) {
  EXPECT_EQ(json::validate("{\"a\":1,}").error(), errc::malformed);
}

TEST(json_reader, rejects_trailing_comma_in_array) { EXPECT_EQ(json::validate("[1,2,]").error(), errc::malformed); }

TEST(json_reader, rejects_leading_zero_and_plus_sign) {
  EXPECT_FALSE(json::validate("012").ok());
  EXPECT_FALSE(json::validate("+12").ok());
  EXPECT_TRUE(json::validate("0.12").ok());
}

TEST(json_reader, rejects_raw_control_characters_in_strings) {
  for (int c = 0; c < 0x20; ++c) {
    const char doc[3] = {'"', static_cast<char>(c), '"'};
    EXPECT_FALSE(json::validate(std::string_view{doc, 3}).ok());
  }
  EXPECT_TRUE(json::validate("\" \"").ok());
}

TEST(json_reader, accepts_only_the_defined_escapes) {
  for (int c = 0x20; c < 0x7f; ++c) {
    const char doc[4] = {'"', '\\', static_cast<char>(c), '"'};
    const bool defined = std::strchr("\"\\/bfnrt", c) != nullptr;
    EXPECT_EQ(json::validate(std::string_view{doc, 4}).ok(), defined);
  }
}

TEST(json_reader, rejects_truncated_documents_at_every_length) {
  constexpr std::string_view doc = "{\"a\":[1,2.5e3,{\"b\":\"x\\u0041y\"}],\"c\":true,\"d\":null}"sv;
  ASSERT_TRUE(json::validate(doc).ok());
  for (std::size_t n = 0; n < doc.size(); ++n) {
    EXPECT_EQ(misjudged(doc.substr(0, n), false), std::string_view{});
  }
}

// ---------------------------------------------------------------------------------------------
// Depth limit

char deep_buffer[4 * TBMQTT_JSON_MAX_DEPTH + 5000];

std::string_view nested_arrays(std::size_t depth) {
  for (std::size_t i = 0; i < depth; ++i) {
    deep_buffer[i] = '[';
    deep_buffer[2 * depth - 1 - i] = ']';
  }
  return {deep_buffer, 2 * depth};
}

TEST(json_reader, accepts_nesting_up_to_the_depth_limit) {
  EXPECT_TRUE(json::validate(nested_arrays(TBMQTT_JSON_MAX_DEPTH)).ok());
}

TEST(json_reader, rejects_nesting_one_beyond_the_depth_limit) {
  EXPECT_EQ(json::validate(nested_arrays(TBMQTT_JSON_MAX_DEPTH + 1)).error(), errc::malformed);
}

// {"a":[{"a":[ ... 0 ]}]}: objects and arrays alternating, `depth` levels.
std::string_view nested_mixed(int depth) {
  std::size_t n = 0;
  for (int i = 0; i < depth; ++i) {
    const char* open = (i % 2 == 0) ? "{\"a\":" : "[";
    for (const char* p = open; *p; ++p) deep_buffer[n++] = *p;
  }
  deep_buffer[n++] = '0';
  for (int i = depth - 1; i >= 0; --i) deep_buffer[n++] = (i % 2 == 0) ? '}' : ']';
  return {deep_buffer, n};
}

TEST(json_reader, counts_objects_and_arrays_alike_towards_the_depth_limit) {
  EXPECT_TRUE(json::validate(nested_mixed(TBMQTT_JSON_MAX_DEPTH)).ok());
  EXPECT_FALSE(json::validate(nested_mixed(TBMQTT_JSON_MAX_DEPTH + 1)).ok());
  EXPECT_TRUE(json::validate(nested_mixed(TBMQTT_JSON_MAX_DEPTH - 1)).ok());
}

TEST(json_reader, rejects_very_deep_input_without_running_out_of_stack) {
  std::memset(deep_buffer, '[', sizeof deep_buffer);
  EXPECT_EQ(json::validate(std::string_view{deep_buffer, sizeof deep_buffer}).error(), errc::malformed);
}

// ---------------------------------------------------------------------------------------------
// Values and lookups

TEST(json_value, parse_returns_the_top_level_value_without_whitespace) {
  auto r = json::value::parse("  {\"a\" : 1}\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().type(), json::kind::object);
  EXPECT_EQ(r.value().raw(), std::string_view{"{\"a\" : 1}"});
}

TEST(json_value, parse_reports_malformed_text) { EXPECT_EQ(json::value::parse("{\"a\":}").error(), errc::malformed); }

TEST(json_value, default_value_is_absent) {
  json::value v;
  EXPECT_FALSE(v.present());
  EXPECT_EQ(v.type(), json::kind::absent);
  EXPECT_EQ(v.raw(), std::string_view{});
  EXPECT_EQ(v.size(), std::size_t{0});
  EXPECT_EQ(v.as_int().error(), errc::wrong_type);
}

TEST(json_value, from_validated_classifies_by_first_character) {
  EXPECT_EQ(json::value::from_validated("{}").type(), json::kind::object);
  EXPECT_EQ(json::value::from_validated("[]").type(), json::kind::array);
  EXPECT_EQ(json::value::from_validated("\"s\"").type(), json::kind::string);
  EXPECT_EQ(json::value::from_validated("true").type(), json::kind::boolean);
  EXPECT_EQ(json::value::from_validated("false").type(), json::kind::boolean);
  EXPECT_EQ(json::value::from_validated("null").type(), json::kind::null);
  EXPECT_EQ(json::value::from_validated("-1").type(), json::kind::number);
  EXPECT_EQ(json::value::from_validated("7").type(), json::kind::number);
  EXPECT_EQ(json::value::from_validated("").type(), json::kind::absent);
  EXPECT_EQ(json::value::from_validated("   ").type(), json::kind::absent);
}

TEST(json_value, from_validated_stops_at_the_end_of_the_value) {
  EXPECT_EQ(json::value::from_validated("[1,[2]] , 3").raw(), std::string_view{"[1,[2]]"});
  EXPECT_EQ(json::value::from_validated("{\"}\":\"]\"}]").raw(), std::string_view{"{\"}\":\"]\"}"});
  EXPECT_EQ(json::value::from_validated("\"a\\\"b\",1").raw(), std::string_view{"\"a\\\"b\""});
  EXPECT_EQ(json::value::from_validated("12.5}").raw(), std::string_view{"12.5"});
  EXPECT_EQ(json::value::from_validated(" true ").raw(), std::string_view{"true"});
}

TEST(json_value, type_predicates_match_the_kind) {
  const auto doc = parse_ok("[null,true,1,\"s\",[],{}]");
  EXPECT_TRUE(doc.at(0).is_null());
  EXPECT_TRUE(doc.at(1).is_bool());
  EXPECT_TRUE(doc.at(2).is_number());
  EXPECT_TRUE(doc.at(3).is_string());
  EXPECT_TRUE(doc.at(4).is_array());
  EXPECT_TRUE(doc.at(5).is_object());
  EXPECT_FALSE(doc.at(5).is_array());
  EXPECT_TRUE(doc.at(0).present());
  EXPECT_FALSE(doc.at(6).present());
}

TEST(json_value, lookup_finds_members_by_key) {
  const auto doc = parse_ok("{\"a\":1, \"b\" : \"two\", \"c\":[3]}");
  EXPECT_EQ(doc["a"].raw(), std::string_view{"1"});
  EXPECT_EQ(doc["b"].raw(), std::string_view{"\"two\""});
  EXPECT_EQ(doc["c"].raw(), std::string_view{"[3]"});
}

TEST(json_value, lookup_of_missing_key_is_absent) {
  const auto doc = parse_ok("{\"a\":1}");
  EXPECT_FALSE(doc["b"].present());
  EXPECT_FALSE(doc["A"].present());
  EXPECT_FALSE(doc[""].present());
  EXPECT_FALSE(parse_ok("{}")["a"].present());
}

TEST(json_value, lookups_chain_through_missing_members) {
  const auto doc = parse_ok("{\"a\":{\"b\":{\"c\":42}},\"list\":[{\"id\":7}]}");
  EXPECT_EQ(doc["a"]["b"]["c"].as_int().value(), 42);
  EXPECT_EQ(doc["list"].at(0)["id"].as_int().value(), 7);
  EXPECT_FALSE(doc["x"]["y"]["z"].present());
  EXPECT_FALSE(doc["a"]["b"]["c"]["d"].present());
  EXPECT_EQ(doc["x"]["y"].as_int().error(), errc::wrong_type);
  EXPECT_FALSE(doc["list"].at(1)["id"].present());
}

TEST(json_value, lookup_returns_the_first_of_repeated_keys) {
  EXPECT_EQ(parse_ok("{\"a\":1,\"a\":2}")["a"].as_int().value(), 1);
}

TEST(json_value, lookup_compares_keys_after_unescaping) {
  const auto doc = parse_ok("{\"a\\\"b\":1,\"\\u0041\":2,\"caf\\u00e9\":3,\"x\\/y\":4}");
  EXPECT_EQ(doc["a\"b"].as_int().value(), 1);
  EXPECT_EQ(doc["A"].as_int().value(), 2);
  EXPECT_EQ(doc["caf\xc3\xa9"].as_int().value(), 3);
  EXPECT_EQ(doc["x/y"].as_int().value(), 4);
  EXPECT_FALSE(doc["\\u0041"].present());
}

TEST(json_value, lookup_is_absent_on_non_objects) {
  EXPECT_FALSE(parse_ok("[1]")["0"].present());
  EXPECT_FALSE(parse_ok("\"a\"")["a"].present());
  EXPECT_FALSE(parse_ok("null")["a"].present());
}

TEST(json_value, at_indexes_arrays) {
  const auto doc = parse_ok("[10, [20], {\"k\":30}, \"40\"]");
  EXPECT_EQ(doc.at(0).as_int().value(), 10);
  EXPECT_EQ(doc.at(1).at(0).as_int().value(), 20);
  EXPECT_EQ(doc.at(2)["k"].as_int().value(), 30);
  EXPECT_EQ(doc.at(3).as_string().value(), std::string_view{"40"});
  EXPECT_FALSE(doc.at(4).present());
  EXPECT_FALSE(doc.at(static_cast<std::size_t>(-1)).present());
}

TEST(json_value, at_is_absent_on_non_arrays) {
  EXPECT_FALSE(parse_ok("{\"a\":1}").at(0).present());
  EXPECT_FALSE(parse_ok("5").at(0).present());
  EXPECT_FALSE(parse_ok("[]").at(0).present());
}

TEST(json_value, size_counts_members_and_elements) {
  EXPECT_EQ(parse_ok("{\"a\":1,\"b\":{\"c\":2,\"d\":3}}").size(), std::size_t{2});
  EXPECT_EQ(parse_ok("[1,[2,3],{},\"4,5\"]").size(), std::size_t{4});
  EXPECT_EQ(parse_ok("[]").size(), std::size_t{0});
  EXPECT_EQ(parse_ok("{ }").size(), std::size_t{0});
  EXPECT_EQ(parse_ok("\"abc\"").size(), std::size_t{0});
  EXPECT_EQ(parse_ok("12").size(), std::size_t{0});
}

// ---------------------------------------------------------------------------------------------
// Iteration

TEST(json_members, iterate_in_order_with_raw_keys_and_values) {
  const auto doc = parse_ok(" { \"a\" : 1 , \"b\\n\" : [ 2 , 3 ] , \"c\" : { \"d\" : null } } ");
  std::size_t n = 0;
  for (const json::member m : doc.members()) {
    if (n == 0) {
      EXPECT_EQ(m.key, std::string_view{"a"});
      EXPECT_EQ(m.val.as_int().value(), 1);
    } else if (n == 1) {
      EXPECT_EQ(m.key, std::string_view{"b\\n"});
      EXPECT_TRUE(json::key_equals(m.key, "b\n"));
      EXPECT_EQ(m.val.raw(), std::string_view{"[ 2 , 3 ]"});
      EXPECT_EQ(m.val.size(), std::size_t{2});
    } else if (n == 2) {
      EXPECT_EQ(m.key, std::string_view{"c"});
      EXPECT_TRUE(m.val["d"].is_null());
    }
    ++n;
  }
  EXPECT_EQ(n, std::size_t{3});
}

TEST(json_members, empty_object_has_no_members) {
  std::size_t n = 0;
  for (const json::member m : parse_ok("{}").members()) {
    (void)m;
    ++n;
  }
  for (const json::member m : parse_ok("{ \n }").members()) {
    (void)m;
    ++n;
  }
  EXPECT_EQ(n, std::size_t{0});
}

TEST(json_members, non_object_has_no_members) {
  EXPECT_FALSE(parse_ok("[1,2]").members().begin() != parse_ok("[1,2]").members().end());
  EXPECT_FALSE(json::value{}.members().begin() != json::value{}.members().end());
}

TEST(json_members, values_containing_brackets_in_strings_do_not_confuse_iteration) {
  const auto doc = parse_ok("{\"a\":\"}]\",\"b\":[\"[\",\"\\\"]\"],\"c\":3}");
  EXPECT_EQ(doc.size(), std::size_t{3});
  EXPECT_EQ(doc["c"].as_int().value(), 3);
  EXPECT_EQ(doc["b"].at(1).raw(), std::string_view{"\"\\\"]\""});
}

TEST(json_elements, iterate_in_order_including_nested_values) {
  const auto doc = parse_ok("[1, \"two\", [3, [4]], {\"five\":5}, true, null]");
  const json::kind expected[] = {json::kind::number, json::kind::string,  json::kind::array,
                                 json::kind::object, json::kind::boolean, json::kind::null};
  std::size_t n = 0;
  for (const json::value v : doc.elements()) {
    ASSERT_TRUE(n < 6);
    EXPECT_EQ(v.type(), expected[n]);
    ++n;
  }
  EXPECT_EQ(n, std::size_t{6});
  std::int64_t sum = 0;
  for (const json::value v : doc.at(2).elements()) {
    sum += v.is_number() ? v.as_int().value() : v.at(0).as_int().value();
  }
  EXPECT_EQ(sum, 7);
}

TEST(json_elements, empty_array_has_no_elements) {
  std::size_t n = 0;
  for (const json::value v : parse_ok("[ ]").elements()) {
    (void)v;
    ++n;
  }
  EXPECT_EQ(n, std::size_t{0});
}

TEST(json_elements, non_array_has_no_elements) {
  EXPECT_FALSE(parse_ok("{\"a\":1}").elements().begin() != parse_ok("{}").elements().end());
  EXPECT_FALSE(parse_ok("\"[1]\"").elements().begin() != json::element_range::iterator{});
}

TEST(json_elements, iterators_at_the_same_position_compare_equal) {
  const auto doc = parse_ok("[1,2]");
  auto a = doc.elements().begin();
  auto b = doc.elements().begin();
  EXPECT_FALSE(a != b);
  ++a;
  EXPECT_TRUE(a != b);
  ++b;
  EXPECT_FALSE(a != b);
  ++a;
  EXPECT_FALSE(a != doc.elements().end());
  ++a;  // incrementing the end stays at the end
  EXPECT_FALSE(a != doc.elements().end());
}

// ---------------------------------------------------------------------------------------------
// Conversions

TEST(json_as_int, reads_integers) {
  EXPECT_EQ(parse_ok("0").as_int().value(), 0);
  EXPECT_EQ(parse_ok("-0").as_int().value(), 0);
  EXPECT_EQ(parse_ok("42").as_int().value(), 42);
  EXPECT_EQ(parse_ok("-17").as_int().value(), -17);
  EXPECT_EQ(parse_ok("1700000000000").as_int().value(), 1700000000000);
}

TEST(json_as_int, accepts_the_int64_limits_and_rejects_beyond) {
  EXPECT_EQ(parse_ok("9223372036854775807").as_int().value(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(parse_ok("-9223372036854775808").as_int().value(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(parse_ok("9223372036854775808").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("-9223372036854775809").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("18446744073709551616").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("99999999999999999999999").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("1e19").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("9.223372036854775807e18").as_int().value(), std::numeric_limits<std::int64_t>::max());
}

TEST(json_as_int, accepts_exponents_that_give_an_integer) {
  EXPECT_EQ(parse_ok("1e2").as_int().value(), 100);
  EXPECT_EQ(parse_ok("1E+2").as_int().value(), 100);
  EXPECT_EQ(parse_ok("1.5e1").as_int().value(), 15);
  EXPECT_EQ(parse_ok("100e-2").as_int().value(), 1);
  EXPECT_EQ(parse_ok("-2.50e2").as_int().value(), -250);
  EXPECT_EQ(parse_ok("1.0").as_int().value(), 1);
  EXPECT_EQ(parse_ok("0e999999999999999999").as_int().value(), 0);
  EXPECT_EQ(parse_ok("0.000e-5").as_int().value(), 0);
}

TEST(json_as_int, rejects_fractions) {
  EXPECT_EQ(parse_ok("1.5").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("-0.1").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("15e-1").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("1e-999999999999999999").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("1e999999999999999999").as_int().error(), errc::wrong_type);
}

TEST(json_as_int, rejects_non_numbers) {
  EXPECT_EQ(parse_ok("\"1\"").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("true").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("null").as_int().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("[1]").as_int().error(), errc::wrong_type);
}

TEST(json_as_double, reads_numbers) {
  EXPECT_TRUE(parse_ok("21.5").as_double().value() == 21.5);
  EXPECT_TRUE(parse_ok("-0.5e-3").as_double().value() == -0.0005);
  EXPECT_TRUE(parse_ok("123").as_double().value() == 123.0);
  EXPECT_TRUE(parse_ok("1E2").as_double().value() == 100.0);
  EXPECT_TRUE(parse_ok("0.1").as_double().value() == 0.1);
  EXPECT_TRUE(parse_ok("1.7976931348623157e308").as_double().value() == std::numeric_limits<double>::max());
}

TEST(json_as_double, reads_underflow_as_zero_and_rejects_overflow) {
  EXPECT_TRUE(parse_ok("1e-400").as_double().value() == 0.0);
  EXPECT_TRUE(parse_ok("-1e-400").as_double().value() == 0.0);
  EXPECT_EQ(parse_ok("1e400").as_double().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("-1e400").as_double().error(), errc::wrong_type);
}

TEST(json_as_double, rejects_non_numbers) {
  EXPECT_EQ(parse_ok("\"1.5\"").as_double().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("false").as_double().error(), errc::wrong_type);
}

TEST(json_as_bool, reads_booleans_only) {
  EXPECT_TRUE(parse_ok("true").as_bool().value());
  EXPECT_FALSE(parse_ok("false").as_bool().value());
  EXPECT_EQ(parse_ok("1").as_bool().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("\"true\"").as_bool().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("null").as_bool().error(), errc::wrong_type);
}

TEST(json_as_string, returns_the_text_of_a_string_without_escapes) {
  EXPECT_EQ(parse_ok("\"hello\"").as_string().value(), std::string_view{"hello"});
  EXPECT_EQ(parse_ok("\"\"").as_string().value(), std::string_view{});
  EXPECT_EQ(parse_ok("\"caf\xc3\xa9\"").as_string().value(), std::string_view{"caf\xc3\xa9"});
}

TEST(json_as_string, asks_for_a_buffer_when_the_string_has_escapes) {
  EXPECT_EQ(parse_ok("\"a\\nb\"").as_string().error(), errc::need_more);
}

TEST(json_as_string, rejects_non_strings) {
  char buf[8];
  EXPECT_EQ(parse_ok("1").as_string().error(), errc::wrong_type);
  EXPECT_EQ(parse_ok("null").as_string(buf).error(), errc::wrong_type);
  EXPECT_EQ(json::value{}.as_string(buf).error(), errc::wrong_type);
}

TEST(json_as_string, decodes_simple_escapes) {
  char buf[32];
  const auto r = parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t.\"").as_string(buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), std::string_view{"\"\\/\b\f\n\r\t."});
  EXPECT_TRUE(r.value().data() == buf);
}

TEST(json_as_string, copies_a_string_without_escapes_into_the_buffer) {
  char buf[8];
  EXPECT_EQ(parse_ok("\"plain\"").as_string(buf).value(), std::string_view{"plain"});
  EXPECT_EQ(parse_ok("\"\"").as_string(span<char>{}).value(), std::string_view{});
}

TEST(json_as_string, decodes_unicode_escapes_to_utf8) {
  char buf[32];
  EXPECT_EQ(parse_ok("\"\\u0041\\u00e9\\u20AC\"").as_string(buf).value(), std::string_view{"A\xc3\xa9\xe2\x82\xac"});
  EXPECT_EQ(parse_ok("\"\\u0000\"").as_string(buf).value(), "\0"sv);
  EXPECT_EQ(parse_ok("\"\\ud83d\\ude00\"").as_string(buf).value(), std::string_view{"\xf0\x9f\x98\x80"});
  EXPECT_EQ(parse_ok("\"\\uDBFF\\uDFFF\"").as_string(buf).value(), std::string_view{"\xf4\x8f\xbf\xbf"});
}

TEST(json_as_string, decodes_lone_surrogates_as_replacement_character) {
  char buf[32];
  EXPECT_EQ(parse_ok("\"\\ud800\"").as_string(buf).value(), std::string_view{"\xef\xbf\xbd"});
  EXPECT_EQ(parse_ok("\"\\udc00x\"").as_string(buf).value(), std::string_view{"\xef\xbf\xbdx"});
  EXPECT_EQ(parse_ok("\"\\ud800\\u0041\"").as_string(buf).value(), std::string_view{"\xef\xbf\xbd"
                                                                                    "A"});
  EXPECT_EQ(parse_ok("\"\\ud800\\ud800\\udc00\"").as_string(buf).value(),
            std::string_view{"\xef\xbf\xbd\xf0\x90\x80\x80"});
}

TEST(json_as_string, reports_not_enough_space_for_every_short_buffer) {
  const auto v = parse_ok("\"ab\\u00e9\\ud83d\\ude00\\n\"");
  constexpr std::string_view expected = "ab\xc3\xa9\xf0\x9f\x98\x80\n"sv;
  char buf[16];
  for (std::size_t n = 0; n < expected.size(); ++n) {
    std::memset(buf, '#', sizeof buf);
    EXPECT_EQ(v.as_string(span<char>{buf, n}).error(), errc::not_enough_space);
    for (std::size_t k = n; k < sizeof buf; ++k) EXPECT_EQ(buf[k], '#');
  }
  EXPECT_EQ(v.as_string(span<char>{buf, expected.size()}).value(), expected);
}

TEST(json_key_equals, compares_plain_and_escaped_keys) {
  EXPECT_TRUE(json::key_equals("temp", "temp"));
  EXPECT_FALSE(json::key_equals("temp", "tem"));
  EXPECT_FALSE(json::key_equals("tem", "temp"));
  EXPECT_TRUE(json::key_equals("", ""));
  EXPECT_TRUE(json::key_equals("a\\\"b", "a\"b"));
  EXPECT_FALSE(json::key_equals("a\\\"b", "a\\\"b"));
  EXPECT_TRUE(json::key_equals("\\u0074emp", "temp"));
  EXPECT_FALSE(json::key_equals("\\u0074emp", "temp2"));
  EXPECT_FALSE(json::key_equals("\\u0074emp", "tem"));
  EXPECT_TRUE(json::key_equals("\\ud83d\\ude00", "\xf0\x9f\x98\x80"));
  EXPECT_TRUE(json::key_equals("\\u00e9t\\u00e9", "\xc3\xa9t\xc3\xa9"));
  EXPECT_FALSE(json::key_equals("\\u00e9", "\xc3"));
  EXPECT_FALSE(json::key_equals("\\", "\\"));  // not a valid raw key: never equal
}

// ---------------------------------------------------------------------------------------------
// Writer

std::string_view written(const json::writer& w) {
  auto r = w.finish();
  return r.ok() ? r.value() : "<error>"sv;
}

TEST(json_writer, writes_the_example_from_the_header) {
  char buf[128];
  json::writer w{buf};
  w.begin_object().key("temp").value(21.5).key("on").value(true).end_object();
  EXPECT_EQ(written(w), std::string_view{"{\"temp\":21.5,\"on\":true}"});
  EXPECT_EQ(w.size(), std::size_t{23});
  EXPECT_EQ(w.error(), errc{});
}

TEST(json_writer, writes_every_scalar_type) {
  char buf[64];
  json::writer w{buf};
  w.begin_array().value(true).value(false).null().value(0).value(-7).value(7u).value(8L).value(9LL);
  w.value(10UL).value(11ULL).value(std::int64_t{-12}).value(std::uint64_t{13}).value("s").end_array();
  EXPECT_EQ(written(w), std::string_view{"[true,false,null,0,-7,7,8,9,10,11,-12,13,\"s\"]"});
}

TEST(json_writer, writes_small_integer_types) {
  char buf[64];
  json::writer w{buf};
  w.begin_array().value(std::int8_t{-8}).value(std::uint8_t{200}).value(std::int16_t{-300});
  w.value(std::uint16_t{60000}).value(std::int32_t{-70000}).value(std::uint32_t{4000000000u}).end_array();
  EXPECT_EQ(written(w), std::string_view{"[-8,200,-300,60000,-70000,4000000000]"});
}

TEST(json_writer, writes_integer_limits) {
  char buf[96];
  json::writer w{buf};
  w.begin_array()
      .value(std::numeric_limits<std::int64_t>::min())
      .value(std::numeric_limits<std::int64_t>::max())
      .value(std::numeric_limits<std::uint64_t>::max())
      .end_array();
  EXPECT_EQ(written(w), std::string_view{"[-9223372036854775808,9223372036854775807,18446744073709551615]"});
}

TEST(json_writer, writes_doubles_in_shortest_form) {
  char buf[128];
  json::writer w{buf};
  w.begin_array().value(21.5).value(21.0).value(0.1).value(-0.0).value(1e300).value(5e-324);
  w.value(1.5f).value(-123.456).end_array();
  EXPECT_EQ(written(w), std::string_view{"[21.5,21,0.1,-0,1e+300,5e-324,1.5,-123.456]"});
  auto doc = parse_ok(written(w));
  EXPECT_TRUE(doc.at(2).as_double().value() == 0.1);
  EXPECT_TRUE(doc.at(4).as_double().value() == 1e300);
  EXPECT_TRUE(doc.at(5).as_double().value() == 5e-324);
}

TEST(json_writer, rejects_nan_and_infinity) {
  char buf[32];
  json::writer w{buf};
  w.begin_array().value(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(w.error(), errc::invalid_argument);
  EXPECT_EQ(w.finish().error(), errc::invalid_argument);
  json::writer w2{buf};
  w2.value(std::numeric_limits<double>::infinity());
  EXPECT_EQ(w2.finish().error(), errc::invalid_argument);
  json::writer w3{buf};
  w3.value(-std::numeric_limits<float>::infinity());
  EXPECT_EQ(w3.finish().error(), errc::invalid_argument);
  EXPECT_EQ(w3.size(), std::size_t{0});
}

TEST(json_writer, errors_are_sticky) {
  char buf[32];
  json::writer w{buf};
  w.begin_array().value(std::numeric_limits<double>::quiet_NaN()).value(1).end_array();
  EXPECT_EQ(w.finish().error(), errc::invalid_argument);
  EXPECT_EQ(w.size(), std::size_t{1});
  char small[2];
  json::writer s{small};
  s.begin_array().value(123).value(std::numeric_limits<double>::quiet_NaN()).end_array();
  EXPECT_EQ(s.error(), errc::not_enough_space);
}

TEST(json_writer, escapes_strings) {
  char buf[128];
  json::writer w{buf};
  w.value("q\" b\\ s/ \b\f\n\r\t \x01\x1f \x7f caf\xc3\xa9");
  EXPECT_EQ(written(w), std::string_view{"\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0001\\u001f \x7f caf\xc3\xa9\""});
  w.reset();
  w.value("a\0b"sv);
  EXPECT_EQ(written(w), std::string_view{"\"a\\u0000b\""});
  w.reset();
  w.begin_object().key("k\"\n").value("").end_object();
  EXPECT_EQ(written(w), std::string_view{"{\"k\\\"\\n\":\"\"}"});
}

TEST(json_writer, rejects_strings_that_are_not_utf8) {
  char buf[32];
  json::writer w{buf};
  w.value("\xff");
  EXPECT_EQ(w.finish().error(), errc::invalid_argument);
  json::writer w2{buf};
  w2.begin_object().key("\xc3").value(1).end_object();
  EXPECT_EQ(w2.finish().error(), errc::invalid_argument);
}

TEST(json_writer, nests_objects_and_arrays) {
  char buf[128];
  json::writer w{buf};
  w.begin_object()
      .key("a")
      .begin_array()
      .begin_array()
      .end_array()
      .begin_object()
      .end_object()
      .value(1)
      .end_array()
      .key("b")
      .begin_object()
      .key("c")
      .begin_object()
      .key("d")
      .null()
      .end_object()
      .end_object()
      .key("e")
      .value("x")
      .end_object();
  EXPECT_EQ(written(w), std::string_view{"{\"a\":[[],{},1],\"b\":{\"c\":{\"d\":null}},\"e\":\"x\"}"});
}

TEST(json_writer, writes_empty_containers_and_top_level_scalars) {
  char buf[16];
  json::writer w{buf};
  w.begin_object().end_object();
  EXPECT_EQ(written(w), std::string_view{"{}"});
  w.reset();
  w.begin_array().end_array();
  EXPECT_EQ(written(w), std::string_view{"[]"});
  w.reset();
  w.value(5);
  EXPECT_EQ(written(w), std::string_view{"5"});
  w.reset();
  w.null();
  EXPECT_EQ(written(w), std::string_view{"null"});
}

TEST(json_writer, reports_unbalanced_documents) {
  char buf[32];
  json::writer w{buf};
  EXPECT_EQ(w.finish().error(), errc::invalid_argument);  // nothing written
  w.begin_object();
  EXPECT_EQ(w.finish().error(), errc::invalid_argument);
  w.key("a");
  EXPECT_EQ(w.finish().error(), errc::invalid_argument);
  w.value(1);
  EXPECT_EQ(w.finish().error(), errc::invalid_argument);
  EXPECT_EQ(w.error(), errc{});  // incomplete is not yet an error
  w.end_object();
  EXPECT_EQ(written(w), std::string_view{"{\"a\":1}"});
}

TEST(json_writer, rejects_misplaced_keys_values_and_closers) {
  char buf[32];
  json::writer w{buf};
  w.key("a");  // key outside an object
  EXPECT_EQ(w.error(), errc::invalid_argument);

  json::writer w2{buf};
  w2.begin_array().key("a");  // key inside an array
  EXPECT_EQ(w2.error(), errc::invalid_argument);

  json::writer w3{buf};
  w3.begin_object().value(1);  // value without key
  EXPECT_EQ(w3.error(), errc::invalid_argument);

  json::writer w4{buf};
  w4.begin_object().key("a").key("b");  // two keys in a row
  EXPECT_EQ(w4.error(), errc::invalid_argument);

  json::writer w5{buf};
  w5.begin_object().key("a").end_object();  // key without value
  EXPECT_EQ(w5.error(), errc::invalid_argument);

  json::writer w6{buf};
  w6.begin_object().end_array();  // mismatched closer
  EXPECT_EQ(w6.error(), errc::invalid_argument);

  json::writer w7{buf};
  w7.end_object();  // nothing open
  EXPECT_EQ(w7.error(), errc::invalid_argument);

  json::writer w8{buf};
  w8.value(1).value(2);  // two top-level values
  EXPECT_EQ(w8.error(), errc::invalid_argument);

  json::writer w9{buf};
  w9.begin_array().end_array().begin_array();  // second top-level container
  EXPECT_EQ(w9.finish().error(), errc::invalid_argument);
}

TEST(json_writer, raw_inserts_validated_json) {
  char buf[64];
  json::writer w{buf};
  w.begin_object().key("a").raw(" {\"x\":[1,2]} ").key("b").raw("3").end_object();
  EXPECT_EQ(written(w), std::string_view{"{\"a\":{\"x\":[1,2]},\"b\":3}"});
  json::writer w2{buf};
  w2.begin_array().raw("{\"x\":}");
  EXPECT_EQ(w2.finish().error(), errc::invalid_argument);
}

TEST(json_writer, raw_trusted_inserts_text_unchecked) {
  char buf[64];
  json::writer w{buf};
  w.begin_array().raw_trusted("{\"k\":true}").raw_trusted("2").end_array();
  EXPECT_EQ(written(w), std::string_view{"[{\"k\":true},2]"});
}

TEST(json_writer, limits_nesting_depth) {
  constexpr int max = TBMQTT_JSON_MAX_DEPTH < 32 ? TBMQTT_JSON_MAX_DEPTH : 32;
  char buf[2 * 32 + 8];
  json::writer w{buf};
  for (int i = 0; i < max; ++i) w.begin_array();
  for (int i = 0; i < max; ++i) w.end_array();
  ASSERT_TRUE(w.finish().ok());
  EXPECT_TRUE(json::validate(w.finish().value()).ok());
  json::writer w2{buf};
  for (int i = 0; i <= max; ++i) w2.begin_array();
  EXPECT_EQ(w2.error(), errc::not_enough_space);
}

TEST(json_writer, reset_forgets_errors_and_text) {
  char buf[4];
  json::writer w{buf};
  w.value("too long");
  EXPECT_EQ(w.error(), errc::not_enough_space);
  w.reset();
  EXPECT_EQ(w.error(), errc{});
  EXPECT_EQ(w.size(), std::size_t{0});
  w.value(12);
  EXPECT_EQ(written(w), std::string_view{"12"});
}

void write_sample(json::writer& w) {
  w.begin_object()
      .key("ts")
      .value(std::int64_t{1700000000123})
      .key("values")
      .begin_object()
      .key("temp")
      .value(21.5)
      .key("name")
      .value("dev\"1\"\n")
      .key("ok")
      .value(true)
      .key("list")
      .begin_array()
      .value(1)
      .null()
      .value(-2.25)
      .begin_array()
      .end_array()
      .end_array()
      .key("nested")
      .raw("{\"a\":[]}")
      .end_object()
      .end_object();
}

TEST(json_writer, reports_not_enough_space_at_every_short_buffer_length_and_stays_inside) {
  char full[256];
  json::writer reference{full};
  write_sample(reference);
  ASSERT_TRUE(reference.finish().ok());
  const std::string_view expected = reference.finish().value();
  ASSERT_TRUE(expected.size() + 16 <= sizeof full);

  char buf[256 + 16];
  for (std::size_t len = 0; len <= expected.size(); ++len) {
    std::memset(buf, '#', sizeof buf);
    json::writer w{span<char>{buf, len}};
    write_sample(w);
    const auto r = w.finish();
    if (len < expected.size()) {
      EXPECT_EQ(r.error(), errc::not_enough_space);
      EXPECT_TRUE(w.size() <= len);
    } else {
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r.value(), expected);
    }
    for (std::size_t k = len; k < sizeof buf; ++k) EXPECT_EQ(buf[k], '#');
  }
}

TEST(json_writer, writes_nothing_into_an_empty_buffer) {
  json::writer w{span<char>{}};
  w.value(true);
  EXPECT_EQ(w.finish().error(), errc::not_enough_space);
  EXPECT_EQ(w.size(), std::size_t{0});
}

TEST(json_round_trip, writer_output_parses_back_to_the_same_values) {
  char buf[256];
  json::writer w{buf};
  write_sample(w);
  ASSERT_TRUE(w.finish().ok());
  const auto doc = parse_ok(w.finish().value());
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["ts"].as_int().value(), 1700000000123);
  const auto values = doc["values"];
  EXPECT_TRUE(values["temp"].as_double().value() == 21.5);
  char text[32];
  EXPECT_EQ(values["name"].as_string(text).value(), std::string_view{"dev\"1\"\n"});
  EXPECT_TRUE(values["ok"].as_bool().value());
  EXPECT_EQ(values["list"].size(), std::size_t{4});
  EXPECT_EQ(values["list"].at(0).as_int().value(), 1);
  EXPECT_TRUE(values["list"].at(1).is_null());
  EXPECT_TRUE(values["list"].at(2).as_double().value() == -2.25);
  EXPECT_TRUE(values["list"].at(3).is_array());
  EXPECT_EQ(values["nested"]["a"].size(), std::size_t{0});
}

TEST(json_round_trip, doubles_read_back_exactly) {
  const double samples[] = {0.0,
                            1.0,
                            -1.0,
                            0.1,
                            1.0 / 3.0,
                            123456.789,
                            1e-300,
                            2.2250738585072014e-308,
                            4.9e-324,
                            1.7976931348623157e308,
                            9007199254740993.0,
                            -273.15};
  for (double d : samples) {
    char buf[40];
    json::writer w{buf};
    w.value(d);
    ASSERT_TRUE(w.finish().ok());
    EXPECT_TRUE(parse_ok(w.finish().value()).as_double().value() == d);
  }
}

TEST(json_round_trip, strings_read_back_exactly) {
  char all[128];
  for (int i = 0; i < 128; ++i) all[i] = static_cast<char>(i);
  const std::string_view samples[] = {std::string_view{all, 128}, "caf\xc3\xa9 \xf0\x9f\x98\x80"sv, ""sv};
  for (std::string_view s : samples) {
    char buf[1024];
    json::writer w{buf};
    w.value(s);
    ASSERT_TRUE(w.finish().ok());
    char out[256];
    EXPECT_EQ(parse_ok(w.finish().value()).as_string(out).value(), s);
  }
}

}  // namespace
