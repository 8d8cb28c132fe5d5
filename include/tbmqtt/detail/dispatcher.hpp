// tbmqtt — detail: routes inbound topics and connection events to the session's engines in
// turn (the built-in ones first, then the extensions) and owns nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

/// Built-in engines with inbound topics (shared attributes, attribute requests, server RPC, client RPC).
constexpr std::size_t builtin_engine_count = 4;

class dispatcher {
 public:
  /// @brief Adds an engine after those already there. @return ok, or errc::queue_full.
  [[nodiscard]] result<void> add(session_extension& engine, bool builtin = false) noexcept;
  /// Removes an extension (no-op if absent); the others keep their order.
  void remove(session_extension& engine) noexcept;
  /// @brief Offers a message to each engine in turn. @return true when one claimed it.
  bool route(std::string_view topic, span<const std::byte> payload, std::uint32_t now_ms) noexcept;
  /// @brief Offers a fragmented message to each engine as a stream. @return the taker, or null.
  session_extension* take_stream(std::string_view topic, std::size_t total, std::uint32_t now_ms) noexcept;
  /// @brief An attribute answer: the first engine that owns the request takes it. @return true if one did.
  bool attributes_response(std::uint32_t id, errc e, json::value client, json::value shared,
                           std::uint32_t now_ms) noexcept;
  void shared_attributes(json::value update, std::uint32_t now_ms) noexcept;
  void ready(std::uint32_t now_ms) noexcept;
  void disconnected() noexcept;
  void tick(std::uint32_t now_ms) noexcept;

 private:
  session_extension* engines_[builtin_engine_count + TBMQTT_MAX_EXTENSIONS] = {};
  std::size_t count_ = 0;
  std::size_t builtin_ = 0;
};

}  // namespace tbmqtt::detail
