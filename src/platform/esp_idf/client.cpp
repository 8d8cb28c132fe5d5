// The ESP-IDF client: esp-mqtt's task posts events into the transport's queue; one "tbmqtt"
// task takes them, holds the (recursive) session mutex and feeds the core through the event
// mapper, so every callback runs on that task. Public methods take the same mutex, so callbacks
// may call back. Lock order everywhere: session mutex -> esp-mqtt's API lock (see
// esp_mqtt_transport.hpp for why the esp-mqtt handler never takes the session mutex).
#include "tbmqtt/esp_idf/client.hpp"

#include <deque>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include <sys/time.h>

#include "esp_log.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "nvs_storage.hpp"
#include "tbmqtt/device_runtime.hpp"
#include "tbmqtt/rate_limit.hpp"
#include "tbmqtt/registry.hpp"

#include "../../transport/esp_mqtt/esp_event_mapping.hpp"
#include "../../transport/esp_mqtt/esp_mqtt_transport.hpp"
#include "../common/client_events.hpp"
#include "../common/client_options.hpp"
#include "../common/gateway_state.hpp"
#include "../common/ota_slots.hpp"
#include "tls_material.hpp"

namespace tbmqtt {
namespace {

const char* const tag = "tbmqtt";

std::uint32_t now_ms() noexcept { return static_cast<std::uint32_t>(esp_timer_get_time() / 1000); }
// Unix time in ms for registry timestamps, or 0 while the clock is unset (before SNTP: 1970).
std::uint64_t unix_ms() noexcept {
  timeval tv{};
  if (gettimeofday(&tv, nullptr) != 0 || tv.tv_sec < 1577836800) return 0;  // 2020-01-01
  return static_cast<std::uint64_t>(tv.tv_sec) * 1000u + static_cast<std::uint64_t>(tv.tv_usec) / 1000u;
}

detail::esp_mqtt_settings settings_from(const esp_client_options& o, const detail::esp_tls_material& tls) noexcept {
  detail::esp_mqtt_settings s;
  s.uri = o.uri;
  s.client_id = o.client_id;
  s.username = o.access_token != nullptr ? o.access_token : o.username;
  s.password = o.access_token != nullptr ? nullptr : o.password;
  detail::set_tls(o.tls, tls, s);
  s.keepalive_s = static_cast<int>(o.keep_alive.count());
  // Reconnects are the client's (reconnect_backoff, impl::drive_reconnect); esp-mqtt's task then
  // only looks this often whether it was stopped while it waits (at most half of it: 500 ms).
  s.auto_reconnect = false;
  s.reconnect_timeout_ms = 1000;
  s.network_timeout_ms = static_cast<int>(o.network_timeout.count());
  s.buffer_size = static_cast<int>(o.mqtt_buffer_size);
  s.out_buffer_size = static_cast<int>(o.mqtt_buffer_size);
  s.task_stack = static_cast<int>(o.task_stack);
  s.task_priority = static_cast<int>(o.task_priority);
  return s;
}

detail::esp_event_queue_config queue_from(const esp_client_options& o) noexcept {
  detail::esp_event_queue_config q;
  q.depth = o.event_queue_depth;
  q.ring_bytes = o.event_ring_size;
  q.publish_budget = o.event_queue_depth;  // as many delivery events as others (esp_mqtt_transport.hpp)
  return q;
}

class lock_guard {
 public:
  explicit lock_guard(SemaphoreHandle_t m) noexcept : m_(m) { xSemaphoreTakeRecursive(m_, portMAX_DELAY); }
  ~lock_guard() { xSemaphoreGiveRecursive(m_); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  SemaphoreHandle_t m_;
};

}  // namespace

// The ESP-IDF side of the portable runtime (tbmqtt/device_runtime.hpp): a recursive FreeRTOS
// mutex, two binary semaphores to wake connect() and flush(), esp_timer and gettimeofday, the
// "tbmqtt" task; the rest is the runtime's. The session's results go where detail::client_events
// sends them (the per-call callbacks).
struct esp_client::impl final : detail::client_events<esp_client::impl>, runtime_os, connection_listener {
  explicit impl(const esp_client_options& o) noexcept
      : options(o),
        tls(o.tls),
        transport(settings_from(o, tls), queue_from(o)),
        core(transport, *this, detail::session_config_from(o)),
        mapper(core),
        runtime(core, *this, static_cast<std::uint32_t>(o.tick_period.count())),
        backoff(reconnect_ms(o.reconnect_min), reconnect_ms(o.reconnect_max), tbmqtt::now_ms()) {
    runtime.set_listener(this);
    mutex = xSemaphoreCreateRecursiveMutex();
    outcome_signal = xSemaphoreCreateBinary();
    flush_signal = xSemaphoreCreateBinary();
    task_done = xSemaphoreCreateBinary();
    reassembly = new (std::nothrow) std::byte[o.reassembly_size];
    if (reassembly != nullptr) core.set_reassembly_buffer({reassembly, o.reassembly_size});
    if (o.offline_store != nullptr)
      open_offline_store(o);
    else if (detail::wants_pacing(o))
      offline_error = errc::invalid_argument;  // pacing needs the store to wait in
  }
  // Rate-limit pacing of the offline store's messages (esp_client_options::rate_limits).
  void set_up_pacing(const esp_client_options& o) noexcept {
    if (!detail::wants_pacing(o)) return;
    const std::pair<rate_limit_kind, const char*> rules[] = {
        {rate_limit_kind::messages, o.rate_limits.messages},
        {rate_limit_kind::telemetry_messages, o.rate_limits.telemetry_messages},
        {rate_limit_kind::telemetry_data_points, o.rate_limits.telemetry_data_points}};
    for (const auto& [kind, text] : rules) {
      if (text == nullptr || limiter.set(kind, text, tbmqtt::now_ms())) continue;
      ESP_LOGE(tag, "rate limit '%s' does not parse", text);
      offline_error = errc::invalid_argument;
      return;
    }
    core.set_rate_limiter(&limiter);
  }
  // Store-and-forward over NVS (esp_client_options::offline_store).
  void open_offline_store(const esp_client_options& o) noexcept {
    const std::size_t record = o.offline_max_payload + ioffline_queue::header_size;
    // The log over NVS: pages of log_page_size bytes as blobs (kv_segment_store; see the README).
    const std::size_t window = o.offline_queue.max_in_flight > 0 ? o.offline_queue.max_in_flight : 1;
    nvs = new (std::nothrow) esp_idf::nvs_storage(o.offline_store);
    queue_index = new (std::nothrow) ioffline_queue::entry[window];
    queue_buffer = new (std::nothrow) std::byte[record];
    log_pages = new (std::nothrow) std::byte[2 * log_page_size];
    if (nvs == nullptr || queue_index == nullptr || queue_buffer == nullptr || log_pages == nullptr) return;
    log = new (std::nothrow)
        kv_segment_store(*nvs, {log_pages, log_page_size}, {log_pages + log_page_size, log_page_size});
    if (log == nullptr) return;  // valid() is false
    // Telemetry stored without "ts" is stamped with the wall clock when it is stored (its capture
    // time), as on Linux; while the clock is unset (before SNTP or settimeofday: unix_ms() is 0)
    // it is stored as it is, and the server stamps it on arrival.
    offline_queue_config queue_config = o.offline_queue;
    if (queue_config.epoch_ms == nullptr) queue_config.epoch_ms = &tbmqtt::unix_ms;
    queue = new (std::nothrow) ioffline_queue(*log, {queue_index, window}, {queue_buffer, record}, queue_config);
    if (queue == nullptr) return;
    if (auto opened = queue->open(); !opened) {
      offline_error = opened.error();
      ESP_LOGE(tag, "offline store '%s' cannot be read: %s", o.offline_store, to_string(opened.error()));
      return;
    }
    ESP_LOGI(tag, "offline store '%s': %u message(s) waiting", o.offline_store, static_cast<unsigned>(queue->size()));
    core.set_offline_queue(queue);
    set_up_pacing(o);
  }
  ~impl() {
    core.set_offline_queue(nullptr);
    if (queue != nullptr) (void)queue->sync();  // the watermark too: fewer messages sent twice
    delete queue;
    delete log;
    delete[] log_pages;
    delete[] queue_buffer;
    delete[] queue_index;
    delete nvs;
    delete[] reassembly;
    if (mutex != nullptr) vSemaphoreDelete(mutex);
    if (outcome_signal != nullptr) vSemaphoreDelete(outcome_signal);
    if (flush_signal != nullptr) vSemaphoreDelete(flush_signal);
    if (task_done != nullptr) vSemaphoreDelete(task_done);
  }
  bool valid() const noexcept {
    return mutex != nullptr && outcome_signal != nullptr && flush_signal != nullptr && task_done != nullptr &&
           reassembly != nullptr && (options.offline_store == nullptr || queue != nullptr);
  }

