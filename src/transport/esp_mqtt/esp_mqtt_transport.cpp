// esp-mqtt glue: client lifetime, publish/subscribe, and the event hand-off (handler on the
// esp-mqtt task -> queue + byte ring -> next_event() on the consumer task). The mapping of event
// fields to core inputs is esp_event_mapping.hpp (host-tested); the config layout is in
// esp_mqtt_config.cpp.
#include "esp_mqtt_transport.hpp"

#include <cstring>
#include <new>

#include "esp_err.h"
#include "esp_log.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509.h"

// Packet identifiers must be unique among the messages in esp-mqtt's outbox: esp-mqtt marks a
// message sent (and stamps its retransmit tick) by looking its id up, so with random ids (esp-mqtt's
// default) two messages that draw the same id leave one of them "queued", re-sent on every turn
// of esp-mqtt's loop until the first PUBACK is read (seen: one message delivered 156 times). And an
// expired message must be reported, or its delivery is never counted. The component's Kconfig
// selects both options.
#if !defined(CONFIG_MQTT_MSG_ID_INCREMENTAL) || !CONFIG_MQTT_MSG_ID_INCREMENTAL
#error "tbmqtt needs CONFIG_MQTT_MSG_ID_INCREMENTAL=y (CONFIG_TBMQTT_ESP_MQTT_REQUIREMENTS selects it)"
#endif
#if !defined(CONFIG_MQTT_REPORT_DELETED_MESSAGES) || !CONFIG_MQTT_REPORT_DELETED_MESSAGES
#error "tbmqtt needs CONFIG_MQTT_REPORT_DELETED_MESSAGES=y (CONFIG_TBMQTT_ESP_MQTT_REQUIREMENTS selects it)"
#endif

namespace tbmqtt::detail {

// The mapping's numeric copies of esp-mqtt / ESP-IDF values must match the real headers.
static_assert(static_cast<int>(esp_event_kind::error) == MQTT_EVENT_ERROR, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::connected) == MQTT_EVENT_CONNECTED, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::disconnected) == MQTT_EVENT_DISCONNECTED, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::subscribed) == MQTT_EVENT_SUBSCRIBED, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::unsubscribed) == MQTT_EVENT_UNSUBSCRIBED, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::published) == MQTT_EVENT_PUBLISHED, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::data) == MQTT_EVENT_DATA, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::before_connect) == MQTT_EVENT_BEFORE_CONNECT,
              "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_event_kind::deleted) == MQTT_EVENT_DELETED, "esp-mqtt event ids changed");
static_assert(static_cast<int>(esp_error_type::none) == MQTT_ERROR_TYPE_NONE, "esp-mqtt error types changed");
static_assert(static_cast<int>(esp_error_type::tcp_transport) == MQTT_ERROR_TYPE_TCP_TRANSPORT,
              "esp-mqtt error types changed");
static_assert(static_cast<int>(esp_error_type::connection_refused) == MQTT_ERROR_TYPE_CONNECTION_REFUSED,
              "esp-mqtt error types changed");
#if TBMQTT_ESP_MQTT_SUBSCRIBE_FAILED_TYPE
static_assert(static_cast<int>(esp_error_type::subscribe_failed) == MQTT_ERROR_TYPE_SUBSCRIBE_FAILED,
              "esp-mqtt error types changed");
#endif
static_assert(MQTT_CONNECTION_REFUSE_ID_REJECTED == 2 && MQTT_CONNECTION_REFUSE_SERVER_UNAVAILABLE == 3 &&
                  MQTT_CONNECTION_REFUSE_BAD_USERNAME == 4 && MQTT_CONNECTION_REFUSE_NOT_AUTHORIZED == 5,
              "esp-mqtt CONNACK codes changed");
static_assert(esp_err::ok == ESP_OK && esp_err::fail == ESP_FAIL && esp_err::no_mem == ESP_ERR_NO_MEM &&
                  esp_err::invalid_arg == ESP_ERR_INVALID_ARG && esp_err::invalid_state == ESP_ERR_INVALID_STATE &&
                  esp_err::timeout == ESP_ERR_TIMEOUT,
              "esp_err_t values changed");
