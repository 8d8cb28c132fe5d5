// tbmqtt ESP-IDF example "firmware_update" (h50): firmware OTA from ThingsBoard into the next
// OTA app partition. esp_client::enable_ota + tbmqtt::esp_ota_sink + NVS storage
// (download checkpoints survive restarts; the download resumes where it stopped) + MD5/SHA-2
// through mbedTLS. Chunks (menuconfig's size, 16 KiB by default) stream into the partition as
// esp-mqtt delivers them. After the new image boots it is marked valid (rollback cancelled) only
// once it has connected to ThingsBoard (unless menuconfig's "Mark a new image valid only after it
// has connected" is off), and only then is fw_state UPDATED reported:
//   connection event -> tbmqtt::esp_ota_confirm_running() -> esp_client::confirm_ota().
// Needs a partition table with two OTA app partitions (e.g. "Factory app, two OTA definitions")
// and, for the rollback, CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE. The running title/version
// reported to ThingsBoard are the app's own (PROJECT_NAME / PROJECT_VER); assign a package
// with another version on the server to start an update. On chips: compile-checked only
// (tests/esp_idf/check.sh); not run on a device. On the ESP-IDF linux target (no OTA partitions)
// the same client, engine, NVS checkpoints and hashes download into a file
// (../../common/linux_file_sink.hpp, TBMQTT_FIRMWARE_FILE); activation, confirmation and
// rollback are the chip's. Set server_uri and access_token below, or see
// ../../common/example_settings.hpp (TBMQTT_* variables).
#include <cstdlib>
#include <cstring>

#include "esp_log.h"
#include "sdkconfig.h"
#if !defined(CONFIG_IDF_TARGET_LINUX)
#include "esp_ota_ops.h"
#include "tbmqtt/esp_idf/ota_sink.hpp"
#define TBMQTT_EXAMPLE_ON_CHIP 1
#else
#include "../../common/linux_file_sink.hpp"
#define TBMQTT_EXAMPLE_ON_CHIP 0
#endif
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"
#include "tbmqtt/ota.hpp"
// Not a public header (yet): the component compiles it; examples live in the same repository.
#include "../../../../src/platform/esp_idf/nvs_storage.hpp"

#if __has_include("esp_system.h") && TBMQTT_EXAMPLE_ON_CHIP  // not in the offline header set of tests/esp_idf/check.sh
#include "esp_system.h"
#define TBMQTT_EXAMPLE_HAS_RESTART 1
#else
#define TBMQTT_EXAMPLE_HAS_RESTART 0
#endif