  static std::uint32_t reconnect_ms(std::chrono::milliseconds d) noexcept {
    return d.count() <= 0 ? 0 : d.count() >= 0xFFFFFFFF ? 0xFFFFFFFFu : static_cast<std::uint32_t>(d.count());
  }

  esp_client_options options;
  detail::esp_tls_material tls;  // before transport: it points into this
  detail::esp_mqtt_transport transport;
  session core;
  detail::esp_event_mapper mapper;
  device_runtime runtime;
  reconnect_backoff backoff;                   // when the next reconnect is due (esp-mqtt's auto-reconnect is off)
  std::uint32_t seen_disconnects = 0;          // transport.disconnects() already scheduled for
  SemaphoreHandle_t mutex = nullptr;           // recursive: guards everything below
  SemaphoreHandle_t outcome_signal = nullptr;  // given by wake(): connect() looks at the outcome
  SemaphoreHandle_t flush_signal = nullptr;    // given by wake(): flush() looks again
  SemaphoreHandle_t task_done = nullptr;       // given by the task when it leaves its loop
  TaskHandle_t task = nullptr;
  std::byte* reassembly = nullptr;
  esp_idf::nvs_storage* nvs = nullptr;  // the offline store, when options.offline_store is set
  static constexpr std::size_t log_page_size = 512;
  std::byte* log_pages = nullptr;  // write page + read page of the log
  kv_segment_store* log = nullptr;
  ioffline_queue::entry* queue_index = nullptr;
  std::byte* queue_buffer = nullptr;
  ioffline_queue* queue = nullptr;
  rate_limiter limiter;  // paces the offline store's messages (options.rate_limits)
  errc offline_error{};  // why start() fails: the store cannot be read, or a bad rate-limit option
  volatile bool stopping = false;
  std::uint32_t seen_dropped = 0;
  connection_callback connection_handler;
  std::deque<std::string> kept_keys;               // shared-attribute keys the session keeps views of
  detail::ota_slots ota;                           // enable_ota
  std::unique_ptr<detail::gateway_state> gateway;  // esp_client::gateway(), created on first use

