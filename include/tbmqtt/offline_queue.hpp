// tbmqtt — store-and-forward: a persistent FIFO of outgoing telemetry and attribute messages,
// kept as a log in a tbmqtt::segment_store (files on Linux, NVS pages on ESP-IDF), so that
// messages published while offline (or sent but not yet acknowledged) survive a restart, a crash
// or a power loss.
//
//     tbmqtt::file_segment_store disk{"/var/lib/device/queue"};  // locks the directory
//     tbmqtt::offline_queue<16, 2048> queue{disk};
//     (void)queue.open();                 // recovers what a previous run left
//     device_session.set_offline_queue(&queue);
//     device_session.publish_telemetry("{\"t\":21}", tbmqtt::qos::at_least_once);  // stored, then sent
//
// The queue is a message store, not a sender: the session's publisher (tbmqtt/detail/publisher.hpp)
// drives it through four hooks: push() stores a message, retrieve() hands out the next one to
// send (resends after a reconnect first), mark_in_flight() records the packet id it left with,
// erase() takes it out on its PUBACK. The publisher picks the topic, paces, and reports every
// outcome; the queue only tells it, through a drop hook, which messages it gave up.
//
// The log: append-only segments of CRC-framed records. Each segment starts with a `start`
// record holding the next sequence number; a message is a `data` record; a `watermark` record
// says "every message below sequence W is done (acknowledged or dropped)". Record layout (20-byte
// header, little endian): magic 'T', type (1 telemetry, 2 attributes, 0x10 watermark, 0x20
// start), 0, 0, payload length u32, sequence u64, CRC-32 of the header's first 16 bytes and the
// payload. open() scans every segment (whatever max_messages is now: a capacity change strands
// nothing), stops a segment at the first damaged or stale record (a torn tail), takes the
// highest watermark, and continues the sequence after the highest number seen: sequence numbers
// only grow, across drains and restarts. Each run appends to a new segment; a segment whose
// messages are all done is removed (the file backend recycles it).
//
// Group commit: push() appends (write, no sync); every `commit_records` messages, or
// `commit_interval_ms` after the first uncommitted one (on tick), one sync() commits them all.
// Only committed messages are handed to the transport, so the server never sees a message the
// store could still forget.
//
// Crash contract (at-least-once): a message is accepted once push() returns ok. From then on it
// survives a crash of the process; it survives a power loss once committed (with
// commit_records = 1, the default here, push() itself commits). After that it is either still in
// the log (and sent again after the next connect) or the broker acknowledged it. It can be sent
// twice (acknowledged, then a crash before the watermark reached the medium; or a transport that
// lost it across a reconnect), never lost, unless the full policy dropped it (counted in
// dropped() and reported).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tbmqtt/errc.hpp"
#include "tbmqtt/function_ref.hpp"
#include "tbmqtt/segment_store.hpp"
#include "tbmqtt/session_ports.hpp"
#include "tbmqtt/span.hpp"

