// tbmqtt — detail: the table of requests that wait for an answer (attribute requests, client
// RPCs, getSessionLimits). One id space, one timeout rule; each entry names the engine that owns
// it, and that engine hears when the request ends without an answer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tbmqtt/config.hpp"
#include "tbmqtt/errc.hpp"

namespace tbmqtt::detail {

/// @brief An engine that starts requests: told when one ends without an answer.
class request_owner {
 public:
  /// Request `id` (started with `tag`) ended with errc::timeout or errc::disconnected. Its slot is
  /// already free (a new request may be started from here).
  virtual void on_request_ended(std::uint32_t id, std::uint8_t tag, errc e, std::uint32_t now_ms) noexcept = 0;

 protected:
  ~request_owner() = default;
};

/// @brief TBMQTT_MAX_PENDING_REQUESTS pending requests with ids and deadlines.
class request_table {
 public:
  /// @brief Takes a free slot and a fresh id (never one still pending, never 0).
  /// @return The id, or errc::queue_full.
  [[nodiscard]] result<std::uint32_t> start(request_owner& owner, std::uint8_t tag, std::uint32_t deadline_ms) noexcept;
  /// @brief Frees the request `id` of `owner` started with `tag`. @return false when there is none.
  bool finish(std::uint32_t id, const request_owner& owner, std::uint8_t tag) noexcept;
  /// Ends every request whose deadline has come with errc::timeout (slot order).
  void expire(std::uint32_t now_ms) noexcept;
  /// Ends every request with `e` (slot order).
  void end_all(errc e, std::uint32_t now_ms) noexcept;
  /// A fresh id from the same counter for a message nobody answers (one-way RPC).
  std::uint32_t take_id() noexcept;
  std::size_t pending() const noexcept;

 private:
  struct entry {
    std::uint32_t id = 0;
    std::uint32_t deadline_ms = 0;
    request_owner* owner = nullptr;  // null: free
    std::uint8_t tag = 0;
  };
  void end(entry& e, errc error, std::uint32_t now_ms) noexcept;
  entry entries_[TBMQTT_MAX_PENDING_REQUESTS];
  std::uint32_t next_id_ = 1;
};

}  // namespace tbmqtt::detail