  // ---- runtime_os, connection_listener ----
  void lock() noexcept override { xSemaphoreTakeRecursive(mutex, portMAX_DELAY); }
  void unlock() noexcept override { xSemaphoreGiveRecursive(mutex); }
  void wake() noexcept override {
    xSemaphoreGive(outcome_signal);
    xSemaphoreGive(flush_signal);
  }
  std::uint32_t now_ms() noexcept override { return tbmqtt::now_ms(); }
  std::uint64_t unix_ms() noexcept override { return tbmqtt::unix_ms(); }
  void on_connection(const connection_event& e) noexcept override {
    if (connection_handler) connection_handler(e);
  }

  // ---- the tbmqtt task ----
  static void run(void* self) {
    auto& d = *static_cast<impl*>(self);
    const TickType_t ticks = pdMS_TO_TICKS(d.options.tick_period.count());
    const TickType_t period = ticks > 0 ? ticks : 1;
    while (!d.stopping) {
      d.transport.next_event(period, [&d](const detail::esp_event_view& event) {
        lock_guard lock(d.mutex);
        if (!d.stopping) d.apply(d.mapper.handle(event, tbmqtt::now_ms()));
      });
      lock_guard lock(d.mutex);
      d.runtime.tick();
      if (!d.stopping) d.drive_reconnect();
      if (const std::uint32_t dropped = d.transport.dropped_events(); dropped != d.seen_dropped) {
        d.seen_dropped = dropped;
        d.on_error(errc::queue_full, "esp-mqtt events dropped (event queue or ring full)");
      }
    }
    xSemaphoreGive(d.task_done);
    vTaskDelete(nullptr);
  }

