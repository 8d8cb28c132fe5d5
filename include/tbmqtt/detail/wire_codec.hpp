// tbmqtt — detail: the session's payload edge. Engines build and read JSON; this turns what they
// send into the connection's wire format (session_config::wire) and what arrives into JSON before
// they read it. With JSON payloads both directions hand the text through unchanged. With protobuf:
//   uplink   telemetry / attributes      the profile's schemas (protobuf_schemas)
//            attribute request           transportapi.AttributesRequest {clientKeys, sharedKeys}
//            client RPC call             transportapi.RpcRequest {method, params as JSON text}
//            answer to a server RPC      the profile's RPC response schema (default rpc.RpcResponseMsg)
//            error answer to a server RPC  {"error":".."} in that schema: its string field `error`
//                                        if it has one, else its first string field holding the
//                                        JSON text (the default schema's `payload`), as the server
//                                        takes any answer as the schema's JSON (ProtoMqttAdaptor)
//            claim                       transportapi.ClaimDevice {secretKey, durationMs}
//   downlink shared-attribute push       transport.AttributeUpdateNotificationMsg -> {"k":v} / {"deleted":[..]}
//            attribute response          transport.GetAttributeResponseMsg -> {"client":{..},"shared":{..}}
//            server RPC request          the profile's RPC request schema (default rpc.RpcRequestMsg) -> its JSON
//            answer to a client RPC      transport.ToServerRpcResponseMsg -> its payload, or {"error":".."}
// (ThingsBoard's ProtoMqttAdaptor and ProtoConverter.) Nothing allocates: output goes to the
// caller's buffer.
#pragma once

#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/function_ref.hpp"
#include "tbmqtt/span.hpp"
#include "tbmqtt/wire_format.hpp"

namespace tbmqtt::detail {

enum class uplink : std::uint8_t { telemetry, attributes, attribute_request, rpc_call, rpc_reply, rpc_error, claim };
enum class downlink : std::uint8_t { attribute_push, attribute_response, rpc_request, rpc_response };

/// @brief What goes on the wire for the JSON an engine built.
/// @param capture_epoch_ms Telemetry only, protobuf only (JSON is stamped by the offline queue):
///   when not 0 and the telemetry schema can carry a time (telemetry_carries_time()), the message
///   carries this capture time unless the JSON has a "ts" of its own: `{"values":{..}}` gets
///   the `ts` field, any other object is encoded as the `values` message next to `ts`.
/// @return `json` itself (JSON payloads), or the protobuf bytes inside `buffer`; errors (protobuf
/// only): errc::invalid_argument (not a JSON object — e.g. a telemetry array —, or no schema for
/// telemetry/attributes), errc::wrong_type (a value that does not fit its field),
/// errc::not_enough_space (the message is larger than `buffer`).
[[nodiscard]] result<std::string_view> encode_uplink(const wire_format& w, uplink kind, std::string_view json,
                                                     span<std::byte> buffer,
                                                     std::uint64_t capture_epoch_ms = 0) noexcept;

/// @brief True when the telemetry schema has ThingsBoard's time-stamped shape: a 64-bit integer
/// field whose JSON name is `ts` and a message field `values` (neither repeated). ThingsBoard
/// prints a protobuf telemetry message as JSON and reads `{"ts":..,"values":{..}}` from it as
/// values at that time (ProtoMqttAdaptor, JsonConverter); any other schema cannot carry a time
/// (the transport's TsKvListProto shape {ts, kv} included: its `kv` would be stored as a key), and
/// the server stamps such a message on arrival. False without protobuf or a telemetry schema.
bool telemetry_carries_time(const wire_format& w) noexcept;

/// @brief The JSON an engine reads for an inbound payload.
/// @return The payload as text (JSON payloads), or its JSON inside `buffer` (or inside `payload`
/// for the answer to a client RPC); errors (protobuf only): errc::malformed (not a valid message
/// of its schema, or a JSON_V value that is not JSON), errc::not_enough_space (its JSON is larger
/// than `buffer`).
[[nodiscard]] result<std::string_view> decode_downlink(const wire_format& w, downlink kind,
                                                       span<const std::byte> payload, span<char> buffer) noexcept;

/// @brief Telemetry data points of an outbound telemetry payload as ThingsBoard counts them
/// (count_data_points of its JSON; protobuf: of the JSON the server prints for it, default values
/// included). 0 when it does not decode.
std::uint32_t telemetry_data_points(const wire_format& w, std::string_view payload) noexcept;

/// @brief decode_downlink into a TBMQTT_PROTOBUF_JSON_CAPACITY stack buffer, then `use(json)`.
void decode_downlink_then(const wire_format& w, downlink kind, span<const std::byte> payload,
                          function_ref<void(result<std::string_view>)> use) noexcept;

/// @brief Calls `use(result<std::string_view>)` with the JSON of an inbound payload (see
/// decode_downlink); the decode buffer only exists, on the stack, while a protobuf payload is handled.
template <typename F>
void with_downlink_json(const wire_format& w, downlink kind, span<const std::byte> payload, F&& use) noexcept {
  if (!w.protobuf()) return use(result<std::string_view>(as_text(payload)));
  decode_downlink_then(w, kind, payload, function_ref<void(result<std::string_view>)>(use));
}

}  // namespace tbmqtt::detail