namespace tbmqtt {

/// Where a stored message goes (the session maps it to session_config's topics).
enum class stored_topic : std::uint8_t { telemetry = 1, attributes = 2 };

/// What push() does when the queue has no room (count or bytes).
enum class queue_full_policy : std::uint8_t {
  drop_oldest,  ///< Drop the oldest messages not handed to the transport yet until the new one
                ///< fits; each is counted in dropped() and reported through the drop hook with
                ///< errc::queue_full. A message in flight is never dropped: when only those are
                ///< left (or the window has no room to remember a drop), push() fails with
                ///< errc::queue_full.
  refuse,       ///< Keep the queue as it is: push() fails with errc::queue_full.
};

/// @brief Limits and behaviour of an offline_queue.
struct offline_queue_config {
  std::size_t max_messages = 64;      ///< Messages kept (not a RAM size: the log is on the medium).
  std::size_t max_bytes = 64 * 1024;  ///< Sum of the payload sizes of the queued messages.
  queue_full_policy when_full = queue_full_policy::drop_oldest;
  std::size_t max_in_flight = 16;  ///< Messages handed to the transport and not yet
                                   ///< acknowledged; also capped by the window given.
  /// After a reconnect, messages handed to the transport on an earlier connection are first left
  /// to the transport (libmosquitto and esp-mqtt resend them with the same packet id); those
  /// still unacknowledged this long after the connect are sent again. Later messages wait, so
  /// the order is kept.
  std::uint32_t resend_after_ms = 15000;
  std::uint32_t segment_bytes = 256 * 1024;  ///< A new segment once the current one has this many.
  /// Group commit: one sync() per this many pushed messages (1: every push is durable when it
  /// returns) ...
  std::uint32_t commit_records = 1;
  /// ... or this long after the first uncommitted one (checked on tick()).
  std::uint32_t commit_interval_ms = 10;
  /// Wall clock used by push() to stamp telemetry that has no time stamp (milliseconds since
  /// 1970; return 0 while unknown). Null: no stamping unless push() is given a time.
  std::uint64_t (*epoch_ms)() noexcept = nullptr;
};

/// Told of each message the queue gives up: its sequence number, and why (errc::queue_full:
/// dropped by the full policy; errc::malformed: its record is damaged; or the error given to
/// give_up()).
using drop_hook = function_ref<void(std::uint64_t sequence, errc e)>;

/// A message retrieve() hands out: valid until the next call on the queue.
struct stored_message {
  std::uint64_t sequence = 0;
  stored_topic topic = stored_topic::telemetry;
  std::string_view payload;
  bool resend = false;  ///< In flight on an earlier connection: sent again.
};

/// @brief The persistent FIFO, capacity-erased (offline_queue<Window, MaxPayload> below owns its
/// RAM; see the file comment for the log and the crash contract). Not thread-safe; normally
/// driven by a session's publisher (session::set_offline_queue), which calls push / retrieve /
/// mark_in_flight / erase / tick.
class ioffline_queue {
 public:
  /// A message handed to the transport (or done, waiting for the older ones): the in-flight
  /// window. The RAM of the queue is this window, whatever the number of stored messages.
  struct entry {
    std::uint64_t sequence = 0;
    std::uint32_t segment = 0;  ///< Where its record is.
    std::uint32_t offset = 0;
    std::uint32_t size = 0;          ///< Payload bytes.
    std::uint32_t resend_at_ms = 0;  ///< For an in-flight message of an earlier connection.
    message_id packet_id = 0;        ///< Transport id while in flight.
    stored_topic topic = stored_topic::telemetry;
    std::uint8_t connection = 0;  ///< Connection number it was sent on.
    bool done = false;            ///< Acknowledged or dropped.
  };
  /// Bytes of the header in front of each stored payload.
  static constexpr std::size_t header_size = 20;
  /// push()'s `capture_epoch_ms` for a payload stored exactly as given (never stamped).
  static constexpr std::uint64_t as_is = ~std::uint64_t{0};

  /// @param store   Where the log lives; must outlive the queue.
  /// @param window  RAM for the in-flight window (its size caps max_in_flight).
  /// @param buffer  Work memory for one record: header_size + the largest payload to queue
  ///                (with a time stamp added: see push()).
  ioffline_queue(segment_store& store, span<entry> window, span<std::byte> buffer,
                 offline_queue_config config = {}) noexcept;
  ioffline_queue(const ioffline_queue&) = delete;
  ioffline_queue& operator=(const ioffline_queue&) = delete;

  /// @brief Scans the log a previous run left (every segment), and starts a new segment.
  /// Damaged records end their segment (a torn tail) and are counted in corrupt(). Call once,
  /// before the first push.
  /// @return How many messages were recovered, or errc::storage_error / errc::not_enough_space
  /// (the medium failed: the queue is then unusable until open() succeeds).
  [[nodiscard]] result<std::size_t> open() noexcept;

