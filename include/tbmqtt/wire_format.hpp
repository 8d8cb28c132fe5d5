// tbmqtt — how one connection talks to ThingsBoard on the wire: the topic family (v1
// `v1/devices/me/...` or the v2 short topics `v2/t`, `v2/a`, `v2/a/req/{id}`, `v2/r/req/{id}`, ...)
// and the payload format (JSON, or protobuf in the device profile's schemas). The app's API does
// not change: it always hands the session JSON and gets JSON back; with protobuf the session
// encodes at its outbound edge and decodes inbound messages before any engine reads them
// (src/core/wire_codec.cpp), into fixed buffers (TBMQTT_PROTOBUF_PAYLOAD_CAPACITY,
// TBMQTT_PROTOBUF_JSON_CAPACITY), never the heap. Built with TBMQTT_WIRE_PROTOBUF 0 (config.hpp,
// Kconfig), sessions speak JSON only and no protobuf code is linked.
#pragma once

#include <cstdint>

#include "tbmqtt/config.hpp"  // TBMQTT_PROTOBUF_PAYLOAD_CAPACITY, TBMQTT_PROTOBUF_JSON_CAPACITY
#include "tbmqtt/protobuf.hpp"
#include "tbmqtt/topics.hpp"

namespace tbmqtt {

/// The payload format of the device profile (MQTT transport, "Payload type": JSON or PROTOBUF).
enum class payload_format : std::uint8_t { json, protobuf };

/// @brief The device profile's protobuf schemas (ProtoTransportPayloadConfiguration), as the
/// codec's tables: from tools/tbmqtt_proto_schema.py at build time, or built at run time (the CLI).
/// The tables must outlive the session.
struct protobuf_schemas {
  const protobuf::message_desc* telemetry = nullptr;   ///< Telemetry upload; null: telemetry is refused.
  const protobuf::message_desc* attributes = nullptr;  ///< Client attributes upload; null: refused.
  /// Server RPC requests (downlink); null: ThingsBoard's default rpc.RpcRequestMsg.
  const protobuf::message_desc* rpc_request = nullptr;
  /// Answers to server RPCs (uplink); null: ThingsBoard's default rpc.RpcResponseMsg ({"payload":"..."}).
  const protobuf::message_desc* rpc_response = nullptr;
};

/// @brief Topic family and payload format of a session (session_config::wire).
///
///     session_config c;
///     c.wire.topics = topics::topic_style::v2;        // v2/t, v2/a, v2/r/req/+, ...
///     c.wire.payload = payload_format::protobuf;      // the device profile's payload type
///     c.wire.schemas.telemetry = &my_schema::schema;  // tools/tbmqtt_proto_schema.py output
struct wire_format {
  /// v1, or v2 (the short topics, payload as the profile says), v2_json (`/j`: always JSON),
  /// v2_proto (`/p`: always protobuf).
  topics::topic_style topics = topics::topic_style::v1;
  /// The device profile's payload type; decides the format on v1 and bare v2 topics.
  payload_format payload = payload_format::json;
  protobuf_schemas schemas;

  /// True when payloads on this connection are protobuf.
  constexpr bool protobuf() const noexcept {
    return topics == topics::topic_style::v2_proto ||
           (topics != topics::topic_style::v2_json && payload == payload_format::protobuf);
  }
};

}  // namespace tbmqtt