namespace {

const char* const tag = "firmware_update";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");

char current_title[32] = "tbmqtt_firmware_update";  // sizes of esp_app_desc_t's project_name and version
char current_version[32] = "unknown";

tbmqtt::esp_client* device = nullptr;
volatile bool restart_requested = false;

// What the app hears from OTA, on the tbmqtt task.
tbmqtt::ota_handlers ota_log() {
  tbmqtt::ota_handlers h;
  h.on_state = [](tbmqtt::ota_kind, tbmqtt::ota_state s, tbmqtt::errc e, std::string_view detail) {
    const std::string_view name = tbmqtt::to_string(s);
    ESP_LOGI(tag, "fw_state %.*s%s%.*s", static_cast<int>(name.size()), name.data(), e == tbmqtt::errc{} ? "" : " - ",
             static_cast<int>(detail.size()), detail.data());
  };
  h.on_progress = [](tbmqtt::ota_kind, std::uint64_t received, std::uint64_t total) {
    ESP_LOGI(tag, "downloaded %u / %u bytes", static_cast<unsigned>(received), static_cast<unsigned>(total));
  };
  h.on_ready = [](tbmqtt::ota_kind, const tbmqtt::ota_package& p) {
    // On the tbmqtt task: do not restart here (fw_state UPDATING is still being sent); the
    // main task restarts after flushing.
    ESP_LOGI(tag, "version %.*s activated: restarting", static_cast<int>(p.version_text().size()),
             p.version_text().data());
    restart_requested = true;
  };
  return h;
}

// On the tbmqtt task.
void on_connection(const tbmqtt::connection_event& event) {
  if (!event.connected) {
    ESP_LOGW(tag, "disconnected: %s", tbmqtt::to_string(event.reason));
    return;
  }
  ESP_LOGI(tag, "connected to ThingsBoard, running %s %s", current_title, current_version);
#if TBMQTT_EXAMPLE_ON_CHIP
  // The new image reached ThingsBoard: keep it (cancels the bootloader's rollback) ...
  if (tbmqtt::esp_ota_running_pending_verify()) {
    if (auto r = tbmqtt::esp_ota_confirm_running(); !r)
      ESP_LOGE(tag, "cannot mark the image valid: %s", tbmqtt::to_string(r.error()));
    else
      ESP_LOGI(tag, "image marked valid");
  }
#endif
  // ... and report UPDATED when the version we activated is the one running (after a rollback the
  // engine has reported FAILED itself on connecting: nothing is pending then). errc::not_found:
  // no update was pending.
  (void)device->confirm_ota(tbmqtt::ota_kind::firmware);
}

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();

#if TBMQTT_EXAMPLE_ON_CHIP
  // What runs now, from the running partition's app descriptor (PROJECT_NAME / PROJECT_VER).
  esp_app_desc_t desc{};
  if (esp_ota_get_partition_description(esp_ota_get_running_partition(), &desc) == ESP_OK) {
    std::strncpy(current_title, desc.project_name, sizeof current_title - 1);
    std::strncpy(current_version, desc.version, sizeof current_version - 1);
  }
  static tbmqtt::esp_ota_sink sink;
#else
  static example::linux_file_sink sink;
#endif

  static tbmqtt::esp_idf::nvs_storage store{"tbmqtt"};

#if TBMQTT_EXAMPLE_ON_CHIP
  // A new image waits for confirmation until it has connected, unless menuconfig says otherwise.
  if (tbmqtt::esp_ota_confirm_at_boot()) ESP_LOGI(tag, "new image: confirmed once it reaches ThingsBoard");
#endif

  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client client{options};
  device = &client;
  client.on_error([](tbmqtt::errc e, std::string_view context) {  // errors no request owns
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  });

  tbmqtt::ota_config config;
  config.kind = tbmqtt::ota_kind::firmware;
  config.current_title = current_title;
  config.current_version = current_version;
  // chunk_size, window and chunk_timeout_ms: menuconfig's defaults. Chunks larger than the
  // esp-mqtt buffer stream into the sink fragment by fragment; no chunk-sized buffer is needed.
#if !TBMQTT_EXAMPLE_ON_CHIP
  // linux target: TBMQTT_OTA_CHUNK_SIZE overrides menuconfig's chunk size (tests use 1024: the
  // default 16 KiB chunks overrun the default 4 KiB event ring on esp-mqtt, see the README).
  if (const char* chunk = std::getenv("TBMQTT_OTA_CHUNK_SIZE"); chunk != nullptr && *chunk != '\0')
    config.chunk_size = static_cast<std::uint32_t>(std::strtoul(chunk, nullptr, 10));
#endif
  // MD5/SHA-2 through mbedTLS; download checkpoints in NVS.
  if (auto added = client.enable_ota(config, sink, &store, ota_log()); !added) {
    ESP_LOGE(tag, "OTA engine: %s", tbmqtt::to_string(added.error()));
    return;
  }
  client.on_connection(&on_connection);

  if (auto r = client.connect(std::chrono::seconds(15)); !r)
    ESP_LOGW(tag, "connect: %s (esp-mqtt keeps trying)", tbmqtt::to_string(r.error()));
  while (!restart_requested) vTaskDelay(pdMS_TO_TICKS(1000));
  (void)client.flush(std::chrono::seconds(5));  // fw_state UPDATING
  client.disconnect();
#if TBMQTT_EXAMPLE_HAS_RESTART
  esp_restart();
#else
  ESP_LOGI(tag, "restart the device now");
#endif
}
