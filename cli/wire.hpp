// tbmqtt CLI — the wire-format options: `--topics v1|v2` and `--payload json|protobuf` with the
// device profile's schemas (`--proto FILE` for telemetry and attributes, `--attributes-proto`,
// `--rpc-request-proto`, `--rpc-response-proto`), turned into client_options::wire.
//
// The .proto files are read at run time by libprotobuf's compiler (the parser protoc and the
// server's protobuf library share), and each schema's message (the last top-level message of the
// file, as ThingsBoard's DynamicProtoUtils picks it) becomes the codec's tables
// (tbmqtt::protobuf::message_desc) for the rest of the process. Why not tools/tbmqtt_proto_schema.py's
// output: that is C++ to compile into firmware; a person at a shell has the same .proto the device
// profile holds, and nothing to build.
#pragma once

#include <string>

#include "tbmqtt/wire_format.hpp"

namespace CLI {
class App;
}

namespace tbmqtt::cli {

struct wire_options {
  std::string topics = "v1";       ///< --topics: v1, v2, v2j (/j: always JSON), v2p (/p: always protobuf)
  std::string payload = "json";    ///< --payload: json or protobuf (the device profile's payload type)
  std::string proto;               ///< --proto FILE: telemetry (and attributes) schema
  std::string attributes_proto;    ///< --attributes-proto FILE
  std::string rpc_request_proto;   ///< --rpc-request-proto FILE (default: ThingsBoard's rpc.RpcRequestMsg)
  std::string rpc_response_proto;  ///< --rpc-response-proto FILE (default: rpc.RpcResponseMsg)
};

/// @brief Adds the wire-format options to the top-level app (group "Wire format").
void add_wire_options(CLI::App& app, wire_options& options);

/// @brief The wire format the options ask for; the schema tables live until the process ends.
/// Fails (exit 2) for a file that cannot be read or does not compile, and for protobuf without
/// --proto.
wire_format to_wire_format(const wire_options& options);

}  // namespace tbmqtt::cli