  // Reconnects with back-off as on Linux (esp-mqtt's auto-reconnect is off): each DISCONNECTED
  // esp-mqtt posted (a loss, or a failed attempt: it then waits for esp_mqtt_client_reconnect)
  // schedules the next attempt after reconnect_delay_ms (reconnect_min doubling up to
  // reconnect_max, jittered); a session that came up starts from reconnect_min again. Called on
  // the tbmqtt task, never from the esp-mqtt event handler.
  void drive_reconnect() noexcept {
    if (runtime.ready()) backoff.ready();
    const std::uint32_t now = tbmqtt::now_ms();
    if (const std::uint32_t n = transport.disconnects(); n != seen_disconnects) {
      seen_disconnects = n;
      const std::uint32_t delay = backoff.failed(now);
      ESP_LOGI(tag, "reconnect attempt %u in %u ms", static_cast<unsigned>(backoff.attempt()),
               static_cast<unsigned>(delay));
    }
    // errc::again: esp-mqtt is not waiting yet; tried again on the next tick.
    if (backoff.due(now) && transport.reconnect()) backoff.cancel();
  }

  void apply(const detail::esp_event_outcome& o) noexcept {
    using k = detail::esp_event_outcome::kind;
    switch (o.what) {
      case k::connect_failed: runtime.on_refused(o.reason); break;
      case k::error: runtime.on_attempt_failed(o.reason); break;
      case k::connection_lost: runtime.on_connection_lost(o.reason); break;
      case k::message_expired:  // its outcome: errc::timeout, through on_delivered
        core.on_publish_failed(static_cast<message_id>(o.msg_id), o.reason);
        on_error(errc::timeout, "message expired in esp-mqtt's outbox");
        break;
      case k::connected:
      case k::none: break;
    }
  }

  bool on_own_task() const noexcept { return task != nullptr && xTaskGetCurrentTaskHandle() == task; }

  // Runs `attempt()` (a publish returning its error, errc{} when sent) with the mutex held. From
  // another task, when the transport refuses it for its publish budget (too many delivery events
  // not consumed yet, esp_mqtt_transport.hpp), waits for room without the mutex (the tbmqtt task
  // needs it to consume them) while connected, up to the network time-out, and tries again.
  // Offline, or on the tbmqtt task, errc::again is returned.
  errc publish_attempts(function_ref<errc()> attempt) noexcept {
    TimeOut_t started;
    vTaskSetTimeOutState(&started);
    TickType_t remaining = pdMS_TO_TICKS(options.network_timeout.count());
    for (;;) {
      {
        lock_guard lock(mutex);
        const errc e = attempt();
        if (e != errc::again || on_own_task() || !runtime.ready() || transport.has_publish_room()) return e;
      }
      if (xTaskCheckForTimeOut(&started, &remaining) != pdFALSE || !transport.wait_for_publish_room(remaining))
        return errc::again;
    }
  }
  // publish_attempts for a call returning a result (a ticket, a request id): its last result.
  template <class F>
  auto publish(F&& f) noexcept -> decltype(f()) {
    decltype(f()) sent = errc::again;
    auto attempt = [&]() noexcept {
      sent = f();
      return sent.error();
    };
    (void)publish_attempts(attempt);
    return sent;
  }

  // Publishes through the core (`f`: a session call returning a ticket) and keeps `done` for
  // the message's outcome; outcomes nobody asked a callback for go nowhere, as on Linux.
  template <class F>
  result<delivery_ticket> send(F&& f, delivery_callback&& done) noexcept {
    return publish([&] { return calls.send(f, std::move(done), [](delivery_ticket, errc) {}); });
  }

  // ---- session_events (mutex held; the rest: detail::client_events) ----
  void on_ready() noexcept override { runtime.on_ready(); }

