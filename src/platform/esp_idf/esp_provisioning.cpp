// ESP-IDF provisioning: an esp-mqtt connection of its own (username `provision`) whose events
// the calling task takes from the transport's queue and feeds into detail::provision_exchange
// (the round trip itself, host-tested) through esp_provision_mapper. The answer is parsed,
// stored, then copied out.
#include "tbmqtt/esp_provisioning.hpp"

#include <cstring>
#include <memory>
#include <new>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tbmqtt/detail/provision_exchange.hpp"

#include "../../transport/esp_mqtt/esp_mqtt_transport.hpp"
#include "esp_provision_events.hpp"

namespace tbmqtt {
namespace {

std::unique_ptr<char[]> allocate(std::size_t n) noexcept { return std::unique_ptr<char[]>(new (std::nothrow) char[n]); }

template <std::size_t N>
void copy_terminated(std::string_view from, char (&to)[N]) noexcept {
  if (!from.empty()) std::memcpy(to, from.data(), from.size());
  to[from.size()] = '\0';
}

// Every field fits esp_credentials with its terminator (checked before anything is stored).
bool fits(const provisioned_credentials& c) noexcept {
  constexpr std::size_t capacity = TBMQTT_ESP_CREDENTIAL_CAPACITY;
  return c.token.size() < capacity && c.client_id.size() < capacity && c.username.size() < capacity &&
         c.password.size() < capacity;
}

// Copies straight into `out` (no second ~0.5 KB copy on a small task stack). @pre fits(in).
void copy_out(const provisioned_credentials& in, esp_credentials& out) noexcept {
  out.type = in.type;
  copy_terminated(in.token, out.token);
  copy_terminated(in.client_id, out.client_id);
  copy_terminated(in.username, out.username);
  copy_terminated(in.password, out.password);
}

detail::esp_mqtt_settings settings_from(const esp_provision_options& o, std::size_t request_size) noexcept {
  detail::esp_mqtt_settings s;
  s.uri = o.uri;
  s.username = provision_username.data();  // a string literal: NUL-terminated
  s.ca_pem = o.tls.ca_pem;
  s.use_crt_bundle = o.tls.use_crt_bundle;
  s.skip_common_name_check = o.tls.skip_verify;
  // One attempt: esp_provision stops the client at the first failure, before any retry.
  s.reconnect_timeout_ms = static_cast<int>(o.timeout_ms) + 1000;
  s.network_timeout_ms = static_cast<int>(o.timeout_ms);
  s.task_stack = static_cast<int>(o.task_stack);
  s.task_priority = static_cast<int>(o.task_priority);
  // The whole PUBLISH in one buffer (an X.509 request carries a certificate).
  const std::size_t out = request_size + TBMQTT_TOPIC_CAPACITY + 16;
  if (out > static_cast<std::size_t>(s.out_buffer_size)) s.out_buffer_size = static_cast<int>(out);
  return s;
}

// Runs the exchange until it finishes or the deadline passes; returns the answer's payload.
result<std::string_view> round_trip(const esp_provision_options& server, std::string_view request,
                                     span<char> response) noexcept {
  detail::esp_mqtt_transport transport{settings_from(server, request.size()), detail::esp_event_queue_config{}};
  detail::provision_exchange exchange{transport, request, response};
  detail::esp_provision_mapper mapper{exchange};
  TBMQTT_TRY(transport.start());
  const TickType_t start = xTaskGetTickCount();
  const TickType_t limit = pdMS_TO_TICKS(server.timeout_ms);
  while (!exchange.finished()) {
    const TickType_t spent = xTaskGetTickCount() - start;
    if (spent >= limit) {
      exchange.on_deadline();
      break;
    }
    const TickType_t left = limit - spent;
    const TickType_t slice = pdMS_TO_TICKS(100) < left ? pdMS_TO_TICKS(100) : left;
    transport.next_event(slice > 0 ? slice : 1, [&mapper](const detail::esp_event_view& e) { mapper.handle(e); });
  }
  transport.stop();  // DISCONNECT; the server would close the session itself 60 s later
  return exchange.outcome();
}

}  // namespace

result<void> esp_provision(const esp_provision_options& server, const provision_request& request, storage& store,
                           esp_credentials& out_credentials) noexcept {
  std::size_t request_size = 256;
  for (std::string_view s : {request.device_name, request.key, request.secret, request.token, request.client_id,
                             request.username, request.password, request.certificate_pem})
    request_size += s.size() * 6;  // worst case: every character escaped as \u00XX
  auto request_buffer = allocate(request_size);
  auto response_buffer = allocate(TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY);
  auto scratch = allocate(TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY);
  if (!request_buffer || !response_buffer || !scratch) return errc::again;
  auto payload = build_provision_request(span<char>{request_buffer.get(), request_size}, request);
  if (!payload) return payload.error();

  auto answer = round_trip(server, *payload, span<char>{response_buffer.get(), TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY});
  if (!answer) return answer.error();
  auto parsed = parse_provision_response(*answer, span<char>{scratch.get(), TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY});
  if (!parsed) return parsed.error();
  if (!fits(*parsed)) return errc::not_enough_space;  // unusable here: not worth storing
  // Stored before use: a device that resets now still knows its credentials.
  TBMQTT_TRY(store.store(esp_credentials_key, as_bytes(*answer)));
  copy_out(*parsed, out_credentials);
  return {};
}

result<void> esp_load_credentials(storage& store, esp_credentials& out_credentials) noexcept {
  auto stored = allocate(TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY);
  auto scratch = allocate(TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY);
  if (!stored || !scratch) return errc::again;
  auto size = store.load(esp_credentials_key, span<std::byte>{reinterpret_cast<std::byte*>(stored.get()),
                                                              TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY});
  if (!size) return size.error();
  auto parsed = parse_provision_response(std::string_view{stored.get(), *size},
                                         span<char>{scratch.get(), TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY});
  if (!parsed) return errc::malformed;  // only successful answers are ever stored
  if (!fits(*parsed)) return errc::not_enough_space;
  copy_out(*parsed, out_credentials);
  return {};
}

void esp_apply_credentials(esp_client_options& options, const esp_credentials& c) noexcept {
  auto or_null = [](const char* s) -> const char* { return s[0] != '\0' ? s : nullptr; };
  switch (c.type) {
    case provision_credentials_type::access_token:
      options.access_token = c.token;
      options.username = nullptr;
      options.password = nullptr;
      break;
    case provision_credentials_type::mqtt_basic:
      options.access_token = nullptr;
      options.client_id = or_null(c.client_id);
      options.username = or_null(c.username);
      options.password = or_null(c.password);
      break;
    default:
      break;
  }
}

}  // namespace tbmqtt