static_assert(mbedtls_values::err_pk_password_required == -MBEDTLS_ERR_PK_PASSWORD_REQUIRED &&
                  mbedtls_values::err_pk_password_mismatch == -MBEDTLS_ERR_PK_PASSWORD_MISMATCH &&
                  mbedtls_values::err_ssl_fatal_alert == -MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE &&
                  mbedtls_values::badcert_expired == MBEDTLS_X509_BADCERT_EXPIRED &&
                  mbedtls_values::badcert_cn_mismatch == MBEDTLS_X509_BADCERT_CN_MISMATCH &&
                  mbedtls_values::badcert_not_trusted == MBEDTLS_X509_BADCERT_NOT_TRUSTED &&
                  mbedtls_values::badcert_future == MBEDTLS_X509_BADCERT_FUTURE,
              "mbedTLS error values changed");

namespace {
const char* const tag = "tbmqtt";

TickType_t ms_to_ticks(std::uint32_t ms) noexcept { return pdMS_TO_TICKS(ms); }
}  // namespace

esp_mqtt_transport::esp_mqtt_transport(const esp_mqtt_settings& settings, esp_event_queue_config queue) noexcept
    : settings_(settings), queue_config_(queue) {}

esp_mqtt_transport::~esp_mqtt_transport() {
  stop();
  if (events_ != nullptr) vQueueDelete(events_);
  if (ring_lock_ != nullptr) vSemaphoreDelete(ring_lock_);
  if (ring_space_ != nullptr) vSemaphoreDelete(ring_space_);
  if (budget_space_ != nullptr) vSemaphoreDelete(budget_space_);
  delete[] ring_storage_;
}

result<void> esp_mqtt_transport::start() noexcept {
  if (client_ != nullptr) return {};
  // Room for every delivery event the budget allows, and `depth` others.
  if (events_ == nullptr)
    events_ = xQueueCreate(queue_config_.depth + queue_config_.publish_budget, sizeof(queued_event));
  if (ring_lock_ == nullptr) ring_lock_ = xSemaphoreCreateMutex();
  if (ring_space_ == nullptr) ring_space_ = xSemaphoreCreateBinary();
  if (budget_space_ == nullptr) budget_space_ = xSemaphoreCreateBinary();
  if (ring_storage_ == nullptr) {
    ring_storage_ = new (std::nothrow) std::byte[queue_config_.ring_bytes];
    if (ring_storage_ != nullptr) ring_ = event_ring{{ring_storage_, queue_config_.ring_bytes}};
  }
  if (events_ == nullptr || ring_lock_ == nullptr || ring_space_ == nullptr || budget_space_ == nullptr ||
      ring_storage_ == nullptr)
    return errc::out_of_memory;
  unacked_.store(0);  // a new esp-mqtt client: an empty outbox
  disconnects_.store(0);
  if (static_cast<std::size_t>(settings_.buffer_size) + TBMQTT_TOPIC_CAPACITY > ring_.capacity())
    ESP_LOGW(tag, "event ring (%u bytes) is smaller than one esp-mqtt buffer plus a topic",
             static_cast<unsigned>(ring_.capacity()));

  esp_mqtt_client_config_t config;
  fill_esp_mqtt_config(settings_, config);
  client_ = esp_mqtt_client_init(&config);
  if (client_ == nullptr) return errc::invalid_argument;
  esp_err_t err = esp_mqtt_client_register_event(client_, static_cast<esp_mqtt_event_id_t>(ESP_EVENT_ANY_ID),
                                                 &esp_mqtt_transport::handle_event, this);
  if (err == ESP_OK) err = esp_mqtt_client_start(client_);
  if (err != ESP_OK) {
    esp_mqtt_client_destroy(client_);
    client_ = nullptr;
    return errc_from_esp_err(err);
  }
  return {};
}

void esp_mqtt_transport::stop() noexcept {
  if (client_ == nullptr) return;
  esp_mqtt_client_stop(client_);
  esp_mqtt_client_destroy(client_);
  client_ = nullptr;
}

