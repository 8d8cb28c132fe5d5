// Shared by the ESP-IDF examples: NVS, the default event loop and the network (Wi-Fi or
// Ethernet from IDF's example helper, configured in menuconfig), and the wall clock.
// Not part of the library.
#pragma once

#include <sys/time.h>
#include <cstdint>

#include "esp_event.h"
#include "esp_log.h"
#include "nvs_flash.h"
#include "sdkconfig.h"

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

#if defined(CONFIG_IDF_TARGET_LINUX)
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "esp_private/partition_linux.h"
#endif

namespace example {

#if defined(CONFIG_IDF_TARGET_LINUX)
/// On the linux target NVS lives in an emulated flash file. ESP-IDF creates a new
/// /tmp/idf-partition-XXXXXX on every start (and leaves it behind). With TBMQTT_FLASH_FILE set,
/// that file is used instead when it exists (NVS as the last run left it: stored credentials,
/// OTA checkpoints, queued telemetry survive a restart), and the new one is renamed to it when it
/// does not (same file system as /tmp). Before nvs_flash_init(); returns the path to rename to.
inline const char* use_flash_file() {
  const char* path = std::getenv("TBMQTT_FLASH_FILE");
  if (path == nullptr || *path == '\0') return nullptr;
  esp_partition_file_mmap_ctrl_t* input = esp_partition_get_file_mmap_ctrl_input();
  if (access(path, F_OK) == 0 && std::strlen(path) < sizeof input->flash_file_name) {
    std::strncpy(input->flash_file_name, path, sizeof input->flash_file_name - 1);
    return nullptr;
  }
  return path;
}

inline void keep_flash_file(const char* path) {
  if (path == nullptr) return;
  const char* created = esp_partition_get_file_mmap_ctrl_act()->flash_file_name;
  if (std::rename(created, path) != 0) ESP_LOGE("example", "cannot keep the flash file %s as %s", created, path);
}
#endif

/// NVS (erased and re-initialised when its layout changed), the event loop, then the network
/// (esp_netif, then Wi-Fi or Ethernet; nothing on linux, whose network is the host's).
inline void init_platform() {
#if defined(CONFIG_IDF_TARGET_LINUX)
  // lwIP on a chip has no SIGPIPE; on linux esp-tls writing to a socket the server closed (as
  // ThingsBoard does after a provisioning answer) would kill the process instead of failing.
  std::signal(SIGPIPE, SIG_IGN);
  const char* keep_as = use_flash_file();
#endif
  esp_err_t err = nvs_flash_init();
  if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
    ESP_ERROR_CHECK(nvs_flash_erase());
    err = nvs_flash_init();
  }
  ESP_ERROR_CHECK(err);
#if defined(CONFIG_IDF_TARGET_LINUX)
  keep_flash_file(keep_as);
#endif
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
