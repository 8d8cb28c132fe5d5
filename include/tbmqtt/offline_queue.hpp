// tbmqtt — store-and-forward: a persistent FIFO of outgoing telemetry and attribute messages
// kept in a tbmqtt::storage (NVS on ESP-IDF, files on Linux), so that messages published while
// offline (or sent but not yet acknowledged) survive a restart, a crash or a power loss.
//
//     tbmqtt::file_storage disk{"/var/lib/device/queue"};
//     tbmqtt::static_offline_queue<64, 2048> queue{disk};
//     (void)queue.open();                 // recovers what a previous run left
//     device_session.set_offline_queue(&queue);
//     device_session.publish_telemetry("{\"t\":21}", tbmqtt::qos::at_least_once);  // stored, then sent
//
// Crash contract (at-least-once): a message is accepted once push() returns ok. From then on,
// after a crash at any point, it is either still in the storage (and sent again after the next
// connect) or the broker acknowledged it. It can be sent twice (acknowledged, then a crash
// before its record was erased; or a transport that lost it across a reconnect), never lost,
// unless the full policy dropped it (counted in dropped() and reported). This rests on the
// storage contract: store() and erase() of one key are atomic.
//
// Layout: one key per message, `{key_prefix}{slot}` (slot 0..max_messages-1), holding a 12-byte
// header (magic 'Q', version 1, topic kind, 0, sequence number u32 LE, CRC-32 of the payload
// u32 LE) and the payload. push() is one store(), an acknowledgement one erase(); there is no
// separate index to keep consistent: open() loads every slot and orders them by sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/rate_limit.hpp"
#include "tbmqtt/session.hpp"
#include "tbmqtt/span.hpp"
#include "tbmqtt/storage.hpp"

namespace tbmqtt {

/// Where a stored message goes (the session maps it to session_config's topics).
enum class stored_topic : std::uint8_t { telemetry = 1, attributes = 2 };

/// What push() does when the queue has no room (count or bytes).
enum class queue_full_policy : std::uint8_t {
  drop_oldest,  ///< Erase the oldest messages (not yet sent first) until the new one fits; each
                ///< is counted in dropped() and reported as on_forwarded(ticket, errc::queue_full).
  refuse,       ///< Keep the queue as it is: push() fails with errc::queue_full.
};

/// @brief Limits and behaviour of an offline_queue.
struct offline_queue_config {
  std::size_t max_messages = 64;     ///< Also capped by the index the queue was given.
  std::size_t max_bytes = 64 * 1024; ///< Sum of the payload sizes of the queued messages.
  queue_full_policy when_full = queue_full_policy::drop_oldest;
  std::string_view key_prefix = "tbq";  ///< At most 10 characters (keys are prefix + slot).
  std::size_t max_in_flight = 16;    ///< Messages handed to the transport and not yet acknowledged.
  /// After a reconnect, messages handed to the transport on an earlier connection are first left
  /// to the transport (libmosquitto and esp-mqtt resend them with the same packet id); those
  /// still unacknowledged this long after the connect are sent again. Later messages wait, so
  /// the order is kept.
  std::uint32_t resend_after_ms = 15000;
};

/// @brief The persistent FIFO (see the file comment for the crash contract). Not thread-safe;
/// normally driven by a session (session::set_offline_queue), which calls push/pump/acknowledge.
class offline_queue {
 public:
  /// One queued message as the queue keeps it in RAM (no payload: that stays in the storage).
  struct entry {
    std::uint32_t sequence = 0;
    std::uint32_t size = 0;         ///< Payload bytes.
    std::uint32_t resend_at_ms = 0; ///< For an in-flight message of an earlier connection.
    std::uint16_t slot = 0;         ///< Storage key number.
    message_id packet_id = 0;       ///< Transport id while in flight.
    stored_topic topic = stored_topic::telemetry;
    std::uint8_t connection = 0;    ///< Connection number it was sent on (in flight only).
    bool in_flight = false;
  };
  /// Bytes of the header in front of each stored payload.
  static constexpr std::size_t header_size = 12;