result<message_id> esp_mqtt_transport::publish(std::string_view topic, span<const std::byte> payload, qos q) noexcept {
  if (client_ == nullptr) return errc::not_open;  // never started (or stopped): no esp-mqtt client
  if (topic.size() >= sizeof topic_buffer_) return errc::not_enough_space;
  // The consumer's own publishes are not refused (it cannot wait for itself); they use the
  // queue's `depth` share.
  if (xTaskGetCurrentTaskHandle() != consumer_.load() && !has_publish_room()) return errc::again;
  std::memcpy(topic_buffer_, topic.data(), topic.size());
  topic_buffer_[topic.size()] = '\0';
  unacked_.fetch_add(1);  // before: the delivery event may be consumed as soon as esp-mqtt lets go
  // esp_mqtt_client_publish: QoS 1 offline is stored in the outbox and sent after reconnect
  // (returns its msg_id); QoS 0 returns 0 once written, or -1 offline.
  const int rc = esp_mqtt_client_publish(client_, topic_buffer_, reinterpret_cast<const char*>(payload.data()),
                                         static_cast<int>(payload.size()), static_cast<int>(q), 0);
  if (const errc e = errc_from_esp_mqtt(rc); e != errc{}) {
    delivery_consumed();  // no delivery event will come (or, rarely, one uncounted: see there)
    return e;
  }
  if (q == qos::at_most_once) {
    // esp-mqtt posts no event for QoS 0; report "written" through the queue so that
    // on_delivered runs on the consumer task like every other callback.
    esp_event_view written;
    written.kind = esp_event_kind::published;
    written.msg_id = rc;
    if (!post_view(written, 0, true)) {
      dropped_.fetch_add(1);
      delivery_consumed();
    }
  }
  return static_cast<message_id>(rc);
}

result<message_id> esp_mqtt_transport::subscribe(std::string_view filter, qos q) noexcept {
  if (client_ == nullptr) return errc::not_open;
  if (filter.size() >= sizeof topic_buffer_) return errc::not_enough_space;
  std::memcpy(topic_buffer_, filter.data(), filter.size());
  topic_buffer_[filter.size()] = '\0';
  const int rc = esp_mqtt_subscribe_one(client_, topic_buffer_, static_cast<int>(q));
  if (const errc e = errc_from_esp_mqtt(rc); e != errc{}) return e;
  return static_cast<message_id>(rc);
}

result<void> esp_mqtt_transport::reconnect() noexcept {
  if (client_ == nullptr) return errc::not_open;
  // ESP_FAIL: esp-mqtt is not in its "wait to reconnect" state (yet, or any more).
  return esp_mqtt_client_reconnect(client_) == ESP_OK ? result<void>{} : result<void>{errc::again};
}

void esp_mqtt_transport::wake() noexcept {
  if (events_ == nullptr) return;
  queued_event q;
  q.wake = true;
  xQueueSendToFront(events_, &q, 0);
}

// ---- esp-mqtt task -----------------------------------------------------------------------------

void esp_mqtt_transport::handle_event(void* self, esp_event_base_t, int32_t, void* data) {
  if (self == nullptr || data == nullptr) return;
  static_cast<esp_mqtt_transport*>(self)->post(*static_cast<const esp_mqtt_event_t*>(data));
}

void esp_mqtt_transport::post(const esp_mqtt_event_t& event) noexcept {
  const esp_event_view v = view_of(event);
  // esp-mqtt set its state to "wait to reconnect" before posting this: the owner may now call
  // reconnect(). Counted before the event can be dropped below.
  if (v.kind == esp_event_kind::disconnected) disconnects_.fetch_add(1);
  switch (v.kind) {
    case esp_event_kind::before_connect:
    case esp_event_kind::unsubscribed: return;  // nothing for the core
    default: break;
  }
  // PUBLISHED / DELETED end a counted publish. (A QoS 1 message esp-mqtt kept in its outbox
  // although publish returned -1 was not counted: delivery_consumed() saturates at 0.)
  const bool delivery = v.kind == esp_event_kind::published || v.kind == esp_event_kind::deleted;
  if (!post_view(v, ms_to_ticks(queue_config_.post_timeout_ms), delivery)) {
    if (delivery) delivery_consumed();
    dropped_.fetch_add(1);
    ESP_LOGW(tag, "event %d dropped: queue or ring full", static_cast<int>(v.kind));
  }
}

