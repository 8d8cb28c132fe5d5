// The session's payload edge (see tbmqtt/detail/wire_codec.hpp): JSON <-> protobuf as ThingsBoard's
// ProtoMqttAdaptor and ProtoConverter do it.
#include "tbmqtt/detail/wire_codec.hpp"

#include <cstring>

#include "tbmqtt/json.hpp"
#include "tbmqtt/rate_limit.hpp"

namespace tbmqtt::detail {
#if TBMQTT_WIRE_PROTOBUF
namespace pb = protobuf;

namespace {

std::string_view as_chars(span<const std::byte> b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

result<std::string_view> bytes_of(result<span<const std::byte>> r) noexcept {
  if (!r) return r.error();
  return as_chars(*r);
}

// transportapi.RpcRequest {method = 1, params = 2}: params is the JSON text of the call's params.
result<std::string_view> encode_rpc_call(std::string_view json_text, span<std::byte> buffer) noexcept {
  auto doc = json::value::parse(json_text);
  if (!doc || !doc->is_object()) return errc::invalid_argument;
  const json::value method = (*doc)["method"];
  const json::value params = (*doc)["params"];
  if (!method.is_string()) return errc::invalid_argument;
  pb::writer w(buffer);
  w.begin_len(1);
  auto tail = w.tail();
  auto name = method.as_string(span<char>(reinterpret_cast<char*>(tail.data()), tail.size()));
  if (!name) return name.error() == errc::not_enough_space ? errc::not_enough_space : errc::invalid_argument;
  w.advance(name->size()).end();
  if (params.present()) w.add(pb::transport::rpc_request.fields[1], params.raw());
  return bytes_of(w.finish());
}

const pb::message_desc* uplink_schema(const wire_format& w, uplink kind) noexcept {
  switch (kind) {
    case uplink::telemetry: return w.schemas.telemetry;
    case uplink::attributes: return w.schemas.attributes;
    case uplink::attribute_request: return &pb::transport::attributes_request;
    case uplink::rpc_reply:
    case uplink::rpc_error:
      return w.schemas.rpc_response != nullptr ? w.schemas.rpc_response : &pb::transport::default_rpc_response;
    case uplink::claim: return &pb::transport::claim_device;
    case uplink::rpc_call: break;
  }
  return nullptr;
}

// One transport.KeyValueProto {key 1, type 2, bool_v 3, long_v 4, double_v 5, string_v 6,
// json_v 7} as `"key":value` (JsonConverter's typed values). The message was validated.
errc put_key_value(json::writer& out, span<const std::byte> kv) noexcept {
  std::string_view key, text, json_text;
  std::uint64_t type = 0, boolean = 0, integer = 0, bits = 0;
  pb::reader r(kv);
  pb::field_view f;
  for (auto more = r.next(f); more && *more; more = r.next(f)) {
    const bool len = f.type == pb::wire::len, varint = f.type == pb::wire::varint;
    if (f.number == 1 && len) key = as_chars(f.data);
    if (f.number == 2 && varint) type = f.scalar;
    if (f.number == 3 && varint) boolean = f.scalar;
    if (f.number == 4 && varint) integer = f.scalar;
    if (f.number == 5 && f.type == pb::wire::i64) bits = f.scalar;
    if (f.number == 6 && len) text = as_chars(f.data);
    if (f.number == 7 && len) json_text = as_chars(f.data);
  }
  out.key(key);
  switch (type) {
    case 0: out.value(boolean != 0); break;
    case 1: out.value(static_cast<long long>(integer)); break;
    case 2: {
      double d = 0;
      std::memcpy(&d, &bits, sizeof d);
      out.value(d);
      break;
    }
    case 3: out.value(text); break;
    case 4:
      if (!json::validate(json_text)) return errc::malformed;
      out.raw_trusted(json_text);
      break;
    default: return errc::malformed;  // UNRECOGNIZED
  }
  return errc{};
}

// The repeated transport.TsKvProto field `number` of `msg` as one JSON object's members.
errc put_ts_kv_list(json::writer& out, span<const std::byte> msg, std::uint32_t number) noexcept {
  pb::reader r(msg);
  pb::field_view f;
  for (auto more = r.next(f); more && *more; more = r.next(f)) {
    if (f.number != number || f.type != pb::wire::len) continue;
    pb::reader item(f.data);
    pb::field_view g;
    for (auto m = item.next(g); m && *m; m = item.next(g))
      if (g.number == 2 && g.type == pb::wire::len)
        if (auto e = put_key_value(out, g.data); e != errc{}) return e;
  }
  return errc{};
}

bool has_field(span<const std::byte> msg, std::uint32_t number) noexcept {
  pb::reader r(msg);
  pb::field_view f;
  for (auto more = r.next(f); more && *more; more = r.next(f))
    if (f.number == number && f.type == pb::wire::len) return true;
  return false;
}

result<std::string_view> finish(const json::writer& w, errc e) noexcept {
  if (e != errc{}) return e;
  auto text = w.finish();
  if (!text) return text.error() == errc::not_enough_space ? errc::not_enough_space : errc::malformed;
  return text;
}

// AttributeUpdateNotificationMsg {sharedUpdated 1: TsKvProto*, sharedDeleted 2: string*}.
result<std::string_view> decode_push(span<const std::byte> in, span<char> buffer) noexcept {
  TBMQTT_TRY(pb::validate(pb::transport::attribute_update_notification, in));
  json::writer w(buffer);
  w.begin_object();
  errc e = put_ts_kv_list(w, in, 1);
  if (e == errc{} && has_field(in, 2)) {
    w.key("deleted").begin_array();
    pb::reader r(in);
    pb::field_view f;
    for (auto more = r.next(f); more && *more; more = r.next(f))
      if (f.number == 2 && f.type == pb::wire::len) w.value(as_chars(f.data));
    w.end_array();
  }
  w.end_object();
  return finish(w, e);
}

// GetAttributeResponseMsg {requestId 1, clientAttributeList 2, sharedAttributeList 3, ...}.
result<std::string_view> decode_attribute_response(span<const std::byte> in, span<char> buffer) noexcept {
  TBMQTT_TRY(pb::validate(pb::transport::get_attribute_response, in));
  json::writer w(buffer);
  w.begin_object();
  errc e{};
  for (std::uint32_t number : {2u, 3u}) {
    if (e != errc{} || !has_field(in, number)) continue;
    w.key(number == 2 ? "client" : "shared").begin_object();
    e = put_ts_kv_list(w, in, number);
    w.end_object();
  }
  w.end_object();
  return finish(w, e);
}

// ToServerRpcResponseMsg {requestId 1, payload 2, error 3}: the payload is the server's JSON.
result<std::string_view> decode_rpc_response(span<const std::byte> in, span<char> buffer) noexcept {
  TBMQTT_TRY(pb::validate(pb::transport::to_server_rpc_response, in));
  std::string_view payload, error;
  pb::reader r(in);
  pb::field_view f;
  for (auto more = r.next(f); more && *more; more = r.next(f)) {
    if (f.number == 2 && f.type == pb::wire::len) payload = as_chars(f.data);
    if (f.number == 3 && f.type == pb::wire::len) error = as_chars(f.data);
  }
  if (error.empty()) return payload;
  json::writer w(buffer);
  w.begin_object().key("error").value(error).end_object();
  return finish(w, errc{});
}

// An error answer `{"error":".."}` in the RPC response schema: its `error` string field, else its
// first string field holding the JSON text, else (no string field) the schema's empty message.
result<std::string_view> encode_rpc_error(const pb::message_desc& schema, std::string_view json_text,
                                          span<std::byte> buffer) noexcept {
  const pb::field_desc* error = schema.find(std::string_view("error"));
  if (error == nullptr || error->type != pb::field_type::string || error->repeated) {
    for (std::size_t i = 0; i < schema.field_count; ++i) {
      const pb::field_desc& f = schema.fields[i];
      if (f.type != pb::field_type::string || f.repeated) continue;
      pb::writer w(buffer);
      w.add(f, json_text);
      return bytes_of(w.finish());
    }
  }
  return bytes_of(pb::encode_json(schema, json_text, buffer));
}

// ThingsBoard's time-stamped telemetry shape in a schema: an integer `ts` and a message `values`.
struct time_fields {
  const pb::field_desc* ts = nullptr;
  const pb::field_desc* values = nullptr;
};

time_fields time_fields_of(const pb::message_desc* schema) noexcept {
  time_fields t;
  if (schema == nullptr) return t;
  for (std::size_t i = 0; i < schema->field_count; ++i) {
    const pb::field_desc& f = schema->fields[i];
    if (f.repeated) continue;
    const bool integer64 = f.type == pb::field_type::int64 || f.type == pb::field_type::uint64 ||
                           f.type == pb::field_type::sint64 || f.type == pb::field_type::fixed64 ||
                           f.type == pb::field_type::sfixed64;
    if (f.json_name == "ts" && integer64) t.ts = &f;
    if (f.json_name == "values" && f.type == pb::field_type::message && f.message != nullptr) t.values = &f;
  }
  if (t.ts == nullptr || t.values == nullptr) return {};
  return t;
}

// Telemetry in a time-stamped schema with its capture time: JSON that has its own "ts" is
// encoded as it is; `{"values":{..},..}` (the schema's shape) gets the `ts` field; any other
// object (the app's flat `{"key":value}`) becomes the `values` message next to `ts`.
result<std::string_view> encode_stamped(const pb::message_desc& schema, time_fields t, std::string_view json_text,
                                        std::uint64_t epoch_ms, span<std::byte> buffer) noexcept {
  auto doc = json::value::parse(json_text);
  if (!doc || !doc->is_object()) return errc::invalid_argument;
  auto given = [&](std::string_view key) {
    const json::value v = (*doc)[key];
    return v.present() && !v.is_null();
  };
  if (given("ts")) return bytes_of(pb::encode_json(schema, json_text, buffer));
  pb::writer w(buffer);
  w.add(*t.ts, epoch_ms);
  if (given("values")) {
    auto rest = pb::encode_json(schema, json_text, w.tail());
    if (!rest) return rest.error();
    w.advance(rest->size());
  } else {
    w.begin(*t.values);
    auto body = pb::encode_json(*t.values->message, json_text, w.tail());
    if (!body) return body.error();
    w.advance(body->size()).end();
  }
  return bytes_of(w.finish());
}

}  // namespace

// The stack buffer exists only on the protobuf path (and only while a rate limit is active).
[[gnu::noinline]] static std::uint32_t protobuf_data_points(const wire_format& w, std::string_view payload) noexcept {
  if (w.schemas.telemetry == nullptr) return 0;
  char json_text[TBMQTT_PROTOBUF_JSON_CAPACITY];
  pb::json_options o;
  o.include_defaults = true;  // the server prints the message with its default values (dynamicMsgToJson)
  auto text = pb::decode_json(*w.schemas.telemetry, as_bytes(payload), json_text, o);
  return text ? count_data_points(*text) : 0;
}

#endif  // TBMQTT_WIRE_PROTOBUF

std::uint32_t telemetry_data_points(const wire_format& w, std::string_view payload) noexcept {
#if TBMQTT_WIRE_PROTOBUF
  if (w.protobuf()) return protobuf_data_points(w, payload);
#endif
  return w.protobuf() ? 0 : count_data_points(payload);
}

bool telemetry_carries_time(const wire_format& w) noexcept {
#if TBMQTT_WIRE_PROTOBUF
  return w.protobuf() && time_fields_of(w.schemas.telemetry).ts != nullptr;
#else
  (void)w;
  return false;
#endif
}

result<std::string_view> encode_uplink(const wire_format& w, uplink kind, std::string_view json_text,
                                       span<std::byte> buffer, std::uint64_t capture_epoch_ms) noexcept {
  if (!w.protobuf()) return json_text;
#if !TBMQTT_WIRE_PROTOBUF
  (void)kind;
  (void)buffer;
  (void)capture_epoch_ms;
  return errc::invalid_argument;  // built without protobuf (TBMQTT_WIRE_PROTOBUF 0)
#else
  if (kind == uplink::rpc_call) return encode_rpc_call(json_text, buffer);
  const pb::message_desc* schema = uplink_schema(w, kind);
  if (schema == nullptr) return errc::invalid_argument;
  if (kind == uplink::rpc_error) return encode_rpc_error(*schema, json_text, buffer);
  if (kind == uplink::telemetry && capture_epoch_ms != 0)
    if (const time_fields t = time_fields_of(schema); t.ts != nullptr)
      return encode_stamped(*schema, t, json_text, capture_epoch_ms, buffer);
  return bytes_of(pb::encode_json(*schema, json_text, buffer));
#endif
}

result<std::string_view> decode_downlink(const wire_format& w, downlink kind, span<const std::byte> payload,
                                         span<char> buffer) noexcept {
  if (!w.protobuf()) return as_text(payload);
#if !TBMQTT_WIRE_PROTOBUF
  (void)kind;
  (void)buffer;
  return errc::malformed;  // built without protobuf (TBMQTT_WIRE_PROTOBUF 0)
#else
  switch (kind) {
    case downlink::attribute_push: return decode_push(payload, buffer);
    case downlink::attribute_response: return decode_attribute_response(payload, buffer);
    case downlink::rpc_response: return decode_rpc_response(payload, buffer);
    case downlink::rpc_request: break;
  }
  const pb::message_desc& schema =
      w.schemas.rpc_request != nullptr ? *w.schemas.rpc_request : pb::transport::default_rpc_request;
  pb::json_options o;
  o.include_defaults = true;  // JsonFormat.printer().includingDefaultValueFields(), as the server prints
  return pb::decode_json(schema, payload, buffer, o);
#endif
}

void decode_downlink_then(const wire_format& w, downlink kind, span<const std::byte> payload,
                          function_ref<void(result<std::string_view>)> use) noexcept {
#if TBMQTT_WIRE_PROTOBUF
  char buffer[TBMQTT_PROTOBUF_JSON_CAPACITY];
  use(decode_downlink(w, kind, payload, buffer));
#else
  use(decode_downlink(w, kind, payload, span<char>()));
#endif
}

}  // namespace tbmqtt::detail
