// Shared by the ESP-IDF examples: NVS, the default event loop and the network (Wi-Fi or
// Ethernet from IDF's example helper, configured in menuconfig), and the wall clock.
// Not part of the library.
#pragma once

#include <cstdint>
#include <sys/time.h>

#include "esp_event.h"
#include "sdkconfig.h"
#include "esp_log.h"
#include "nvs_flash.h"

// The helper lives in IDF's examples/common_components; the offline compile check
// (tests/esp_idf/check.sh) has no such header, so the examples build without it too. On the
// linux target the host's network is already up: nothing to bring up.
#if __has_include("protocol_examples_common.h") && !defined(CONFIG_IDF_TARGET_LINUX)
#include "esp_netif.h"
#include "protocol_examples_common.h"
#define TBMQTT_EXAMPLE_HAS_CONNECT 1
#else
#define TBMQTT_EXAMPLE_HAS_CONNECT 0
#endif

namespace example {

/// NVS (erased and re-initialised when its layout changed), the event loop, then the network
/// (esp_netif, then Wi-Fi or Ethernet).
inline void init_platform() {
  esp_err_t err = nvs_flash_init();
  if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
    ESP_ERROR_CHECK(nvs_flash_erase());
    err = nvs_flash_init();
  }
  ESP_ERROR_CHECK(err);
  ESP_ERROR_CHECK(esp_event_loop_create_default());
#if TBMQTT_EXAMPLE_HAS_CONNECT
  ESP_ERROR_CHECK(esp_netif_init());  // lwIP's TCP/IP task: example_connect() asserts without it
  ESP_ERROR_CHECK(example_connect());
#endif
}

/// The wall clock in Unix milliseconds once SNTP (or settimeofday) has set it; 0 before (then
/// send telemetry without "ts": the server stamps it on arrival).
inline std::uint64_t unix_ms() {
  timeval tv{};
  if (gettimeofday(&tv, nullptr) != 0 || tv.tv_sec < 1577836800) return 0;  // clock not set yet
  return static_cast<std::uint64_t>(tv.tv_sec) * 1000u + static_cast<std::uint64_t>(tv.tv_usec) / 1000u;
}

}  // namespace example
