// tbmqtt — ThingsBoard device topics (v1 and v2 families): builders write into caller memory, parsers
// claim a topic or answer errc::no_match. See docs: thingsboard-protocol.md §2.
#pragma once

#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt::topics {

inline constexpr std::string_view telemetry = "v1/devices/me/telemetry";
/// Client attributes are published here; shared-attribute pushes arrive here.
inline constexpr std::string_view attributes = "v1/devices/me/attributes";
inline constexpr std::string_view claim = "v1/devices/me/claim";
inline constexpr std::string_view attribute_response_filter = "v1/devices/me/attributes/response/+";
inline constexpr std::string_view rpc_request_filter = "v1/devices/me/rpc/request/+";
inline constexpr std::string_view rpc_response_filter = "v1/devices/me/rpc/response/+";

/// @brief `v1/devices/me/attributes/request/{request_id}`
/// @return Bytes written (no terminator), or errc::not_enough_space.
[[nodiscard]] result<std::size_t> attribute_request(span<char> out, std::uint32_t request_id) noexcept;
/// @brief `v1/devices/me/rpc/request/{request_id}` (a device-to-server RPC).
/// @return Bytes written, or errc::not_enough_space.
[[nodiscard]] result<std::size_t> rpc_request(span<char> out, std::uint32_t request_id) noexcept;
/// @brief `v1/devices/me/rpc/response/{request_id}` (the answer to a server RPC).
/// @pre request_id is not empty.
/// @return Bytes written, or errc::not_enough_space.
[[nodiscard]] result<std::size_t> rpc_response(span<char> out, std::string_view request_id) noexcept;

/// @brief Parses `v1/devices/me/attributes/response/{id}`.
/// @return The decimal id, errc::no_match for another topic, errc::malformed for a bad id.
[[nodiscard]] result<std::uint32_t> parse_attribute_response(std::string_view topic) noexcept;
/// @brief Parses `v1/devices/me/rpc/response/{id}` (answer to a device RPC).
/// @return The decimal id, errc::no_match, or errc::malformed.
[[nodiscard]] result<std::uint32_t> parse_rpc_response(std::string_view topic) noexcept;
/// @brief Parses `v1/devices/me/rpc/request/{id}` (a server RPC). The id is opaque text.
/// @return A view of the id inside `topic`, errc::no_match, or errc::malformed (empty, or longer
/// than TBMQTT_RPC_ID_CAPACITY, or containing '/').
[[nodiscard]] result<std::string_view> parse_rpc_request(std::string_view topic) noexcept;

/// @brief Parses a decimal uint32 without sign or leading junk.
/// @return The number, or errc::malformed.
[[nodiscard]] result<std::uint32_t> parse_decimal(std::string_view text) noexcept;

// ---- v2 short topics (MqttTopics: v2/t, v2/a, v2/a/req|res/{id}, v2/r/req|res/{id}) -----------

/// @brief A topic family and payload format (ThingsBoard's TopicType). `v2` is the short topics
/// with the device profile's payload type; `v2_json` (`/j`) and `v2_proto` (`/p`) force JSON or
/// protobuf whatever the profile.
enum class topic_style : std::uint8_t { v1, v2, v2_json, v2_proto };

/// @brief Telemetry topic: v1/devices/me/telemetry, v2/t, v2/t/j, v2/t/p.
std::string_view telemetry_topic(topic_style s) noexcept;
/// @brief Client attributes / shared-attribute pushes: v1/devices/me/attributes, v2/a, v2/a/j, v2/a/p.
std::string_view attributes_topic(topic_style s) noexcept;
/// @brief Filters: attribute responses (v2/a/res/+, v2/a/res/j/+, v2/a/res/p/+).
std::string_view attribute_response_filter_for(topic_style s) noexcept;
/// @brief Filters: server RPC requests (v2/r/req/+, v2/r/req/j/+, v2/r/req/p/+).
std::string_view rpc_request_filter_for(topic_style s) noexcept;
/// @brief Filters: answers to device RPCs (v2/r/res/+, v2/r/res/j/+, v2/r/res/p/+).
std::string_view rpc_response_filter_for(topic_style s) noexcept;

/// @brief Attribute request topic of `s` (v2/a/req/{id}, v2/a/req/j/{id}, v2/a/req/p/{id}).
/// @return Bytes written, or errc::not_enough_space.
[[nodiscard]] result<std::size_t> attribute_request(span<char> out, topic_style s, std::uint32_t request_id) noexcept;
/// @brief Device-to-server RPC topic of `s` (v2/r/req/{id}, ...).
[[nodiscard]] result<std::size_t> rpc_request(span<char> out, topic_style s, std::uint32_t request_id) noexcept;
/// @brief Answer to a server RPC on `s` (v2/r/res/{id}, ...). @pre request_id is not empty.
[[nodiscard]] result<std::size_t> rpc_response(span<char> out, topic_style s, std::string_view request_id) noexcept;

/// @brief Parses an attribute response of `s`. @return The id, errc::no_match, or errc::malformed.
[[nodiscard]] result<std::uint32_t> parse_attribute_response(std::string_view topic, topic_style s) noexcept;
/// @brief Parses the answer to a device RPC on `s`. @return The id, errc::no_match, or errc::malformed.
[[nodiscard]] result<std::uint32_t> parse_rpc_response(std::string_view topic, topic_style s) noexcept;
/// @brief Parses a server RPC request on `s`. @return A view of the id (as parse_rpc_request).
[[nodiscard]] result<std::string_view> parse_rpc_request(std::string_view topic, topic_style s) noexcept;

}  // namespace tbmqtt::topics
