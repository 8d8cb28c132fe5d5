// ESP-IDF provisioning: an esp-mqtt connection of its own (username `provision`) whose events
// the calling task takes from the transport's queue and feeds into detail::provision_engine
// (the round trip itself, host-tested) through esp_provision_mapper. The granted credentials go
// into the SDK's one credentials type (tbmqtt::credentials) and are stored in its format
// (store_credentials). provisioned_client is the FreeRTOS half of run_credentials_lifecycle
// (host-tested).
#include "tbmqtt/esp_idf/provisioned_client.hpp"

#include <chrono>
#include <memory>
#include <new>
#include <utility>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tbmqtt/detail/provision_engine.hpp"

#include "../../transport/esp_mqtt/esp_mqtt_transport.hpp"
#include "esp_provision_events.hpp"
#include "tls_material.hpp"

namespace tbmqtt {
namespace {

std::unique_ptr<char[]> allocate(std::size_t n) noexcept { return std::unique_ptr<char[]>(new (std::nothrow) char[n]); }

// How often a wait or a round trip looks at the cancel flag.
constexpr TickType_t cancel_poll = pdMS_TO_TICKS(100) > 0 ? pdMS_TO_TICKS(100) : 1;

// A duration as whole milliseconds, clamped to [0, UINT32_MAX].
std::uint32_t to_ms(std::chrono::milliseconds d) noexcept {
  if (d.count() <= 0) return 0;
  return d.count() >= static_cast<std::chrono::milliseconds::rep>(UINT32_MAX) ? UINT32_MAX
                                                                              : static_cast<std::uint32_t>(d.count());
}

std::uint32_t ms_since(TickType_t start) noexcept {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(xTaskGetTickCount() - start) * 1000u /
                                    configTICK_RATE_HZ);
}

detail::esp_mqtt_settings settings_from(const esp_client_options& o, const detail::esp_tls_material& tls,
                                        std::uint32_t timeout_ms, std::size_t request_size) noexcept {
  detail::esp_mqtt_settings s;
  s.uri = o.uri;
  s.username = provision_username.data();  // a string literal: NUL-terminated
  detail::set_tls(o.tls, tls, s);
  // The provisioning session authenticates with the key and secret, not a client certificate.
  s.client_cert_pem = nullptr;
  s.client_key_pem = nullptr;
  s.client_key_password = nullptr;
  // One attempt: provision() stops the client at the first failure, before any retry.
  s.reconnect_timeout_ms = static_cast<int>(timeout_ms) + 1000;
  s.network_timeout_ms = static_cast<int>(timeout_ms);
  s.task_stack = static_cast<int>(o.task_stack);
  s.task_priority = static_cast<int>(o.task_priority);
  // The whole PUBLISH in one buffer (an X.509 request carries a certificate).
  const std::size_t out = request_size + TBMQTT_TOPIC_CAPACITY + 16;
  if (out > static_cast<std::size_t>(s.out_buffer_size)) s.out_buffer_size = static_cast<int>(out);
  return s;
}

// Runs the exchange until it finishes, the deadline passes or `stop` is set; returns the
// answer's payload.
result<std::string_view> round_trip(const esp_client_options& server, std::uint32_t timeout_ms,
                                    std::string_view request, span<char> response,
                                    const std::atomic<bool>* stop) noexcept {
  const detail::esp_tls_material tls{server.tls};
  if (tls.error() != errc{}) return tls.error();
  detail::esp_mqtt_transport transport{settings_from(server, tls, timeout_ms, request.size()),
                                       detail::esp_event_queue_config{}};
  detail::provision_engine exchange{transport, request, response};
  detail::esp_provision_mapper mapper{exchange};
  TBMQTT_TRY(transport.start());
  const TickType_t start = xTaskGetTickCount();
  const TickType_t limit = pdMS_TO_TICKS(timeout_ms);
  bool cancelled = false;
  while (!exchange.finished()) {
    if (stop != nullptr && *stop) {
      cancelled = true;
      break;
    }
    const TickType_t spent = xTaskGetTickCount() - start;
    if (spent >= limit) {
      exchange.on_deadline();
      break;
    }
    const TickType_t left = limit - spent;
    const TickType_t slice = cancel_poll < left ? cancel_poll : left;
    transport.next_event(slice > 0 ? slice : 1, [&mapper](const detail::esp_event_view& e) { mapper.handle(e); });
  }
  transport.stop();  // DISCONNECT; the server would close the session itself 60 s later
  if (cancelled) return errc::cancelled;
  return exchange.outcome();
}

// One round trip of at most `timeout_ms`; the granted credentials go into `out`.
errc provision_once(const esp_client_options& server, std::uint32_t timeout_ms, const provision_request& request,
                    credentials& out, const std::atomic<bool>* stop) noexcept {
  std::size_t request_size = 256;
  for (std::string_view s : {request.device_name, request.key, request.secret, request.token, request.client_id,
                             request.username, request.password, request.certificate_pem})
    request_size += s.size() * 6;  // worst case: every character escaped as \u00XX
  auto request_buffer = allocate(request_size);
  auto response_buffer = allocate(TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY);
  if (!request_buffer || !response_buffer) return errc::out_of_memory;
  auto payload = build_provision_request(span<char>{request_buffer.get(), request_size}, request);
  if (!payload) return payload.error();

  auto answer = round_trip(server, timeout_ms, *payload,
                           span<char>{response_buffer.get(), TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY}, stop);
  if (!answer) return answer.error();
  return parse_provision_response(*answer, out).error();  // not_enough_space: unusable here, so never stored
}

}  // namespace

