// esp_mqtt_job, the footprint yardstick: tbmqtt_job's job with plain esp-mqtt and nothing else.
// Connect with an access token (MQTT user name), send {"m0_N":N} telemetry at QoS 1,
// subscribe v1/devices/me/rpc/request/+ and answer "ping" with {"pong":true}.
#include <cstdio>
#include <cstring>

#include "esp_log.h"
#include "mqtt_client.h"
#include "qemu_job.hpp"

namespace {

const char* const tag = "esp_mqtt_job";
volatile bool connected = false;

void on_mqtt(void*, esp_event_base_t, int32_t id, void* data) {
  auto* e = static_cast<esp_mqtt_event_handle_t>(data);
  switch (static_cast<esp_mqtt_event_id_t>(id)) {
    case MQTT_EVENT_CONNECTED:
      esp_mqtt_client_subscribe(e->client, "v1/devices/me/rpc/request/+", 1);
      connected = true;
      break;
    case MQTT_EVENT_DISCONNECTED: connected = false; break;
    case MQTT_EVENT_DATA: {
      static const char prefix[] = "v1/devices/me/rpc/request/";
      const std::size_t n = sizeof prefix - 1;
      if (e->current_data_offset != 0 || e->topic_len <= static_cast<int>(n) || std::strncmp(e->topic, prefix, n) != 0)
        break;
      if (e->data_len < 0 || memmem(e->data, e->data_len, "\"ping\"", 6) == nullptr) break;
      char topic[64];
      std::snprintf(topic, sizeof topic, "v1/devices/me/rpc/response/%.*s", e->topic_len - static_cast<int>(n),
                    e->topic + n);
      esp_mqtt_client_publish(e->client, topic, "{\"pong\":true}", 0, 1, 0);
      std::printf("PING answered\n");
      qemu_job::print_footprint(nullptr);
      break;
    }
    default: break;
  }
}

}  // namespace

extern "C" void app_main(void) {
  qemu_job::init_platform();
  esp_mqtt_client_config_t config{};
  config.broker.address.uri = QEMU_JOB_URI;
  config.credentials.username = QEMU_JOB_TOKEN;
  esp_mqtt_client_handle_t client = esp_mqtt_client_init(&config);
  esp_mqtt_client_register_event(client, MQTT_EVENT_ANY, on_mqtt, nullptr);
  esp_mqtt_client_start(client);
  for (int i = 0; i < 150 && !connected; ++i) vTaskDelay(pdMS_TO_TICKS(100));
  if (!connected) {
    std::printf("NOT CONNECTED\n");
    return;
  }
  std::printf("CONNECTED\n");
  qemu_job::print_footprint(nullptr);
  for (unsigned seq = 0;; ++seq) {
    char json[64];
    std::snprintf(json, sizeof json, "{\"m0_%u\":%u}", seq, seq);
    const int id = esp_mqtt_client_publish(client, "v1/devices/me/telemetry", json, 0, 1, 0);
    std::printf("SENT 0 %u %s\n", seq, id >= 0 ? "ok" : "failed");
    vTaskDelay(pdMS_TO_TICKS(500));
  }
  (void)tag;
}
