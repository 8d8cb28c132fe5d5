// Tests of src/core/protobuf.cpp (the schema-driven protobuf codec). Expected bytes come from `protoc --encode` over the schemas in
// tests/emulator/proto/ (the device profile's .proto files the emulator tests use).
// Portable: runs on the host and on the Cortex-M image (tests/embedded/run.sh).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "profile_schemas.hpp"
#include "tbmqtt/protobuf.hpp"

namespace pb = tbmqtt::protobuf;
using tbmqtt::errc;
using tbmqtt::span;

using namespace tbmqtt_test::profile;

namespace {

// A message with every scalar kind and repeated fields.
constexpr pb::field_desc all_fields[] = {
    {"s32", "s32", 1, pb::field_type::sint32},
    {"u64", "u64", 2, pb::field_type::uint64},
    {"f32", "f32", 3, pb::field_type::fixed32},
    {"sf64", "sf64", 4, pb::field_type::sfixed64},
    {"fl", "fl", 5, pb::field_type::float_},
    {"nums", "nums", 6, pb::field_type::int32, true},
    {"names", "names", 7, pb::field_type::string, true},
    {"i32", "i32", 8, pb::field_type::int32},
};
const pb::message_desc all{"t.All", all_fields, 8};

// protoc --encode=telemetry.SensorDataReading: temperature 21.5, humidity 40, uptime_s 7, status "ok"
constexpr std::uint8_t reading_bytes[] = {0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x35, 0x40, 0x11, 0x00, 0x00,
                                          0x00, 0x00, 0x00, 0x00, 0x44, 0x40, 0x18, 0x07, 0x22, 0x02, 0x6f, 0x6b};
// protoc --encode=rpc.RpcRequestMsg: method "setGpio" requestId 3 params { pin: 4 value: true }
constexpr std::uint8_t rpc_bytes[] = {0x0a, 0x07, 0x73, 0x65, 0x74, 0x47, 0x70, 0x69, 0x6f,
                                      0x10, 0x03, 0x1a, 0x04, 0x08, 0x04, 0x10, 0x01};

template <std::size_t N>
span<const std::byte> bytes_of(const std::uint8_t (&a)[N]) {
  return {reinterpret_cast<const std::byte*>(a), N};
}

bool same(span<const std::byte> got, span<const std::byte> want) {
  return got.size() == want.size() && std::memcmp(got.data(), want.data(), got.size()) == 0;
}

}  // namespace

// ---- writer ---------------------------------------------------------------------------------------

TEST(protobuf, writer_by_key_matches_protoc) {
  std::byte buf[64];
  pb::writer w(buf);
  w.add(reading, "temperature", 21.5).add(reading, "humidity", 40).add(reading, "uptimeS", 7);
  w.add(reading, "status", "ok");
  auto out = w.finish();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(same(*out, bytes_of(reading_bytes)));
}

TEST(protobuf, writer_nested_message_matches_protoc) {
  std::byte buf[64];
  pb::writer w(buf);
  w.add(rpc, "method", "setGpio").add(rpc, "requestId", 3);
  w.begin(*rpc.find("params")).add(params, "pin", 4).add(params, "value", true).end();
  auto out = w.finish();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(same(*out, bytes_of(rpc_bytes)));
}

TEST(protobuf, writer_widens_a_nested_length_over_127_bytes) {
  std::byte buf[256];
  char text[200];
  std::memset(text, 'x', sizeof text);
  pb::writer w(buf);
  w.begin(*rpc.find("params")).tag(9, pb::wire::len).varint(sizeof text);
  w.bytes(span<const std::byte>(reinterpret_cast<const std::byte*>(text), sizeof text)).end();
  auto out = w.finish();
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u + 2u + 1u + 2u + sizeof text);
  EXPECT_EQ(static_cast<unsigned>(out->data()[1]), 0x80u | ((1 + 2 + 200) & 0x7F));  // 203 = 0xCB 0x01
  EXPECT_EQ(static_cast<unsigned>(out->data()[2]), 1u);
  EXPECT_TRUE(pb::validate(rpc, *out).ok());
}

TEST(protobuf, writer_errors_are_typed_and_sticky) {
  std::byte buf[8];
  pb::writer small(buf);
  small.add(reading, "status", "far too long for eight bytes");
  EXPECT_EQ(small.finish().error(), errc::not_enough_space);
  std::byte big[64];
  pb::writer w(big);
  w.add(reading, "nope", 1);
  EXPECT_EQ(w.finish().error(), errc::not_found);
  pb::writer t(big);
  t.add(reading, "status", 5);
  EXPECT_EQ(t.finish().error(), errc::wrong_type);
  pb::writer r(big);
  r.add(all, "i32", std::int64_t{1} << 40);  // does not fit an int32
  EXPECT_EQ(r.finish().error(), errc::wrong_type);
  pb::writer f(big);
  f.add(all, "i32", 1.5);  // not integral
  EXPECT_EQ(f.finish().error(), errc::wrong_type);
  pb::writer open(big);
  open.begin(*rpc.find("params"));
  EXPECT_EQ(open.finish().error(), errc::invalid_argument);
  pb::writer unbalanced(big);
  unbalanced.end();
  EXPECT_EQ(unbalanced.finish().error(), errc::invalid_argument);
}