result<void> provision(const esp_client_options& server, const provision_request& request,
                       std::chrono::milliseconds timeout, credentials& out_credentials) noexcept {
  auto granted = std::unique_ptr<credentials>(new (std::nothrow) credentials());  // unchanged on failure
  if (!granted) return errc::out_of_memory;
  if (errc e = provision_once(server, to_ms(timeout), request, *granted, nullptr); e != errc{}) return e;
  out_credentials = *granted;
  return {};
}

result<void> save_credentials(storage& store, const credentials& c) noexcept {
  if (!c.complete()) return errc::invalid_argument;  // load_credentials would refuse it
  auto scratch = allocate(credentials_json_capacity);
  if (!scratch) return errc::out_of_memory;
  return store_credentials(store, c, span<char>{scratch.get(), credentials_json_capacity});
}

void apply_credentials(esp_client_options& options, const credentials& c) noexcept {
  auto or_null = [](const auto& field) -> const char* { return field.empty() ? nullptr : field.c_str(); };
  switch (c.type) {
    case provision_credentials_type::access_token:
      options.access_token = c.token.c_str();
      options.username = nullptr;
      options.password = nullptr;
      break;
    case provision_credentials_type::mqtt_basic:
      options.access_token = nullptr;
      options.client_id = or_null(c.client_id);
      options.username = or_null(c.username);
      options.password = or_null(c.password);
      break;
    default: break;
  }
}

// ---- provisioned_client ------------------------------------------------------------------

// The lifecycle's platform part on the calling task: sliced waits that watch the cancel flag,
// esp-mqtt round trips, an esp_client per connection attempt.
struct provisioned_client::platform final : credentials_platform {
  provisioned_client& self;
  std::chrono::milliseconds connect_timeout;
  TickType_t started = xTaskGetTickCount();

  platform(provisioned_client& s, std::chrono::milliseconds timeout) noexcept : self(s), connect_timeout(timeout) {}

  // Milliseconds left of the provisioning deadline (UINT32_MAX: none).
  std::uint32_t left_ms() const noexcept {
    const std::uint32_t deadline = to_ms(self.options_.deadline);
    if (deadline == 0) return UINT32_MAX;
    const std::uint32_t spent = ms_since(started);
    return spent < deadline ? deadline - spent : 0;
  }

  errc wait_before_provisioning(std::uint32_t delay_ms) noexcept override {
    if (left_ms() <= delay_ms) return errc::timeout;  // the wait alone would pass it
    const TickType_t begin = xTaskGetTickCount();
    const TickType_t total = pdMS_TO_TICKS(delay_ms);
    for (;;) {
      if (self.cancelled_) return errc::cancelled;
      const TickType_t spent = xTaskGetTickCount() - begin;
      if (spent >= total) return errc{};
      const TickType_t rest = total - spent;
      vTaskDelay(rest < cancel_poll ? rest : cancel_poll);
    }
  }
  errc provision(credentials& out) noexcept override {
    const std::uint32_t left = left_ms();
    const std::uint32_t attempt = to_ms(self.options_.attempt_timeout);
    const std::uint32_t timeout = attempt < left ? attempt : left;
    const errc e = provision_once(self.server_, timeout, self.options_.request, out, &self.cancelled_);
    return self.cancelled_ ? errc::cancelled : e;
  }
  errc connect(const credentials& creds) noexcept override {
    esp_client_options options = self.server_;
    apply_credentials(options, creds);
    self.client_.reset();
    self.client_.emplace(options);
    const auto r = self.client_->connect(connect_timeout);
    if (!r) self.client_.reset();
    return r.error();
  }
  void on_retry(std::uint32_t attempt, errc error, std::uint32_t delay_ms) noexcept override {
    if (self.options_.on_retry) self.options_.on_retry(attempt, error, std::chrono::milliseconds(delay_ms));
  }
  bool cancelled() const noexcept override { return self.cancelled_; }
};

provisioned_client::provisioned_client(esp_client_options server, provisioning_options options)
    : server_(server), options_(std::move(options)) {}

provisioned_client::~provisioned_client() {
  cancelled_ = true;
  while (running_) vTaskDelay(cancel_poll);
  client_.reset();
}

void provisioned_client::cancel() noexcept {
  if (running_) cancelled_ = true;  // a later connect() starts afresh
}

esp_client& provisioned_client::get() noexcept {
  TBMQTT_EXPECTS(client_.has_value());
  return *client_;
}

result<void> provisioned_client::connect(std::chrono::milliseconds connect_timeout) noexcept {
  TBMQTT_EXPECTS(options_.store != nullptr && !running_);
  cancelled_ = false;
  running_ = true;
  client_.reset();
  provisioned_ = false;
  attempts_ = 0;
  result<void> outcome = errc::out_of_memory;
  if (auto scratch = allocate(credentials_json_capacity)) {
    credentials_lifecycle life{{options_.allow_reprovision, options_.max_attempts}};
    platform p{*this, connect_timeout};
    outcome = run_credentials_lifecycle(life, *options_.store, current_,
                                        span<char>{scratch.get(), credentials_json_capacity}, p);
    attempts_ = life.attempts();
    provisioned_ = outcome && life.provisioned_new();
  }
  running_ = false;
  return outcome;
}

}  // namespace tbmqtt