  /// @param store   Where messages live; must outlive the queue.
  /// @param index   RAM for one entry per message (its size caps max_messages).
  /// @param buffer  Work memory for one record: header_size + the largest payload to queue.
  /// @pre key_prefix has at most 10 characters.
  offline_queue(storage& store, span<entry> index, span<std::byte> buffer, offline_queue_config config = {}) noexcept;
  offline_queue(const offline_queue&) = delete;
  offline_queue& operator=(const offline_queue&) = delete;

  /// @brief Loads the messages a previous run left, oldest first. Damaged records (bad header
  /// or CRC) are erased and counted in corrupt(). Call once, before the first push.
  /// @return How many messages were recovered, or errc::transport_error (the storage failed:
  /// the queue is then empty and unusable until open() succeeds).
  [[nodiscard]] result<std::size_t> open() noexcept;

  /// @brief Stores a message at the end of the queue (one atomic store()).
  /// @return The message's ticket (reported again by on_forwarded), or errc::not_connected
  /// (open() did not succeed), errc::payload_too_large (larger than the buffer or max_bytes),
  /// errc::queue_full (full, policy refuse), errc::not_enough_space or errc::transport_error
  /// (from the storage: the message was not queued; drop_oldest may have dropped older ones).
  [[nodiscard]] result<message_id> push(stored_topic topic, std::string_view payload, session_events& events) noexcept;

  /// @brief Hands the oldest messages to `port` (QoS 1) in order, up to max_in_flight. Stops at
  /// the first errc::again or errc::not_connected from the transport (tried again next time),
  /// and where `limiter` (optional) says to wait (the next pump before then returns at once).
  /// A record that cannot be read back is dropped and reported (on_forwarded with
  /// errc::malformed or errc::transport_error).
  void pump(transport_port& port, const session_config& topics, std::uint32_t now_ms, session_events& events,
            rate_limiter* limiter = nullptr) noexcept;
  /// True while a message has been handed to no transport yet (it waits for the window, a
  /// rate limit or a connection).
  bool has_unsent() const noexcept;

  /// @brief A PUBACK: erases the message sent with `id` and reports on_forwarded(ticket, ok).
  /// @return true when `id` was one of the queue's messages.
  bool acknowledge(message_id id, session_events& events) noexcept;

  /// @brief A new connection is up: in-flight messages of the old one get resend_after_ms.
  void on_connected(std::uint32_t now_ms) noexcept;

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t in_flight() const noexcept;
  /// Messages erased by the drop_oldest policy since construction.
  std::uint32_t dropped() const noexcept { return dropped_; }
  /// Damaged records found by open() or pump() since construction.
  std::uint32_t corrupt() const noexcept { return corrupt_; }
  /// Storage failures while erasing an acknowledged message (it may be sent again later).
  std::uint32_t erase_failures() const noexcept { return erase_failures_; }
  const offline_queue_config& config() const noexcept { return config_; }

 private:
  std::size_t capacity() const noexcept;
  void key_for(std::uint16_t slot, char (&out)[16]) const noexcept;
  bool free_slot(std::uint16_t& out) const noexcept;
  void remove_at(std::size_t i) noexcept;
  result<void> make_room(std::size_t size, session_events& events) noexcept;
  result<std::string_view> read_payload(const entry& e) noexcept;
  result<message_id> send(transport_port& port, const session_config& topics, const entry& e,
                          rate_limiter* limiter, std::uint32_t now_ms) noexcept;

  storage& store_;
  span<entry> index_;  // [0, count_) in sequence order
  span<std::byte> buffer_;
  offline_queue_config config_;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  std::uint32_t next_sequence_ = 0;
  std::uint32_t dropped_ = 0;
  std::uint32_t corrupt_ = 0;
  std::uint32_t erase_failures_ = 0;
  std::uint32_t paced_until_ms_ = 0;  // a rate limit said to wait until then
  std::uint8_t connection_ = 0;
  bool paced_ = false;
  bool open_ = false;
};

/// @brief An offline_queue with its own RAM: `Messages` index entries and a record buffer of
/// `MaxPayload` + header bytes.
template <std::size_t Messages, std::size_t MaxPayload>
class static_offline_queue final : public offline_queue {
 public:
  explicit static_offline_queue(storage& store, offline_queue_config config = {}) noexcept
      : offline_queue(store, index_, buffer_, config) {}

 private:
  entry index_[Messages];
  std::byte buffer_[MaxPayload + header_size];
};

}  // namespace tbmqtt
