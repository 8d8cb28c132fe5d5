// tbmqtt — detail: turns the fragments of an inbound message into one message (into a fixed
// buffer) or a stream for the engine that takes it (session::on_message_fragment).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/config.hpp"
#include "tbmqtt/session_ports.hpp"

namespace tbmqtt::detail {

struct session_context;

class reassembler {
 public:
  explicit reassembler(session_context& ctx) noexcept : ctx_(ctx) {}
  void set_buffer(span<std::byte> buffer) noexcept { buffer_ = buffer; }
  /// @brief One fragment. @return true with `out_topic`/`out_payload` set when a whole message
  /// is ready to dispatch.
  bool on_fragment(std::string_view topic, span<const std::byte> fragment, std::size_t offset, std::size_t total,
                   std::uint32_t now_ms, std::string_view& out_topic, span<const std::byte>& out_payload) noexcept;
  /// Ends the message being reassembled or streamed before its last byte: the engine that took
  /// it hears `e`, and the app through on_error when `report`.
  void drop(errc e, bool report) noexcept;
  /// The engine is going away: the rest of a message it took goes nowhere.
  void forget(const session_extension& engine) noexcept;

 private:
  session_context& ctx_;
  span<std::byte> buffer_;
  char topic_[TBMQTT_TOPIC_CAPACITY] = {};
  std::size_t topic_size_ = 0;
  std::size_t received_ = 0;  // bytes of the current message so far
  std::size_t total_ = 0;
  bool active_ = false;
  session_extension* streaming_ = nullptr;  // took the message (no buffer then)
};

}  // namespace tbmqtt::detail