  /// @brief Appends a message to the log (committed now with commit_records = 1, else by the
  /// group commit). With `capture_epoch_ms` != 0, telemetry without a time stamp is stamped with
  /// it (ThingsBoard's `{"ts":..,"values":..}`; each object of an array too: stamp_telemetry()),
  /// so that it keeps its capture time however late it is delivered; 0 takes it from
  /// config().epoch_ms; `as_is` stores the payload unchanged (not JSON: a protobuf message, which
  /// the publisher's caller stamped while encoding when its schema can carry a time). Messages the
  /// full policy drops to make room are told to `on_dropped`.
  /// @return The message's sequence number (next_sequence() before the call), or
  /// errc::not_open (open() did not succeed), errc::payload_too_large (larger than the
  /// buffer or max_bytes, time stamp included), errc::queue_full (full: policy refuse, or only
  /// messages in flight left), errc::not_enough_space or errc::storage_error (from the medium:
  /// the message was not queued, or — when the commit failed — it is in the log but may not
  /// survive a power loss).
  [[nodiscard]] result<std::uint64_t> push(stored_topic topic, std::string_view payload, drop_hook on_dropped = {},
                                           std::uint64_t capture_epoch_ms = 0) noexcept;
  /// @brief The next push gets at least `sequence` (numbers skipped are never used: the
  /// publisher gives the queue's messages numbers from its one ticket counter).
  void skip_to(std::uint64_t sequence) noexcept {
    if (next_sequence_ < sequence) next_sequence_ = sequence;
  }

  /// @brief The next message to hand to the transport: first one in flight on an earlier
  /// connection whose resend time came (nothing newer overtakes it before then), else the oldest
  /// committed one not sent yet, while fewer than max_in_flight are in flight. Damaged records
  /// are dropped on the way (errc::malformed, to `on_dropped`). Calling it again without
  /// mark_in_flight() hands out the same message.
  /// @return false when there is nothing to send now.
  bool retrieve(std::uint32_t now_ms, stored_message& out, drop_hook on_dropped = {}) noexcept;
  /// @brief The message retrieve() handed out left with transport id `packet_id`.
  void mark_in_flight(std::uint64_t sequence, message_id packet_id) noexcept;
  /// @brief The transport refuses the retrieved message as it is: it is dropped (`e` to `on_dropped`).
  void give_up(std::uint64_t sequence, errc e, drop_hook on_dropped = {}) noexcept;
  /// @brief A PUBACK for `packet_id`: the message that left with it is done.
  /// @return Its sequence number, or errc::not_found when `packet_id` is none of the queue's.
  result<std::uint64_t> erase(message_id packet_id) noexcept;

  /// True while a message has been handed to no transport yet (it waits for the window, the
  /// commit, a rate limit or a connection).
  bool has_unsent() const noexcept;

  /// @brief A new connection is up: in-flight messages of the old one get resend_after_ms.
  void on_connected(std::uint32_t now_ms) noexcept;

  /// @brief The clock: commits when commit_interval_ms passed since the first uncommitted
  /// message, and writes a moved watermark (without a sync).
  void tick(std::uint32_t now_ms) noexcept;
  /// @brief Commits now: everything pushed (and the watermark) is durable when this returns ok.
  [[nodiscard]] result<void> sync() noexcept;

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t in_flight() const noexcept;
  /// Messages pushed and not committed yet.
  std::size_t uncommitted() const noexcept { return pending_; }
  /// Sequence number the next push gets (it only grows).
  std::uint64_t next_sequence() const noexcept { return next_sequence_; }
  /// Every message below this sequence number is done.
  std::uint64_t watermark() const noexcept { return watermark_; }
  /// Messages dropped by the drop_oldest policy since construction.
  std::uint32_t dropped() const noexcept { return dropped_; }
  /// Damaged records (torn tails, stale or bad segments) found by open() or pump() since
  /// construction.
  std::uint32_t corrupt() const noexcept { return corrupt_; }
  /// Medium failures while writing a watermark or removing a segment (messages may be sent again).
  std::uint32_t erase_failures() const noexcept { return erase_failures_; }
  /// sync() calls made (group commits) since construction.
  std::uint32_t commits() const noexcept { return commits_; }
  /// Segments in the log (oldest to the one being written).
  std::uint32_t segments() const noexcept { return open_ ? active_segment_ - first_segment_ + 1 : 0; }
  const offline_queue_config& config() const noexcept { return config_; }

