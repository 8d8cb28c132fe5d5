// tbmqtt — ThingsBoard device topics (v1 family): builders write into caller memory, parsers
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

}  // namespace tbmqtt::topics
