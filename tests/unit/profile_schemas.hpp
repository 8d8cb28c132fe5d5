// Test fixture: the codec tables of the device-profile schemas in tests/emulator/proto/ (what
// tools/tbmqtt_proto_schema.py makes of them). Host and Cortex-M test code.
#pragma once

#include "tbmqtt/protobuf.hpp"

namespace tbmqtt_test::profile {

namespace pb = tbmqtt::protobuf;

// telemetry.proto: telemetry.SensorDataReading
inline constexpr pb::field_desc reading_fields[] = {
    {"temperature", "temperature", 1, pb::field_type::double_, false, nullptr, true},
    {"humidity", "humidity", 2, pb::field_type::double_, false, nullptr, true},
    {"uptime_s", "uptimeS", 3, pb::field_type::int64},
    {"status", "status", 4, pb::field_type::string},
};
inline const pb::message_desc reading{"telemetry.SensorDataReading", reading_fields, 4};

// telemetry_ts.proto: telemetry.TimedReading, ThingsBoard's {"ts":..,"values":{..}} as a schema
inline constexpr pb::field_desc timed_values_fields[] = {
    {"temperature", "temperature", 1, pb::field_type::double_},
    {"state", "state", 2, pb::field_type::string},
};
inline const pb::message_desc timed_values{"telemetry.Values", timed_values_fields, 2};
inline constexpr pb::field_desc timed_reading_fields[] = {
    {"ts", "ts", 1, pb::field_type::int64},
    {"values", "values", 2, pb::field_type::message, false, &timed_values},
};
inline const pb::message_desc timed_reading{"telemetry.TimedReading", timed_reading_fields, 2};

// attributes.proto: attributes.SensorConfiguration
inline constexpr pb::field_desc config_fields[] = {
    {"firmware_version", "firmwareVersion", 1, pb::field_type::string},
    {"serial_number", "serialNumber", 2, pb::field_type::int32},
};
inline const pb::message_desc sensor_config{"attributes.SensorConfiguration", config_fields, 2};

// rpc_request.proto: rpc.RpcRequestMsg with a nested Params message
inline constexpr pb::field_desc params_fields[] = {
    {"pin", "pin", 1, pb::field_type::int32},
    {"value", "value", 2, pb::field_type::bool_},
};
inline const pb::message_desc params{"rpc.RpcRequestMsg.Params", params_fields, 2};
inline constexpr pb::field_desc rpc_fields[] = {
    {"method", "method", 1, pb::field_type::string, false, nullptr, true},
    {"requestId", "requestId", 2, pb::field_type::int32, false, nullptr, true},
    {"params", "params", 3, pb::field_type::message, false, &params},
};
inline const pb::message_desc rpc{"rpc.RpcRequestMsg", rpc_fields, 3};

// rpc_response.proto: rpc.RpcResponseMsg
inline constexpr pb::field_desc rpc_response_fields[] = {
    {"pin", "pin", 1, pb::field_type::int32},
    {"value", "value", 2, pb::field_type::bool_},
};
inline const pb::message_desc rpc_response{"rpc.RpcResponseMsg", rpc_response_fields, 2};

}  // namespace tbmqtt_test::profile