  // ---- detail::client_port (the gateway API; lock and now_ms are above, on_error is client_events's) ----
  result<delivery_ticket> send_message(function_ref<result<delivery_ticket>()> publish,
                                       delivery_callback done) override {
    return send(publish, std::move(done));
  }
  errc publish_request(function_ref<errc()> attempt) override { return publish_attempts(attempt); }
};

esp_client::esp_client(const esp_client_options& options) noexcept : impl_(new (std::nothrow) impl(options)) {
  if (options.log_level >= 0) {
    const auto level = static_cast<esp_log_level_t>(options.log_level > 5 ? 5 : options.log_level);
    esp_log_level_set(tag, level);
    esp_log_level_set("tbmqtt_ota", level);  // esp_ota_sink
  }
  if (impl_ != nullptr && !impl_->valid()) {
    delete impl_;
    impl_ = nullptr;
  }
  if (impl_ == nullptr) ESP_LOGE(tag, "out of memory creating the client");
}

esp_client::~esp_client() {
  if (impl_ == nullptr) return;
  {
    lock_guard lock(impl_->mutex);
    impl_->connection_handler = nullptr;  // no "down" event for our own teardown
    impl_->error_handler = nullptr;
  }
  disconnect();
  {
    lock_guard lock(impl_->mutex);
    impl_->calls.cancel_all(errc::cancelled);  // requests and deliveries nobody will answer now
    if (impl_->gateway) impl_->gateway->cancel_all();
  }
  delete impl_;
}

void esp_client::lock() const noexcept { impl_->lock(); }
void esp_client::unlock() const noexcept { impl_->unlock(); }

result<void> esp_client::start() noexcept {
  if (impl_ == nullptr) return errc::out_of_memory;
  impl& d = *impl_;
  lock_guard lock(d.mutex);
  if (d.task != nullptr) return {};
  if (d.offline_error != errc{}) return d.offline_error;
  if (d.tls.error() != errc{}) return d.tls.error();
  if (d.options.reconnect_min.count() < 0 || d.options.reconnect_max.count() < 0) return errc::invalid_argument;
  d.stopping = false;
  d.backoff = reconnect_backoff(impl::reconnect_ms(d.options.reconnect_min),
                                impl::reconnect_ms(d.options.reconnect_max), now_ms());
  d.seen_disconnects = 0;  // the transport counts from 0 again
  TBMQTT_TRY(d.transport.start());
  if (xTaskCreate(&impl::run, "tbmqtt", d.options.task_stack, &d, d.options.task_priority, &d.task) != pdPASS) {
    d.task = nullptr;
    d.transport.stop();
    return errc::out_of_memory;
  }
  return {};
}

result<void> esp_client::connect(std::chrono::milliseconds timeout) noexcept {
  if (impl_ == nullptr) return errc::out_of_memory;
  impl& d = *impl_;
  if (d.on_own_task()) return errc::would_deadlock;  // would wait on itself
  {
    lock_guard lock(d.mutex);
    if (d.runtime.ready()) return {};
    xSemaphoreTake(d.outcome_signal, 0);  // forget a stale wake-up
    d.runtime.begin_connect();
  }
  TBMQTT_TRY(start());
  const TickType_t started = xTaskGetTickCount();
  const TickType_t limit = pdMS_TO_TICKS(timeout.count());
  errc e = errc::timeout;
  for (;;) {
    {
      lock_guard lock(d.mutex);
      if (d.runtime.outcome_known()) {
        e = d.runtime.outcome();
        break;
      }
    }
    const TickType_t spent = xTaskGetTickCount() - started;
    if (spent >= limit || xSemaphoreTake(d.outcome_signal, limit - spent) != pdTRUE) {
      lock_guard lock(d.mutex);
      if (d.runtime.outcome_known()) e = d.runtime.outcome();
      break;
    }
  }
  if (e != errc{}) disconnect();
  return e == errc{} ? result<void>{} : result<void>{e};
}

result<void> esp_client::attach(iregistry& points, bool tick) noexcept {
  if (impl_ == nullptr) return errc::out_of_memory;
  return impl_->runtime.with_lock([&] { return impl_->runtime.attach(points, tick); });
}

void esp_client::detach() noexcept {
  if (impl_ == nullptr) return;
  impl_->runtime.with_lock([&] { impl_->runtime.detach(); });
}

void esp_client::disconnect() noexcept {
  if (impl_ == nullptr) return;
  impl& d = *impl_;
  if (d.on_own_task()) return;  // @pre: not from a callback
  {
    lock_guard lock(d.mutex);
    if (d.task == nullptr) return;
    d.stopping = true;
    d.transport.stop();  // with the mutex: the task may be publishing through the client
  }
  d.transport.wake();
  xSemaphoreTake(d.task_done, portMAX_DELAY);
  lock_guard lock(d.mutex);
  d.task = nullptr;
  detail::esp_event_view down;
  down.kind = detail::esp_event_kind::disconnected;
  d.apply(d.mapper.handle(down, now_ms()));  // pending requests end with errc::disconnected
}

bool esp_client::connected() const noexcept {
  if (impl_ == nullptr) return false;
  lock_guard lock(impl_->mutex);
  return impl_->runtime.ready();
}

void esp_client::on_connection(connection_callback callback) {
  lock_guard lock(impl_->mutex);
  impl_->connection_handler = std::move(callback);
}

result<delivery_ticket> esp_client::send_telemetry(std::string_view json_text) noexcept {
  return send_telemetry(json_text, impl_->options.default_qos);
}
result<delivery_ticket> esp_client::send_telemetry(std::string_view json_text, qos q, delivery_callback done) noexcept {
  return impl_->send([&] { return impl_->core.publish_telemetry(json_text, q); }, std::move(done));
}
result<delivery_ticket> esp_client::send_telemetry(itelemetry& payload) noexcept {
  return send_telemetry(payload, impl_->options.default_qos);
}
result<delivery_ticket> esp_client::send_telemetry(itelemetry& payload, qos q, delivery_callback done) noexcept {
  return impl_->send([&] { return impl_->core.publish_telemetry(payload, q); }, std::move(done));
}
result<delivery_ticket> esp_client::send_attributes(std::string_view json_text) noexcept {
  return send_attributes(json_text, impl_->options.default_qos);
}
result<delivery_ticket> esp_client::send_attributes(std::string_view json_text, qos q,
                                                    delivery_callback done) noexcept {
  return impl_->send([&] { return impl_->core.publish_attributes(json_text, q); }, std::move(done));
}
result<delivery_ticket> esp_client::send_attributes(iattributes& payload, qos q, delivery_callback done) noexcept {
  return impl_->send([&] { return impl_->core.publish_attributes(payload, q); }, std::move(done));
}

result<void> esp_client::flush(std::chrono::milliseconds timeout) noexcept {
  impl& d = *impl_;
  if (d.on_own_task()) return errc::would_deadlock;  // would wait on itself
  const TickType_t start = xTaskGetTickCount();
  const TickType_t limit = pdMS_TO_TICKS(timeout.count());
  for (;;) {
    {
      lock_guard lock(d.mutex);
      if (d.runtime.idle()) return {};
      d.runtime.flush_waiting(true);
    }
    const TickType_t spent = xTaskGetTickCount() - start;
    const bool woken = spent < limit && xSemaphoreTake(d.flush_signal, limit - spent) == pdTRUE;
    lock_guard lock(d.mutex);
    d.runtime.flush_waiting(false);
    if (!woken) return d.runtime.idle() ? result<void>{} : result<void>{errc::timeout};
  }
}

result<std::uint32_t> esp_client::request_attributes(std::string_view client_keys, std::string_view shared_keys,
                                                     attributes_callback done) noexcept {
  return impl_->publish([&]() -> result<std::uint32_t> {
    auto id = impl_->core.request_attributes(client_keys, shared_keys, now_ms());
    if (id && done) impl_->calls.expect_attributes(*id, std::move(done));
    return id;
  });
}

result<std::size_t> esp_client::subscribe_shared_attributes(std::string_view keys,
                                                            attribute_update_callback update) noexcept {
  lock_guard lock(impl_->mutex);
  auto index = impl_->core.subscribe_shared_attributes(impl_->kept_keys.emplace_back(keys));
  if (!index) {
    impl_->kept_keys.pop_back();
    return index;
  }
  if (update) impl_->calls.on_shared(*index, std::move(update));
  return index;
}

void esp_client::on_error(error_callback callback) {
  lock_guard lock(impl_->mutex);
  impl_->error_handler = std::move(callback);
}

result<void> esp_client::on_rpc(std::string_view method, rpc_handler handler) {
  lock_guard lock(impl_->mutex);
  return impl_->rpcs.on(impl_->core, method, std::move(handler));
}

result<void> esp_client::on_any_rpc(rpc_handler handler) {
  lock_guard lock(impl_->mutex);
  impl_->rpcs.on_any(impl_->core, std::move(handler));
  return {};
}

result<delivery_ticket> esp_client::reply_rpc(std::string_view request_id, std::string_view json_text) noexcept {
  return impl_->send([&] { return impl_->core.reply_rpc(request_id, json_text); }, {});
}

result<std::uint32_t> esp_client::call_rpc(std::string_view method, std::string_view params_json,
                                           rpc_response_callback done) noexcept {
  return impl_->publish([&]() -> result<std::uint32_t> {
    auto id = impl_->core.call_rpc(method, params_json, now_ms());
    if (id && done) impl_->calls.expect_rpc_response(*id, std::move(done));
    return id;
  });
}

result<delivery_ticket> esp_client::claim(std::string_view secret_key, std::chrono::milliseconds duration,
                                          delivery_callback done) noexcept {
  // The wire format carries 32 bits of milliseconds (about 49.7 days): never wrap silently.
  if (duration.count() < 0 || duration.count() > std::numeric_limits<std::uint32_t>::max())
    return errc::invalid_argument;
  return impl_->send([&] { return impl_->core.claim(secret_key, static_cast<std::uint32_t>(duration.count())); },
                     std::move(done));
}

result<void> esp_client::enable_ota(const ota_config& config, ota_sink& sink, storage* store,
                                    ota_handlers handlers) noexcept {
  if (impl_ == nullptr) return errc::out_of_memory;
  lock_guard lock(impl_->mutex);
  return impl_->ota.enable(impl_->core, impl_->runtime.ready(), now_ms(), config, sink, store, std::move(handlers));
}

result<void> esp_client::confirm_ota(ota_kind kind) noexcept {
  if (impl_ == nullptr) return errc::out_of_memory;
  lock_guard lock(impl_->mutex);
  return impl_->ota.confirm(kind);
}

result<void> esp_client::reject_ota(ota_kind kind, std::string_view reason) noexcept {
  if (impl_ == nullptr) return errc::out_of_memory;
  lock_guard lock(impl_->mutex);
  return impl_->ota.reject(kind, reason);
}

result<void> esp_client::sync_offline_store() noexcept {
  if (impl_ == nullptr) return errc::out_of_memory;
  lock_guard lock(impl_->mutex);
  if (impl_->queue == nullptr) return errc::not_open;
  return impl_->queue->sync();
}

std::size_t esp_client::offline_queued(std::uint32_t* dropped) const noexcept {
  if (dropped != nullptr) *dropped = 0;
  if (impl_ == nullptr) return 0;
  lock_guard lock(impl_->mutex);
  if (impl_->queue == nullptr) return 0;
  if (dropped != nullptr) *dropped = impl_->queue->dropped();
  return impl_->queue->size();
}

gateway_client& esp_client::gateway() noexcept {
  if (impl_ == nullptr) return detail::gateway_state::unavailable().api();
  impl& d = *impl_;
  lock_guard lock(d.mutex);
  if (!d.gateway) {
    d.gateway =
        detail::gateway_state::make_nothrow<TBMQTT_GATEWAY_MAX_DEVICES, TBMQTT_GATEWAY_PAYLOAD_CAPACITY>(d, d.core);
    if (!d.gateway) {
      ESP_LOGE(tag, "out of memory creating the gateway");
      return detail::gateway_state::unavailable().api();  // a later call tries again
    }
  }
  return d.gateway->api();
}

}  // namespace tbmqtt
