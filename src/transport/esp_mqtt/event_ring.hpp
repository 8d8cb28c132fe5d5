// tbmqtt — the byte ring behind the esp-mqtt transport's event queue: the topic and payload bytes
// of events that wait for the tbmqtt task (esp_mqtt_transport.hpp). Portable (no FreeRTOS, no
// heap): the transport locks around every call, and tests/unit/test_esp_event_ring.cpp drives it
// on the host and on the Cortex-M image. Not part of the public API.
#pragma once

#include <cstddef>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt::detail {

/// @brief A FIFO of variable-size, contiguous byte reservations in one fixed buffer. Events are
/// consumed in the order they were queued, so only the write position and the bytes in use are
/// kept. A reservation that does not fit before the end of the buffer starts at 0 and also holds
/// the skipped tail, which is released with it. Not thread-safe: the owner serialises calls.
class event_ring {
 public:
  /// Where one reservation lives.
  struct reservation {
    std::size_t pos = 0;       ///< First byte, in [0, capacity).
    std::size_t size = 0;      ///< Bytes asked for.
    std::size_t reserved = 0;  ///< size plus the skipped tail when it wrapped.
  };

  event_ring() noexcept = default;
  /// @pre `storage` outlives the ring.
  explicit event_ring(span<std::byte> storage) noexcept : buffer_(storage) {}

  /// @brief Reserves `n` contiguous bytes after every live reservation (0 bytes: an empty
  /// reservation that holds nothing).
  /// @return The reservation, or errc::payload_too_large (n exceeds the capacity: it never
  /// fits), errc::queue_full (not now: the oldest reservations must be released first).
  [[nodiscard]] result<reservation> reserve(std::size_t n) noexcept {
    if (n == 0) return reservation{};
    if (n > buffer_.size()) return errc::payload_too_large;
    std::size_t start = head_;
    std::size_t pad = 0;
    if (start + n > buffer_.size()) {
      pad = buffer_.size() - start;
      start = 0;
    }
    if (used_ + pad + n > buffer_.size()) return errc::queue_full;
    head_ = (start + n) % buffer_.size();
    used_ += pad + n;
    return reservation{start, n, pad + n};
  }

  /// @brief Gives back the newest reservation (the event could not be queued after all).
  /// @pre `r` is the last reservation made and not released.
  void unreserve(const reservation& r) noexcept {
    if (r.reserved == 0) return;
    used_ -= r.reserved;
    // Back to where it was asked for: before the skipped tail when it wrapped.
    head_ = r.reserved > r.size ? buffer_.size() - (r.reserved - r.size) : r.pos;
    if (head_ == buffer_.size() || used_ == 0) head_ = 0;
  }

  /// @brief Releases the oldest live reservation (its event was consumed).
  /// @pre `r` is the oldest reservation not yet released.
  void release(const reservation& r) noexcept {
    used_ -= r.reserved;
    if (used_ == 0) head_ = 0;  // empty: start over at 0, so large reservations fit again
  }

  /// The bytes of a live reservation.
  span<std::byte> bytes(const reservation& r) noexcept { return {buffer_.data() + r.pos, r.size}; }

  std::size_t capacity() const noexcept { return buffer_.size(); }
  /// Bytes held by live reservations (skipped tails included).
  std::size_t used() const noexcept { return used_; }

 private:
  span<std::byte> buffer_;
  std::size_t head_ = 0;  // where the next reservation starts, unless it has to wrap
  std::size_t used_ = 0;
};

}  // namespace tbmqtt::detail
