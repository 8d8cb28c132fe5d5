// Shared by the QEMU job apps (not part of the library): platform start-up as in the examples,
// and the footprint line the test reads.
#pragma once

#include <cstdio>

#include "esp_event.h"
#include "esp_heap_caps.h"
#include "esp_netif.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs_flash.h"
#include "protocol_examples_common.h"

namespace qemu_job {

inline void init_platform() {
  esp_err_t err = nvs_flash_init();
  if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
    ESP_ERROR_CHECK(nvs_flash_erase());
    err = nvs_flash_init();
  }
  ESP_ERROR_CHECK(err);
  ESP_ERROR_CHECK(esp_event_loop_create_default());
  ESP_ERROR_CHECK(esp_netif_init());
  ESP_ERROR_CHECK(example_connect());
}

/// Smallest free stack (bytes) a task named `name` ever had, or -1 if there is no such task.
inline long stack_high_water(const char* name) {
  TaskHandle_t t = xTaskGetHandle(name);
  return t == nullptr ? -1 : static_cast<long>(uxTaskGetStackHighWaterMark(t)) * static_cast<long>(sizeof(StackType_t));
}

/// FOOTPRINT heap_free=.. heap_min=.. main_stack_free_min=.. client_stack_free_min=.. mqtt_stack_free_min=..
inline void print_footprint(const char* client_task) {
  std::printf(
      "FOOTPRINT heap_free=%u heap_min=%u main_stack_free_min=%ld client_stack_free_min=%ld "
      "mqtt_stack_free_min=%ld\n",
      static_cast<unsigned>(heap_caps_get_free_size(MALLOC_CAP_8BIT)),
      static_cast<unsigned>(heap_caps_get_minimum_free_size(MALLOC_CAP_8BIT)), stack_high_water("main"),
      client_task != nullptr ? stack_high_water(client_task) : -1L, stack_high_water("mqtt_task"));
  std::fflush(stdout);
}

}  // namespace qemu_job
