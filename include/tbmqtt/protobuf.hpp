// tbmqtt — protobuf payloads (ThingsBoard device profiles with payload type PROTOBUF) without heap.
//
// A small schema-driven codec: a message is described by a constant table (message_desc) that
// matches the .proto the device profile holds (same field numbers, types and names). The same
// table drives
//   - `writer`: direct encoding, field by field or by key (the JSON key ThingsBoard stores),
//   - `encode_json`: a JSON object into the message (what JsonFormat.parser().ignoringUnknownFields()
//     does on the server for RPC requests), so JSON built by the session can go out as protobuf,
//   - `decode_json`: a message into JSON (what JsonFormat.printer() does on the server),
//   - `reader`: the wire format field by field, for any message.
// Every function writes into caller memory and reports errors as errc; nothing allocates.
// The fixed messages of ThingsBoard's MQTT transport (attribute requests/responses, client-side
// RPC, shared-attribute pushes) are in namespace `transport`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt::protobuf {

/// Wire types of the encoding.
enum class wire : std::uint8_t { varint = 0, i64 = 1, len = 2, group_start = 3, group_end = 4, i32 = 5 };

/// Field types of a .proto (proto3).
enum class field_type : std::uint8_t {
  double_,
  float_,
  int64,
  uint64,
  int32,
  fixed64,
  fixed32,
  bool_,
  string,
  message,
  bytes,
  uint32,
  enum_,
  sfixed32,
  sfixed64,
  sint32,
  sint64,
};

struct message_desc;

/// One field of a message.
struct field_desc {
  std::string_view name;       ///< As in the .proto, e.g. "uptime_s".
  std::string_view json_name;  ///< lowerCamelCase, e.g. "uptimeS": the key ThingsBoard stores.
  std::uint32_t number;
  field_type type;
  bool repeated = false;
  const message_desc* message = nullptr;  ///< The field's message type (type == message).
  bool presence = false;                  ///< proto3 `optional`: a default value is still sent.
};

/// One message: its fields in any order.
struct message_desc {
  std::string_view full_name;  ///< e.g. "telemetry.SensorDataReading"
  const field_desc* fields = nullptr;
  std::size_t field_count = 0;

  /// @brief The field whose json_name or name is `key`, or nullptr.
  const field_desc* find(std::string_view key) const noexcept;
  /// @brief The field with that number, or nullptr.
  const field_desc* find(std::uint32_t number) const noexcept;
};

/// The wire type a field of this type is encoded with (unpacked).
wire wire_of(field_type t) noexcept;

/// @brief Bytes a varint of `v` takes (1..10).
std::size_t varint_size(std::uint64_t v) noexcept;

/// @brief Encodes a message into caller memory. Errors are sticky: after the first one every call
/// is ignored and finish() reports it (errc::not_enough_space, errc::wrong_type,
/// errc::not_found for an unknown key, errc::invalid_argument for unbalanced begin/end).
///
///     protobuf::writer w(buf);
///     w.add(schema, "temperature", 21.5).add(schema, "uptimeS", std::int64_t{7});
///     auto bytes = w.finish();
class writer {
 public:
  explicit writer(span<std::byte> out) noexcept : out_(out) {}

  /// Scalars by field. An integer into a double/float field is converted; a double into an integer
  /// field is errc::wrong_type, as are strings into numbers and numbers into strings.
  writer& add(const field_desc& f, std::int64_t v) noexcept;
  writer& add(const field_desc& f, std::uint64_t v) noexcept;
  writer& add(const field_desc& f, int v) noexcept { return add(f, static_cast<std::int64_t>(v)); }
  writer& add(const field_desc& f, double v) noexcept;
  writer& add(const field_desc& f, bool v) noexcept;
  writer& add(const field_desc& f, std::string_view v) noexcept;  ///< string or bytes fields
  writer& add(const field_desc& f, const char* v) noexcept { return add(f, std::string_view{v}); }
  /// The same by key (json_name or name); an unknown key is errc::not_found.
  template <typename T>
  writer& add(const message_desc& m, std::string_view key, T v) noexcept {
    const field_desc* f = m.find(key);
    if (f == nullptr) {
      fail(errc::not_found);
      return *this;
    }
    return add(*f, v);
  }
  /// Opens a nested message field; end() closes it (at most TBMQTT_PROTOBUF_MAX_DEPTH open).
  writer& begin(const field_desc& f) noexcept;
  writer& end() noexcept;

  /// Raw wire-level pieces (for messages without a table).
  writer& tag(std::uint32_t number, wire w) noexcept;
  writer& varint(std::uint64_t v) noexcept;
  writer& fixed32(std::uint32_t v) noexcept;
  writer& fixed64(std::uint64_t v) noexcept;
  writer& bytes(span<const std::byte> b) noexcept;
  /// A length-delimited field written in place: begin_len(), fill tail() and advance(n), end().
  writer& begin_len(std::uint32_t number) noexcept;
  /// Free space after what is written.
  span<std::byte> tail() const noexcept { return out_.subspan(used_ < out_.size() ? used_ : out_.size()); }
  /// Counts `n` bytes written into tail(). @pre n <= tail().size()
  writer& advance(std::size_t n) noexcept;