 private:
  struct record_info {
    std::uint64_t sequence = 0;
    std::uint32_t size = 0;  // payload bytes (in buffer_ after the header)
    std::uint8_t type = 0;
    bool damaged = false;  // the CRC failed but the header looks sound (pump skips it)
  };
  struct scan_state;
  result<record_info> read_record(std::uint32_t segment, std::uint32_t offset) noexcept;
  template <typename OnData>
  result<void> scan_segment(std::uint32_t segment, scan_state& state, OnData on_data) noexcept;
  result<void> append(std::uint8_t type, std::uint64_t sequence, std::size_t payload_size) noexcept;
  result<void> start_segment(std::uint32_t segment) noexcept;
  result<void> commit() noexcept;
  void write_watermark() noexcept;
  // The record at the send cursor, moving over segment ends and watermark/start records.
  bool next_record(record_info& out, bool committed_only) noexcept;
  void advance_cursor(const record_info& r) noexcept;
  void retire_done() noexcept;
  void remove_segments_before(std::uint32_t segment) noexcept;
  result<void> make_room(std::size_t size, drop_hook on_dropped) noexcept;
  void finish(entry& e, errc outcome, drop_hook on_dropped) noexcept;
  // What retrieve() handed out, until mark_in_flight() or give_up().
  struct handed_out {
    bool valid = false;
    bool resend = false;
    std::size_t index = 0;  // resend: its window entry
    std::uint64_t sequence = 0;
    record_info record;                 // new: the record at the cursor ...
    std::uint64_t floor = 0, last = 0;  // ... and the cursor's rules after it
    bool any = false;
  };

  segment_store& store_;
  span<entry> window_;  // [0, window_count_) in sequence order
  span<std::byte> buffer_;
  offline_queue_config config_;
  std::size_t window_count_ = 0;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t watermark_ = 0;
  std::uint64_t written_watermark_ = 0;
  std::uint32_t first_segment_ = 0;
  std::uint32_t active_segment_ = 0;
  std::uint32_t append_offset_ = 0;
  std::uint32_t committed_offset_ = 0;
  std::uint32_t cursor_segment_ = 0;  // the next record to hand to the transport
  std::uint32_t cursor_offset_ = 0;
  std::uint64_t cursor_floor_ = 0;  // the scan's rules at the cursor: highest start record passed,
  std::uint64_t cursor_last_ = 0;   // and the last message passed (cursor_any_: there was one)
  bool cursor_any_ = false;
  std::size_t pending_ = 0;
  std::uint32_t pending_since_ms_ = 0;
  bool pending_timed_ = false;
  std::uint32_t dropped_ = 0;
  std::uint32_t corrupt_ = 0;
  std::uint32_t erase_failures_ = 0;
  std::uint32_t commits_ = 0;
  std::uint32_t last_now_ms_ = 0;
  handed_out handed_;
  std::uint8_t connection_ = 0;
  bool open_ = false;
};

/// @brief Rewrites telemetry so that it carries a time stamp: an object without both "ts" and
/// "values" becomes `{"ts":EPOCH_MS,"values":OBJECT}`; in an array each such object is wrapped
/// the same way; anything already stamped (or not an object) is copied as it is.
/// @return Bytes written to `out`, or errc::invalid_argument (not JSON), errc::not_enough_space.
[[nodiscard]] result<std::size_t> stamp_telemetry(std::string_view json_text, std::uint64_t epoch_ms,
                                                  span<char> out) noexcept;

/// @brief An ioffline_queue with its own RAM (as the registry's registry<N> over iregistry: functions
/// take the capacity-erased ioffline_queue&): a window of `Window` messages and a record buffer
/// of `MaxPayload` + header bytes.
template <std::size_t Window, std::size_t MaxPayload>
class offline_queue final : public ioffline_queue {
 public:
  explicit offline_queue(segment_store& store, offline_queue_config config = {}) noexcept
      : ioffline_queue(store, window_, buffer_, config) {}

 private:
  entry window_[Window];
  std::byte buffer_[MaxPayload + header_size];
};

}  // namespace tbmqtt