TEST(protobuf, writer_negative_int32_is_ten_bytes_sint32_is_zigzag) {
  std::byte buf[32];
  pb::writer w(buf);
  w.add(all, "i32", -1);
  ASSERT_TRUE(w.finish().ok());
  EXPECT_EQ(w.size(), 11u);
  pb::writer z(buf);
  z.add(all, "s32", -1);
  ASSERT_TRUE(z.finish().ok());
  ASSERT_EQ(z.size(), 2u);
  EXPECT_EQ(static_cast<unsigned>(buf[1]), 1u);
}

// ---- reader / validate ----------------------------------------------------------------------------

TEST(protobuf, reader_walks_fields) {
  pb::reader r(bytes_of(reading_bytes));
  pb::field_view f;
  std::uint32_t numbers[4] = {};
  int n = 0;
  for (auto more = r.next(f); more.ok() && *more; more = r.next(f)) numbers[n++] = f.number;
  ASSERT_EQ(n, 4);
  EXPECT_EQ(numbers[3], 4u);
  EXPECT_EQ(f.type, pb::wire::len);
  EXPECT_EQ(f.data.size(), 2u);
}

TEST(protobuf, malformed_input_is_rejected) {
  const std::uint8_t truncated_len[] = {0x22, 0x05, 'o', 'k'};
  const std::uint8_t truncated_double[] = {0x09, 0x00, 0x00};
  const std::uint8_t bad_wire[] = {0x0e, 0x00};    // wire type 6
  const std::uint8_t field_zero[] = {0x00, 0x01};  // field number 0
  const std::uint8_t long_varint[] = {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  const std::uint8_t stray_end[] = {0x0c};  // end group without a start
  const std::uint8_t bad_utf8[] = {0x22, 0x02, 0xc3, 0x28};
  for (auto in : {bytes_of(truncated_len), bytes_of(truncated_double), bytes_of(bad_wire), bytes_of(field_zero),
                  bytes_of(long_varint), bytes_of(stray_end), bytes_of(bad_utf8)}) {
    EXPECT_EQ(pb::validate(reading, in).error(), errc::malformed);
    char out[128];
    EXPECT_EQ(pb::decode_json(reading, in, out).error(), errc::malformed);
  }
  // A nested message that does not parse fails the whole message.
  const std::uint8_t bad_nested[] = {0x1a, 0x02, 0x08, 0x80};
  EXPECT_EQ(pb::validate(rpc, bytes_of(bad_nested)).error(), errc::malformed);
}

TEST(protobuf, wrong_wire_type_and_groups_are_unknown_fields) {
  // Field 1 as a varint where the schema has a double; an unknown group 15 with a field inside.
  const std::uint8_t in[] = {0x08, 0x2a, 0x7b, 0x08, 0x01, 0x7c, 0x22, 0x02, 'h', 'i'};
  EXPECT_TRUE(pb::validate(reading, bytes_of(in)).ok());
  char out[128];
  auto text = pb::decode_json(reading, bytes_of(in), out);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"status":"hi"})"));
}

// ---- JSON -----------------------------------------------------------------------------------------

TEST(protobuf, decode_json_like_thingsboard) {
  char out[256];
  auto text = pb::decode_json(reading, bytes_of(reading_bytes), out);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"temperature":21.5,"humidity":40,"uptimeS":7,"status":"ok"})"));
  // includingDefaultValueFields(): absent scalars print their default, proto3 optional ones do not;
  // int64 as a string as JsonFormat does.
  const std::uint8_t only_status[] = {0x22, 0x02, 'o', 'k'};
  pb::json_options o;
  o.include_defaults = true;
  o.int64_as_string = true;
  text = pb::decode_json(reading, bytes_of(only_status), out, o);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"uptimeS":"0","status":"ok"})"));
  text = pb::decode_json(rpc, bytes_of(rpc_bytes), out);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string_view(R"({"method":"setGpio","requestId":3,"params":{"pin":4,"value":true}})"));
  EXPECT_EQ(pb::decode_json(reading, bytes_of(reading_bytes), span<char>(out, 10)).error(), errc::not_enough_space);
}

