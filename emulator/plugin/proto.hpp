// ThingsBoard's PROTOBUF payload type for the emulator: device-profile schemas compiled from their
// .proto text at run time (libprotobuf's compiler::Importer + DynamicMessageFactory), the way
// DynamicProtoUtils builds DynamicMessage descriptors, and the fixed transport messages
// (transport.proto's transportapi package, queue.proto's transport package) the server uses for
// attribute requests/responses, client-side RPC and shared-attribute pushes.
// Host-only code; independent of the SDK core by design.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace tbmqtt_emulator::pb {

class schema;

/// Compiles one profile schema. The message is the last top-level message of the file
/// (DynamicProtoUtils.getDynamicMessageBuilder). nullptr with `error` set when the text does not
/// compile, is not proto3, or holds no message.
std::shared_ptr<const schema> compile(const std::string& proto_text, std::string& error);

/// The message's name (for messages and errors).
std::string message_name(const schema& s);

/// DynamicProtoUtils.dynamicMsgToJson: parses `bytes` (DynamicMessage.parseFrom) and prints it with
/// JsonFormat.printer().includingDefaultValueFields() (lowerCamelCase names, 64-bit integers as
/// strings). nullopt when the bytes are not a valid encoding (InvalidProtocolBufferException).
std::optional<std::string> to_json(const schema& s, const std::string& bytes);

/// DynamicProtoUtils.jsonToDynamicMessage: JsonFormat.parser().ignoringUnknownFields() then
/// toByteArray(). nullopt with `error` set when the JSON does not fit the schema.
std::optional<std::string> from_json(const schema& s, const std::string& json_text, std::string& error);

/// A fixed message of ThingsBoard's transport protos by name: "AttributesRequest", "RpcRequest", "ClaimDevice"
/// (transportapi), "GetAttributeResponseMsg", "ToServerRpcResponseMsg",
/// "AttributeUpdateNotificationMsg" (transport).
const schema& transport(const std::string& name);

}  // namespace tbmqtt_emulator::pb