bool esp_mqtt_transport::post_view(const esp_event_view& v, TickType_t wait, bool delivery) noexcept {
  queued_event q;
  q.delivery = delivery;
  q.view = v;
  q.view.topic = {};
  q.view.data = {};
  q.topic_size = v.topic.size();
  // A full ring makes the esp-mqtt task wait (up to `wait`) for the consumer to release bytes:
  // a message larger than the ring (an OTA chunk) streams through it, and meanwhile TCP holds
  // back the rest. The wait is bounded because esp-mqtt calls this handler with its API lock
  // held: a consumer that publishes now (esp_mqtt_client_publish takes that lock) cannot drain
  // the ring until the wait ends and the fragment is dropped (the OTA engine asks again).
  TimeOut_t started;
  vTaskSetTimeOutState(&started);
  TickType_t remaining = wait;
  auto reserved = reserve(v.topic.size() + v.data.size());
  while (!reserved && reserved.error() == errc::queue_full && xTaskCheckForTimeOut(&started, &remaining) == pdFALSE) {
    (void)xSemaphoreTake(ring_space_, remaining);  // given by release(); a stale give only retries
    reserved = reserve(v.topic.size() + v.data.size());
  }
  if (!reserved) {
    if (reserved.error() == errc::payload_too_large)
      ESP_LOGE(tag, "event of %u bytes can never fit the event ring (%u bytes): raise TBMQTT_EVENT_RING_SIZE",
               static_cast<unsigned>(v.topic.size() + v.data.size()), static_cast<unsigned>(ring_.capacity()));
    return false;
  }
  q.bytes = *reserved;
  const span<std::byte> bytes = ring_.bytes(q.bytes);  // stays valid: only this task reserves
  if (!v.topic.empty()) std::memcpy(bytes.data(), v.topic.data(), v.topic.size());
  if (!v.data.empty()) std::memcpy(bytes.data() + v.topic.size(), v.data.data(), v.data.size());
  if (xQueueSend(events_, &q, wait) == pdTRUE) return true;
  unreserve(q.bytes);  // nobody will consume it
  return false;
}

// The ring's bookkeeping is shared by the esp-mqtt task (reserve, unreserve) and the consumer
// (release); the byte copies happen outside the lock.
result<event_ring::reservation> esp_mqtt_transport::reserve(std::size_t n) noexcept {
  xSemaphoreTake(ring_lock_, portMAX_DELAY);
  auto r = ring_.reserve(n);
  xSemaphoreGive(ring_lock_);
  return r;
}

// Gives back the newest reservation (only the esp-mqtt task reserves, so it is still the newest).
void esp_mqtt_transport::unreserve(const event_ring::reservation& r) noexcept {
  xSemaphoreTake(ring_lock_, portMAX_DELAY);
  ring_.unreserve(r);
  xSemaphoreGive(ring_lock_);
}

void esp_mqtt_transport::delivery_consumed() noexcept {
  unsigned n = unacked_.load();
  while (n > 0 && !unacked_.compare_exchange_weak(n, n - 1)) {}
  if (budget_space_ != nullptr) xSemaphoreGive(budget_space_);  // wakes wait_for_publish_room()
}

bool esp_mqtt_transport::wait_for_publish_room(TickType_t wait) noexcept {
  if (budget_space_ == nullptr) return true;
  TimeOut_t started;
  vTaskSetTimeOutState(&started);
  TickType_t remaining = wait;
  while (!has_publish_room()) {
    if (xTaskCheckForTimeOut(&started, &remaining) != pdFALSE) return false;
    // Several tasks may wait on one binary semaphore: look again at least every 10 ms.
    const TickType_t poll = pdMS_TO_TICKS(10) > 0 ? pdMS_TO_TICKS(10) : 1;
    (void)xSemaphoreTake(budget_space_, remaining < poll ? remaining : poll);
  }
  return true;
}

void esp_mqtt_transport::release(const event_ring::reservation& r) noexcept {
  if (r.reserved == 0) return;
  xSemaphoreTake(ring_lock_, portMAX_DELAY);
  ring_.release(r);
  xSemaphoreGive(ring_lock_);
  xSemaphoreGive(ring_space_);  // wakes a post_view() waiting for room
}

}  // namespace tbmqtt::detail
