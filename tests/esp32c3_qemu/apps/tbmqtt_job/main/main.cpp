// tbmqtt_job: connect with an access token, send {"mB_N":N} telemetry (B the boot, N the message), answer "ping" with
// {"pong":true}; prints a FOOTPRINT line once connected and after each answer. With QEMU_JOB_STORE
// the telemetry goes through the NVS store-and-forward queue ("tbmqtt_sf"): sent from there in
// order, also after a power loss, until acknowledged. B counts boots (NVS), so the test can tell
// which boot sent what.
#include <cstdio>

#include "esp_log.h"
#include "nvs.h"
#include "qemu_job.hpp"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "tbmqtt_job";

unsigned next_boot() {
  nvs_handle_t h;
  std::uint32_t boot = 0;
  if (nvs_open("qemu_job", NVS_READWRITE, &h) != ESP_OK) return 0;
  (void)nvs_get_u32(h, "boot", &boot);
  ++boot;
  (void)nvs_set_u32(h, "boot", boot);
  (void)nvs_commit(h);
  nvs_close(h);
  return boot;
}

}  // namespace

extern "C" void app_main(void) {
  qemu_job::init_platform();
  const unsigned boot = next_boot();
  std::printf("BOOT %u\n", boot);

  tbmqtt::esp_client_options options;
  options.uri = QEMU_JOB_URI;
  options.access_token = QEMU_JOB_TOKEN;
  if (QEMU_JOB_STORE) options.offline_store = "tbmqtt_sf";
  static tbmqtt::esp_client device{options};
  device.on_error([](tbmqtt::errc e, std::string_view context) {
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  });
  auto ping = [](const tbmqtt::server_rpc& rpc) {
    if (auto sent = device.reply_rpc(rpc.id, "{\"pong\":true}"); !sent)
      ESP_LOGW(tag, "reply failed: %s", tbmqtt::to_string(sent.error()));
    std::printf("PING answered\n");
    qemu_job::print_footprint("tbmqtt");
  };
  if (auto r = device.on_rpc("ping", ping); !r) ESP_LOGE(tag, "on_rpc: %s", tbmqtt::to_string(r.error()));

  if (auto r = device.connect(std::chrono::milliseconds(QEMU_JOB_STORE ? 3000 : 15000)); r) {
    std::printf("CONNECTED\n");
    qemu_job::print_footprint("tbmqtt");
  } else {
    std::printf("NOT CONNECTED %s\n", tbmqtt::to_string(r.error()));
    if (!QEMU_JOB_STORE) return;
  }
  for (unsigned seq = 0;; ++seq) {
    char json[64];
    std::snprintf(json, sizeof json, "{\"m%u_%u\":%u}", boot, seq, seq);  // one key per message
    const auto sent = device.send_telemetry(json, options.default_qos, [boot, seq](tbmqtt::errc e) {
      std::printf("FORWARDED %u %u %s\n", boot, seq, e == tbmqtt::errc{} ? "ok" : tbmqtt::to_string(e));
    });
    std::printf("SENT %u %u %s\n", boot, seq, sent ? "ok" : tbmqtt::to_string(sent.error()));
    vTaskDelay(pdMS_TO_TICKS(500));
  }
}
