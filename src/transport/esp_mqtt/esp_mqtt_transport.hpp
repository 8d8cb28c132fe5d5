// tbmqtt — MQTT transport over esp-mqtt (ESP-IDF v4.4 and v5.x). Knows MQTT, not ThingsBoard:
// publish()/subscribe() become esp_mqtt_client_* calls; esp-mqtt events are copied into a
// FreeRTOS queue (fragment bytes into a fixed ring) and handed out by next_event() on the
// caller's task. Not part of the public API; see include/tbmqtt/esp_idf/client.hpp.
//
// Why a queue and not the session mutex inside the esp-mqtt handler: esp-mqtt runs its event
// handlers on its own task while holding its internal API lock, and every esp_mqtt_client_*
// call takes that lock. A handler that waited for the session mutex while another task held it
// and published would deadlock. So the handler only copies and posts (with a bounded wait), and
// the lock order everywhere else is: session mutex -> esp-mqtt API lock.
//
// Why a publish budget: while the handler waits for room, esp-mqtt's API lock is held, so a task
// that holds the session mutex and publishes waits for that lock, and the consumer, which needs
// the session mutex to take the next event, cannot make room: the wait ends only with its time-out
// and the event is dropped (seen: PUBLISHED events of 4 tasks publishing at once filled the queue;
// the lost acknowledgements stalled flush(), RPC requests were dropped, and esp-mqtt, stalled for
// 1 s, retransmitted). Every publish produces exactly one delivery event, so publish() refuses
// (errc::again) while `publish_budget` of them are unconsumed, and the queue has room for all of
// them plus `depth` other events: delivery events never make the handler wait. esp_client waits
// for the budget (wait_for_publish_room) before it takes the session mutex. The consumer task's
// own publishes (replies from callbacks) are not refused: it cannot wait for itself.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "esp_event.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/semphr.h"
#include "mqtt_client.h"

#include "esp_event_mapping.hpp"
#include "esp_mqtt_config.hpp"
#include "event_ring.hpp"
#include "tbmqtt/errc.hpp"
#include "tbmqtt/session.hpp"

namespace tbmqtt::detail {

/// @brief Sizes of the event hand-off between the esp-mqtt task and the consumer task.
struct esp_event_queue_config {
  unsigned depth = 16;                   ///< Events waiting at most.
  std::size_t ring_bytes = 4096;         ///< Topic + payload bytes of waiting DATA/SUBSCRIBED events.
  std::uint32_t post_timeout_ms = 1000;  ///< How long the esp-mqtt task waits for room (queue or ring) before dropping.
  /// Publishes whose delivery event (QoS 0: written; QoS 1: PUBLISHED, or DELETED when it
  /// expired) has not been consumed yet, at most; the queue holds `depth` more than this.
  unsigned publish_budget = 16;
};

/// @brief One esp-mqtt client. publish()/subscribe() are called by the session (serialised by
/// its owner) from any task except the esp-mqtt task (they block while esp-mqtt writes);
/// start()/stop() likewise; next_event() from one consumer task.
class esp_mqtt_transport final : public transport_port {
 public:
  esp_mqtt_transport(const esp_mqtt_settings& settings, esp_event_queue_config queue) noexcept;
  ~esp_mqtt_transport();
  esp_mqtt_transport(const esp_mqtt_transport&) = delete;
  esp_mqtt_transport& operator=(const esp_mqtt_transport&) = delete;

  /// @brief Creates the esp-mqtt client and starts its task (which connects, and reconnects by
  /// itself unless settings.auto_reconnect is false). @return ok, or errc::out_of_memory,
  /// errc::invalid_argument (bad URI or settings), errc::transport_error.
  [[nodiscard]] result<void> start() noexcept;
  /// @brief With auto_reconnect off: starts the next connection attempt now
  /// (esp_mqtt_client_reconnect, which takes no esp-mqtt lock: callable from any task but the
  /// esp-mqtt handler's, where it is pointless). @return ok, errc::again (esp-mqtt is not waiting
  /// to reconnect: still connecting, or connected), errc::not_open (not started).
  [[nodiscard]] result<void> reconnect() noexcept;
  /// DISCONNECTED events esp-mqtt posted since start() (after each loss and each failed
  /// attempt; counted on the esp-mqtt task, also when the event itself was dropped): a change
  /// means esp-mqtt now waits to reconnect.
  std::uint32_t disconnects() const noexcept { return disconnects_.load(); }
  /// @brief Stops and destroys the esp-mqtt client (sends DISCONNECT if connected).
  void stop() noexcept;
  /// True between start() and stop().
  bool started() const noexcept { return client_ != nullptr; }

