// libFuzzer target for src/core/protobuf.cpp: the input is read as a protobuf message of several
// schemas (scalars of every kind, nested and repeated fields, ThingsBoard's transport messages).
// validate(), reader and decode_json() must agree; a message that decodes is encoded back from its
// JSON with encode_json() and must decode to the same JSON again. The session's payload edge
// (detail/wire_codec: ThingsBoard's downlink messages to the JSON the engines read) must answer
// valid JSON or a typed error. Any inconsistency traps.
#include "tbmqtt/detail/wire_codec.hpp"
#include "tbmqtt/json.hpp"
#include "tbmqtt/protobuf.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace {

namespace pb = tbmqtt::protobuf;
using tbmqtt::errc;
using tbmqtt::span;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

constexpr pb::field_desc inner_fields[] = {
    {"pin", "pin", 1, pb::field_type::int32},
    {"on", "on", 2, pb::field_type::bool_},
    {"tags", "tags", 3, pb::field_type::string, true},
};
const pb::message_desc inner{"f.Inner", inner_fields, 3};
constexpr pb::field_desc outer_fields[] = {
    {"d", "d", 1, pb::field_type::double_, false, nullptr, true},
    {"f", "f", 2, pb::field_type::float_},
    {"i64", "i64", 3, pb::field_type::int64},
    {"u64", "u64", 4, pb::field_type::uint64},
    {"i32", "i32", 5, pb::field_type::int32},
    {"fx64", "fx64", 6, pb::field_type::fixed64},
    {"fx32", "fx32", 7, pb::field_type::fixed32},
    {"b", "b", 8, pb::field_type::bool_},
    {"s", "s", 9, pb::field_type::string},
    {"m", "m", 10, pb::field_type::message, false, &inner},
    {"u32", "u32", 11, pb::field_type::uint32},
    {"e", "e", 12, pb::field_type::enum_},
    {"sf32", "sf32", 13, pb::field_type::sfixed32},
    {"sf64", "sf64", 14, pb::field_type::sfixed64},
    {"s32", "s32", 15, pb::field_type::sint32},
    {"s64", "s64", 16, pb::field_type::sint64},
    {"nums", "nums", 17, pb::field_type::sint64, true},
    {"ms", "ms", 18, pb::field_type::message, true, &inner},
    {"self", "self", 19, pb::field_type::message, false, &inner},
    {"blob", "blob", 20, pb::field_type::bytes},
};
const pb::message_desc outer{"f.Outer", outer_fields, 20};

char json1[64 * 1024];
char json2[64 * 1024];
std::byte encoded[64 * 1024];

void one(const pb::message_desc& m, span<const std::byte> in, bool defaults) {
  const bool valid = pb::validate(m, in).ok();
  // The reader alone sees at least the wire structure validate() sees.
  pb::reader r(in);
  pb::field_view f;
  bool wire_ok = true;
  for (;;) {
    auto more = r.next(f);
    if (!more) {
      wire_ok = false;
      break;
    }
    if (!*more) break;
  }
  if (valid) check(wire_ok);
  pb::json_options o;
  o.include_defaults = defaults;
  auto text = pb::decode_json(m, in, json1, o);
  if (!valid) {
    check(!text.ok() && text.error() == errc::malformed);
    return;
  }
  if (!text.ok()) {
    check(text.error() == errc::not_enough_space);
    return;
  }
  auto bytes = pb::encode_json(m, *text, encoded);
  if (!bytes.ok()) {
    check(bytes.error() == errc::not_enough_space);
    return;
  }
  check(pb::validate(m, *bytes).ok());
  auto again = pb::decode_json(m, *bytes, json2, o);
  check(again.ok());
  check(*again == *text);
}

// Every downlink of a protobuf session: valid JSON, or errc::malformed / errc::not_enough_space.
void downlinks(span<const std::byte> in) {
  using tbmqtt::detail::downlink;
  tbmqtt::wire_format w;
  w.topics = tbmqtt::topics::topic_style::v2_proto;
  for (downlink k :
       {downlink::attribute_push, downlink::attribute_response, downlink::rpc_request, downlink::rpc_response}) {
    auto text = tbmqtt::detail::decode_downlink(w, k, in, span<char>(json1, 2048));
    if (!text.ok()) {
      check(text.error() == errc::malformed || text.error() == errc::not_enough_space);
      continue;
    }
    // The answer to a client RPC is the server's text as it came; the others are built here.
    if (k != downlink::rpc_response) check(tbmqtt::json::validate(*text).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  one(outer, in, false);
  one(outer, in, true);
  one(pb::transport::get_attribute_response, in, false);
  one(pb::transport::attribute_update_notification, in, false);
  one(pb::transport::default_rpc_request, in, true);
  downlinks(in);
  return 0;
}
