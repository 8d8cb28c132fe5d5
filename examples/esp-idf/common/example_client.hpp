// Shared by the ESP-IDF examples: logging the errors no request owns,
// connecting with the typed error logged, and waiting in app_main for events of the tbmqtt task.
// Not part of the library.
#pragma once

#include <cstdint>
#include <string_view>

#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace example {

/// Logs the errors no request owns (a refused subscription, a malformed push, an unknown RPC
/// method, ...) with `tag` (a string that outlives the client).
inline void log_errors(tbmqtt::esp_client& device, const char* tag) {
  device.on_error([tag](tbmqtt::errc e, std::string_view context) {
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  });
}

/// Connects `device` (15 s). On failure logs `connect failed: <errc>` (e.g. refused_credentials,
/// unreachable), disconnects the client and returns false.
inline bool connect(tbmqtt::esp_client& device, const char* tag) {
  if (auto r = device.connect(std::chrono::seconds(15)); !r) {
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    device.disconnect();
    return false;
  }
  ESP_LOGI(tag, "connected");
  return true;
}

/// Counts events that arrive on the tbmqtt task (arrive()); app_main waits for a number of them
/// with a deadline (wait()). A FreeRTOS counting semaphore underneath.
class countdown {
 public:
  /// @pre Called after the scheduler started (in app_main or a task).
  explicit countdown(unsigned max_count) : events_(xSemaphoreCreateCounting(max_count, 0)) {}
  void arrive() {
    if (events_ != nullptr) xSemaphoreGive(events_);
  }
  /// @return true when `count` events arrived within `timeout_ms`; false on timeout (or when
  /// the semaphore could not be created: out of memory).
  bool wait(unsigned count, std::uint32_t timeout_ms) {
    if (events_ == nullptr) return false;
    const TickType_t start = xTaskGetTickCount();
    const TickType_t budget = pdMS_TO_TICKS(timeout_ms);
    for (unsigned i = 0; i < count; ++i) {
      const TickType_t spent = xTaskGetTickCount() - start;
      if (spent > budget || xSemaphoreTake(events_, budget - spent) != pdTRUE) return false;
    }
    return true;
  }

 private:
  SemaphoreHandle_t events_;
};

}  // namespace example