TEST(protobuf, encode_json_like_thingsboard) {
  std::byte buf[64];
  auto out = pb::encode_json(reading, R"({"temperature":21.5,"humidity":40,"uptimeS":"7","status":"ok","x":[1]})", buf);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(same(*out, bytes_of(reading_bytes)));
  out = pb::encode_json(rpc, R"({"method":"setGpio","requestId":3,"params":{"pin":4,"value":true}})", buf);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(same(*out, bytes_of(rpc_bytes)));
  // Proto3 singular fields at their default are not sent; optional ones are.
  out = pb::encode_json(reading, R"({"temperature":0,"uptime_s":0,"status":""})", buf);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 9u);
  // A string with escapes is unescaped in place.
  out = pb::encode_json(reading, R"({"status":"a\"b\u00e9"})", buf);
  ASSERT_TRUE(out.ok());
  char text[64];
  auto back = pb::decode_json(reading, *out, text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, std::string_view("{\"status\":\"a\\\"b\xc3\xa9\"}"));
  // What does not fit its field (ProtoConverter.convertToRpcRequest fails on the server too).
  EXPECT_EQ(pb::encode_json(rpc, R"({"params":"x"})", buf).error(), errc::wrong_type);
  EXPECT_EQ(pb::encode_json(reading, R"({"status":5})", buf).error(), errc::wrong_type);
  EXPECT_EQ(pb::encode_json(reading, R"([1])", buf).error(), errc::invalid_argument);
  EXPECT_EQ(pb::encode_json(reading, R"({"status":"ok")", buf).error(), errc::invalid_argument);
  EXPECT_EQ(pb::encode_json(reading, R"({"status":"this does not fit"})", span<std::byte>(buf, 8)).error(),
            errc::not_enough_space);
}

TEST(protobuf, bytes_fields_are_base64_both_ways_at_any_length) {
  static constexpr pb::field_desc blob_fields[] = {{"data", "data", 1, pb::field_type::bytes}};
  static const pb::message_desc blob{"t.Blob", blob_fields, 1};
  char raw[300];
  for (std::size_t i = 0; i < sizeof raw; ++i) raw[i] = static_cast<char>(i * 7);
  std::byte buf[320];
  pb::writer w(buf);
  w.add(blob_fields[0], std::string_view(raw, sizeof raw));
  auto in = w.finish();
  ASSERT_TRUE(in.ok());
  char text[512];
  auto j = pb::decode_json(blob, *in, text);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->size(), std::string_view(R"({"data":""})").size() + 400);  // 300 bytes: 400 Base64 characters
  std::byte back[320];
  auto again = pb::encode_json(blob, *j, back);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(same(*again, *in));
  // Padding is optional and the URL-safe alphabet is accepted, as JsonFormat does.
  std::byte out[16];
  auto hi = pb::encode_json(blob, R"({"data":"aGk"})", out);
  ASSERT_TRUE(hi.ok());
  constexpr std::uint8_t hi_bytes[] = {0x0a, 0x02, 'h', 'i'};
  EXPECT_TRUE(same(*hi, bytes_of(hi_bytes)));
  auto url = pb::encode_json(blob, R"({"data":"-_8="})", out);
  ASSERT_TRUE(url.ok());
  constexpr std::uint8_t url_bytes[] = {0x0a, 0x02, 0xfb, 0xff};
  EXPECT_TRUE(same(*url, bytes_of(url_bytes)));
  EXPECT_EQ(pb::encode_json(blob, R"({"data":"a*b="})", out).error(), errc::wrong_type);
  EXPECT_EQ(pb::encode_json(blob, R"({"data":"abcde"})", out).error(), errc::wrong_type);
  EXPECT_EQ(pb::encode_json(blob, R"({"data":5})", out).error(), errc::wrong_type);
}

TEST(protobuf, repeated_fields_are_packed_and_read_both_ways) {
  std::byte buf[64];
  auto out = pb::encode_json(all, R"({"nums":[1,2,300],"names":["a","b"],"s32":-2,"f32":7,"sf64":-1,"fl":0.5})", buf);
  ASSERT_TRUE(out.ok());
  char text[160];
  auto back = pb::decode_json(all, *out, text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, std::string_view(R"({"s32":-2,"f32":7,"sf64":-1,"fl":0.5,"nums":[1,2,300],"names":["a","b"]})"));
  // Unpacked repeated scalars (proto2 style) read the same.
  const std::uint8_t unpacked[] = {0x30, 0x01, 0x30, 0x02};
  back = pb::decode_json(all, bytes_of(unpacked), text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, std::string_view(R"({"nums":[1,2]})"));
}

TEST(protobuf, transport_messages) {
  // transport.AttributeUpdateNotificationMsg { sharedUpdated { ts: 5 kv { key: "on" type: BOOLEAN_V bool_v: true } } }
  std::byte buf[64];
  auto out = pb::encode_json(
      pb::transport::attribute_update_notification,
      R"({"sharedUpdated":[{"ts":5,"kv":{"key":"on","type":0,"boolV":true}}],"sharedDeleted":["x"]})", buf);
  ASSERT_TRUE(out.ok());
  char text[200];
  auto back = pb::decode_json(pb::transport::attribute_update_notification, *out, text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back,
            std::string_view(R"({"sharedUpdated":[{"ts":5,"kv":{"key":"on","boolV":true}}],"sharedDeleted":["x"]})"));
  out = pb::encode_json(pb::transport::attributes_request, R"({"clientKeys":"a,b","sharedKeys":"c"})", buf);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 2u + 3u + 2u + 1u);
}