  /// publish()/subscribe() before start() or after stop() are errc::not_open (no esp-mqtt
  /// client); while started but offline, esp-mqtt keeps QoS 1 in its outbox and refuses QoS 0.
  [[nodiscard]] result<message_id> publish(std::string_view topic, span<const std::byte> payload,
                                           qos q) noexcept override;
  [[nodiscard]] result<message_id> subscribe(std::string_view filter, qos q) noexcept override;

  /// @brief Waits up to `wait` ticks for the next event and calls `f(const esp_event_view&)`;
  /// the view's bytes are released when f returns. @return true if an event was handled
  /// (false on time-out or after wake()).
  template <class F>
  bool next_event(TickType_t wait, F&& f) noexcept {
    queued_event q;
    consumer_ = xTaskGetCurrentTaskHandle();
    if (events_ == nullptr || xQueueReceive(events_, &q, wait) != pdTRUE) return false;
    if (q.wake) return false;
    esp_event_view v = q.view;
    const std::byte* bytes = ring_.bytes(q.bytes).data();
    v.topic = {reinterpret_cast<const char*>(bytes), q.topic_size};
    v.data = {bytes + q.topic_size, q.bytes.size - q.topic_size};
    f(static_cast<const esp_event_view&>(v));
    release(q.bytes);
    if (q.delivery) delivery_consumed();
    return true;
  }
  /// @brief Makes a waiting next_event() return false (used to stop the consumer task).
  void wake() noexcept;
  /// Events dropped so far because the queue or the ring was full.
  std::uint32_t dropped_events() const noexcept { return dropped_.load(); }
  /// @brief Waits up to `wait` ticks until publish() would not be refused for the budget.
  /// @return false on time-out. Call without the session mutex (the consumer needs it).
  bool wait_for_publish_room(TickType_t wait) noexcept;
  /// True while publish() is not refused for the budget.
  bool has_publish_room() const noexcept { return unacked_.load() < queue_config_.publish_budget; }
  /// True when `bytes` fit the ring at all (DATA fragments up to the esp-mqtt buffer size must).
  std::size_t ring_capacity() const noexcept { return ring_.capacity(); }

 private:
  struct queued_event {
    esp_event_view view;            // topic/data spans re-pointed into the ring by next_event()
    event_ring::reservation bytes;  // topic, then data
    std::size_t topic_size = 0;
    bool wake = false;
    bool delivery = false;  // counted in unacked_
  };

  static void handle_event(void* self, esp_event_base_t base, int32_t id, void* data);
  void post(const esp_mqtt_event_t& event) noexcept;
  bool post_view(const esp_event_view& v, TickType_t wait, bool delivery = false) noexcept;
  result<event_ring::reservation> reserve(std::size_t n) noexcept;
  void unreserve(const event_ring::reservation& r) noexcept;
  void release(const event_ring::reservation& r) noexcept;
  void delivery_consumed() noexcept;

  esp_mqtt_settings settings_;
  esp_event_queue_config queue_config_;
  esp_mqtt_client_handle_t client_ = nullptr;
  QueueHandle_t events_ = nullptr;
  SemaphoreHandle_t ring_lock_ = nullptr;   // held only for ring bookkeeping, never across calls
  SemaphoreHandle_t ring_space_ = nullptr;  // binary: given whenever the consumer released bytes
  std::byte* ring_storage_ = nullptr;
  event_ring ring_;  // over ring_storage_; every call under ring_lock_
  std::atomic<std::uint32_t> dropped_{0};
  std::atomic<std::uint32_t> disconnects_{0};
  std::atomic<unsigned> unacked_{0};             // publishes whose delivery event is not consumed yet
  SemaphoreHandle_t budget_space_ = nullptr;     // binary: given when a delivery event was consumed
  std::atomic<TaskHandle_t> consumer_{nullptr};  // the task calling next_event()
  // publish()/subscribe() need terminated text; they are called by the session, whose owner
  // serialises every call (esp_client's session mutex), so one buffer suffices.
  char topic_buffer_[TBMQTT_TOPIC_CAPACITY + 1] = {};
};

}  // namespace tbmqtt::detail