  /// @return The encoded bytes, or the first error (also errc::invalid_argument with a message
  /// still open).
  [[nodiscard]] result<span<const std::byte>> finish() const noexcept;
  std::size_t size() const noexcept { return used_; }
  errc error() const noexcept { return error_; }
  void reset() noexcept {
    used_ = 0;
    depth_ = 0;
    error_ = errc{};
  }

 private:
  bool put(const void* p, std::size_t n) noexcept;
  bool put_varint(std::uint64_t v) noexcept;
  void fail(errc e) noexcept {
    if (error_ == errc{}) error_ = e;
  }

  span<std::byte> out_;
  std::size_t used_ = 0;
  errc error_{};
  std::uint8_t depth_ = 0;
  std::size_t open_[TBMQTT_PROTOBUF_MAX_DEPTH] = {};  // where each open message's body starts
};

/// One field as read from the wire.
struct field_view {
  std::uint32_t number = 0;
  wire type = wire::varint;
  std::uint64_t scalar = 0;    ///< varint value, or the raw bits of i32/i64
  span<const std::byte> data;  ///< len: the bytes; group_start: the group's body
};

/// @brief Walks the fields of one message. Groups (wire types 3/4) are skipped as a whole, like
/// protobuf does with unknown fields.
class reader {
 public:
  explicit reader(span<const std::byte> in) noexcept : in_(in) {}
  /// @return true with the next field, false at the end, or errc::malformed (truncated, a bad
  /// tag, field number 0, an unbalanced group, a varint over 10 bytes).
  [[nodiscard]] result<bool> next(field_view& f) noexcept;

 private:
  span<const std::byte> in_;
  std::size_t pos_ = 0;
};

/// @brief Checks that `in` parses as `m` the way protobuf's parser does: the wire structure is
/// sound, nested message fields parse, string fields are UTF-8. A known field with another wire
/// type is an unknown field (no error), as in protobuf.
/// @return errc::malformed when protobuf would throw InvalidProtocolBufferException.
[[nodiscard]] result<void> validate(const message_desc& m, span<const std::byte> in) noexcept;

/// How decode_json prints.
struct json_options {
  /// Print every singular scalar field, its default when absent (JsonFormat's
  /// includingDefaultValueFields(), as ThingsBoard does).
  bool include_defaults = false;
  /// Print 64-bit integers as JSON strings (the proto3 JSON mapping) instead of numbers.
  bool int64_as_string = false;
};

/// @brief Prints a message as a JSON object, keys are json_name. Unknown fields are left out;
/// bytes are Base64 (any length); enums print as numbers.
/// @return The JSON text inside `out`, errc::malformed (as validate), or errc::not_enough_space.
[[nodiscard]] result<std::string_view> decode_json(const message_desc& m, span<const std::byte> in, span<char> out,
                                                   json_options options = {}) noexcept;

/// @brief Encodes a JSON object as message `m`: members match fields by json_name or name, unknown
/// members are ignored, null is "not set", arrays fill repeated fields, objects nested messages.
/// Numbers in strings are accepted for numeric fields, bytes fields take Base64 (standard or
/// URL-safe, padding optional), enums take numbers (not names yet) — as JsonFormat does.
/// @return The encoded bytes inside `out`; errc::invalid_argument (not a JSON object),
/// errc::wrong_type (a value that does not fit its field), or errc::not_enough_space.
[[nodiscard]] result<span<const std::byte>> encode_json(const message_desc& m, std::string_view json_object,
                                                        span<std::byte> out) noexcept;

/// ThingsBoard's fixed transport messages (transport.proto package transportapi, queue.proto
/// package transport), used on the v2 `/p` topics whatever the device profile.
namespace transport {
extern const message_desc attributes_request;             ///< transportapi.AttributesRequest
extern const message_desc rpc_request;                    ///< transportapi.RpcRequest
extern const message_desc claim_device;                   ///< transportapi.ClaimDevice
extern const message_desc key_value;                      ///< transport.KeyValueProto
extern const message_desc ts_kv;                          ///< transport.TsKvProto
extern const message_desc attribute_update_notification;  ///< transport.AttributeUpdateNotificationMsg
extern const message_desc get_attribute_response;         ///< transport.GetAttributeResponseMsg
extern const message_desc to_server_rpc_response;         ///< transport.ToServerRpcResponseMsg
/// ProtoTransportPayloadConfiguration's defaults when the profile leaves the RPC schemas empty.
extern const message_desc default_rpc_request;   ///< rpc.RpcRequestMsg
extern const message_desc default_rpc_response;  ///< rpc.RpcResponseMsg
}  // namespace transport

}  // namespace tbmqtt::protobuf
