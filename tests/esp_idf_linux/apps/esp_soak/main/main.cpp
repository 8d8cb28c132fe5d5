// Test app (not an example) for tests/emulator/test_esp_idf_behaviours.py: the ESP client on
// FreeRTOS + esp-mqtt + NVS (linux target), driven by TBMQTT_SOAK_MODE:
//   stress     4 FreeRTOS tasks publish 50 QoS 1 messages {"msg":task*1000+i} each at once while "ping" RPCs are
//              answered; then prints memory: the client's heap high-water, each task's stack
//              high-water (uxTaskGetStackHighWaterMark), heap allocations per publish (QoS 0 and
//              QoS 1) in the steady state.
//   reconnect  sends {"n":i} every 200 ms for ever and answers "ping"; logs each connection event.
//              Reconnect back-off: TBMQTT_SOAK_RECONNECT_MIN / _MAX ms (default 500 both).
//   store      store-and-forward in NVS (offline_store): queues TBMQTT_SOAK_COUNT messages
//              {"seq":FIRST..} (TBMQTT_SOAK_FIRST) whether connected or not, logs "queued", then
//              forwards them and what a previous run left, logs "store forwarded" once the store
//              is empty (flush()), and keeps running. With TBMQTT_SOAK_SYNC=1 the store commits
//              only when asked (group commit of 1000 messages or an hour) and holds at most
//              TBMQTT_SOAK_MAX messages (drop_oldest); after queuing it logs "offline_queued N
//              dropped D" (offline_queued()), calls sync_offline_store() and logs "synced".
//   wire       every feature in the wire format of TBMQTT_WIRE_TOPICS (v1, v2, v2j, v2p) and
//              TBMQTT_WIRE_PAYLOAD (json, protobuf: the schemas of tests/emulator/proto/):
//              telemetry, client attributes, an attribute request, a client RPC
//              (TBMQTT_WIRE_METHOD), then answers "setGpio" (its params echoed) and logs each
//              shared-attribute push of "mode", for ever; every result is logged as JSON.
//   gateway_oom  esp_client::gateway() while every allocation of TBMQTT_GATEWAY_PAYLOAD_CAPACITY
//              bytes or more fails: logs what the gateway it got answers ("gateway oom: ..."),
//              then calls gateway() again with the heap back ("gateway retry: ...").
// Settings: TBMQTT_URI, TBMQTT_TOKEN, TBMQTT_CLIENT_ID, TBMQTT_FLASH_FILE (example_settings.hpp).
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../../../../../examples/esp-idf/common/example_client.hpp"
#include "../../../../../examples/esp-idf/common/example_platform.hpp"
#include "../../../../../examples/esp-idf/common/example_settings.hpp"
#include "../../../../unit/profile_schemas.hpp"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"

// Kconfig reaches the SDK through tbmqtt/config.hpp: tests/esp_idf_linux/sdkconfig.defaults sets
// these two away from their defaults (16 and 4096), for a core limit and an ESP client one.
static_assert(TBMQTT_MAX_RPC_METHODS == 20, "CONFIG_TBMQTT_MAX_RPC_METHODS did not reach tbmqtt/config.hpp");
static_assert(TBMQTT_ESP_EVENT_RING_SIZE == 4160, "CONFIG_TBMQTT_EVENT_RING_SIZE did not reach tbmqtt/config.hpp");

extern "C" {
unsigned long soak_allocations(void);
long soak_heap_in_use(void);
long soak_heap_high_water(void);
void soak_reset_high_water(void);
void soak_fail_allocations_from(std::size_t n);
}

namespace {

const char* const tag = "soak";
constexpr int publishers = 4;
constexpr int per_publisher = 50;

tbmqtt::esp_client* device = nullptr;

void on_ping(const tbmqtt::server_rpc& rpc) {
  if (auto r = device->reply_rpc(rpc.id, "{\"pong\":true}"); !r)
    ESP_LOGW(::tag, "reply failed: %s", tbmqtt::to_string(r.error()));
  else
    ESP_LOGI(::tag, "ping answered");
}

void on_connection(const tbmqtt::connection_event& event) {
  if (event.connected)
    ESP_LOGI(tag, "connection up");
  else
    ESP_LOGI(tag, "connection down: %s", tbmqtt::to_string(event.reason));
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// ---- stress ------------------------------------------------------------------------------------

SemaphoreHandle_t finished = nullptr;
TaskHandle_t publisher_tasks[publishers];
std::atomic<int> publish_failures{0};

void publisher(void* arg) {
  const int id = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
  for (int i = 0; i < per_publisher; ++i) {
    tbmqtt::telemetry<64> t;
    t.add("msg", id * 1000 + i);  // task and sequence in one key: each must arrive once
    // errc::again: esp-mqtt's outbox is full for a moment; try again.
    for (;;) {
      auto sent = device->send_telemetry(t, tbmqtt::qos::at_least_once);
      if (sent) break;
      if (sent.error() != tbmqtt::errc::again) {
        ESP_LOGE(tag, "task %d message %d: %s", id, i, tbmqtt::to_string(sent.error()));
        publish_failures.fetch_add(1);
        break;
      }
      vTaskDelay(1);
    }
  }
  xSemaphoreGive(finished);
  vTaskSuspend(nullptr);  // kept alive for its stack high-water mark
}

unsigned long allocations_per_publish(tbmqtt::qos q, int count) {
  const unsigned long before = soak_allocations();
  for (int i = 0; i < count; ++i) {
    tbmqtt::telemetry<64> t;
    t.add("steady", i);
    (void)device->send_telemetry(t, q);
    if (q == tbmqtt::qos::at_least_once && i % 8 == 7) (void)device->flush(std::chrono::seconds(5));
  }
  (void)device->flush(std::chrono::seconds(5));
  return soak_allocations() - before;
}

void stress(tbmqtt::esp_client& client, long baseline) {
  finished = xSemaphoreCreateCounting(publishers, 0);
  for (int i = 0; i < publishers; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "publisher%d", i);
    xTaskCreate(&publisher, name, 4096, reinterpret_cast<void*>(static_cast<std::intptr_t>(i)), 4,
                &publisher_tasks[i]);  // below the tbmqtt task (5)
  }
  for (int i = 0; i < publishers; ++i) xSemaphoreTake(finished, portMAX_DELAY);
  if (auto r = client.flush(std::chrono::seconds(20)); !r) {
    ESP_LOGE(tag, "not delivered: %s", tbmqtt::to_string(r.error()));
    return;
  }
  ESP_LOGI(tag, "stress done: %d messages, %d failures", publishers * per_publisher, publish_failures.load());

  // Steady state: a warm-up round, then the measured rounds.
  (void)allocations_per_publish(tbmqtt::qos::at_most_once, 16);
  (void)allocations_per_publish(tbmqtt::qos::at_least_once, 16);
  const int rounds = 64;
  const unsigned long q0 = allocations_per_publish(tbmqtt::qos::at_most_once, rounds);
  const unsigned long q1 = allocations_per_publish(tbmqtt::qos::at_least_once, rounds);
  std::printf("memory: client heap high-water %ld bytes\n", soak_heap_high_water() - baseline);
  std::printf("memory: allocations per publish qos0 %.2f qos1 %.2f\n", static_cast<double>(q0) / rounds,
              static_cast<double>(q1) / rounds);
  for (int i = 0; i < publishers; ++i)
    std::printf("memory: stack high-water publisher%d %u of 4096 bytes unused\n", i,
                static_cast<unsigned>(uxTaskGetStackHighWaterMark(publisher_tasks[i])));
  for (const char* name : {"tbmqtt", "mqtt_task", "main"}) {
    if (TaskHandle_t h = xTaskGetHandle(name))
      std::printf("memory: stack high-water %s %u bytes unused\n", name,
                  static_cast<unsigned>(uxTaskGetStackHighWaterMark(h)));
  }
  std::printf("memory: report done\n");
}

// ---- wire --------------------------------------------------------------------------------------

// The test profile's RPC response schema: rpc_response.proto plus `string error = 3`, where the
// library's own error answers go (unknown method, ...).
constexpr tbmqtt::protobuf::field_desc rpc_answer_fields[] = {
    {"pin", "pin", 1, tbmqtt::protobuf::field_type::int32},
    {"value", "value", 2, tbmqtt::protobuf::field_type::bool_},
    {"error", "error", 3, tbmqtt::protobuf::field_type::string},
};
const tbmqtt::protobuf::message_desc rpc_answer{"rpc.RpcResponseMsg", rpc_answer_fields, 3};

bool configure_wire(tbmqtt::wire_format& wire) {
  const char* topics = std::getenv("TBMQTT_WIRE_TOPICS");
  const char* payload = std::getenv("TBMQTT_WIRE_PAYLOAD");
  const std::string_view t = topics != nullptr ? topics : "v1", p = payload != nullptr ? payload : "json";
  using style = tbmqtt::topics::topic_style;
  if (t == "v1")
    wire.topics = style::v1;
  else if (t == "v2")
    wire.topics = style::v2;
  else if (t == "v2j")
    wire.topics = style::v2_json;
  else if (t == "v2p")
    wire.topics = style::v2_proto;
  else
    return false;
  if (p == "json")
    wire.payload = tbmqtt::payload_format::json;
  else if (p == "protobuf")
    wire.payload = tbmqtt::payload_format::protobuf;
  else
    return false;
  namespace profile = tbmqtt_test::profile;
  wire.schemas = {&profile::reading, &profile::sensor_config, &profile::rpc, &rpc_answer};
  return true;
}

void log_json(const char* what, std::string_view text) {
  ESP_LOGI(tag, "%s %.*s", what, static_cast<int>(text.size()), text.data());
}

void wire(tbmqtt::esp_client& client) {
  (void)client.on_rpc("setGpio", [](const tbmqtt::server_rpc& rpc) {
    if (auto r = device->reply_rpc(rpc.id, rpc.params_json); !r)
      ESP_LOGW(::tag, "setGpio not answered: %s", tbmqtt::to_string(r.error()));
    else
      log_json("setGpio answered", rpc.params_json);
  });
  if (auto r = client.subscribe_shared_attributes("mode",
                                                  [](tbmqtt::json::value update) { log_json("push", update.raw()); });
      !r)
    ESP_LOGE(tag, "subscribe: %s", tbmqtt::to_string(r.error()));
  if (!example::connect(client, tag)) return;
  auto telemetry =
      client.send_telemetry(R"({"temperature":21.5,"uptimeS":7,"status":"ok"})", tbmqtt::qos::at_least_once);
  auto attributes =
      client.send_attributes(R"({"firmwareVersion":"fw-1.2","serialNumber":5})", tbmqtt::qos::at_least_once);
  if (!telemetry || !attributes) {
    ESP_LOGE(tag, "not sent: %s", tbmqtt::to_string(!telemetry ? telemetry.error() : attributes.error()));
    return;
  }
  if (auto r = client.flush(std::chrono::seconds(10)); !r) {
    ESP_LOGE(tag, "not acknowledged: %s", tbmqtt::to_string(r.error()));
    return;
  }
  ESP_LOGI(tag, "telemetry and attributes delivered");
  example::countdown answers{2};
  if (auto r =
          client.request_attributes("firmwareVersion", "mode",
                                    [&answers](tbmqtt::errc e, tbmqtt::json::value client, tbmqtt::json::value shared) {
                                      if (e != tbmqtt::errc{}) ESP_LOGW(::tag, "attributes: %s", tbmqtt::to_string(e));
                                      log_json("client", client.raw());
                                      log_json("shared", shared.raw());
                                      answers.arrive();
                                    });
      !r)
    ESP_LOGE(tag, "request_attributes: %s", tbmqtt::to_string(r.error()));
  const char* method = std::getenv("TBMQTT_WIRE_METHOD");
  if (auto r = client.call_rpc(method != nullptr ? method : "getTime", R"({"tz":"UTC"})",
                               [&answers](tbmqtt::errc e, tbmqtt::json::value response) {
                                 if (e != tbmqtt::errc{}) ESP_LOGW(::tag, "rpc: %s", tbmqtt::to_string(e));
                                 log_json("rpc answer", response.raw());
                                 answers.arrive();
                               });
      !r)
    ESP_LOGE(tag, "call_rpc: %s", tbmqtt::to_string(r.error()));
  if (!answers.wait(2, 15000)) ESP_LOGE(tag, "answers missing");
  ESP_LOGI(tag, "wire ready");               // server RPCs and pushes from now on, on the tbmqtt task
  for (;;) vTaskDelay(pdMS_TO_TICKS(1000));  // `answers` lives on: its callbacks stay valid
}

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();
  const char* mode_env = std::getenv("TBMQTT_SOAK_MODE");
  const char* mode = mode_env != nullptr ? mode_env : "stress";

  tbmqtt::esp_client_options options;
  options.uri = example::settings::uri("mqtt://127.0.0.1:1883");
  options.access_token = example::settings::token("SOAK_TOKEN");
  options.client_id = example::settings::client_id();
  options.reconnect_min = std::chrono::milliseconds(env_int("TBMQTT_SOAK_RECONNECT_MIN", 500));
  options.reconnect_max = std::chrono::milliseconds(env_int("TBMQTT_SOAK_RECONNECT_MAX", 500));
  if (std::strcmp(mode, "store") == 0) options.offline_store = "soakq";
  const bool sync_only_when_asked = env_int("TBMQTT_SOAK_SYNC", 0) != 0;
  if (sync_only_when_asked) {
    options.offline_queue.commit_records = 1000;
    options.offline_queue.commit_interval_ms = 3600 * 1000;
    options.offline_queue.max_messages = static_cast<std::size_t>(env_int("TBMQTT_SOAK_MAX", 64));
  }
  if (std::strcmp(mode, "wire") == 0 && !configure_wire(options.wire)) {
    ESP_LOGE(tag, "TBMQTT_WIRE_TOPICS v1|v2|v2j|v2p, TBMQTT_WIRE_PAYLOAD json|protobuf");
    return;
  }

  const long baseline = soak_heap_in_use();
  soak_reset_high_water();
  static tbmqtt::esp_client client{options};
  device = &client;
  example::log_errors(client, tag);
  client.on_connection(&on_connection);
  if (auto r = client.on_rpc("ping", &on_ping); !r) ESP_LOGE(tag, "on_rpc: %s", tbmqtt::to_string(r.error()));

  if (std::strcmp(mode, "gateway_oom") == 0) {
    soak_fail_allocations_from(TBMQTT_GATEWAY_PAYLOAD_CAPACITY);  // the gateway holds a buffer of that size
    tbmqtt::gateway_client& none = client.gateway();
    soak_fail_allocations_from(0);
    const auto connected = none.connect_device("oom-device");
    const auto sent = none.send_telemetry("oom-device", R"({"t":1})");
    const auto rpc = none.on_rpc("oom-device", [](const tbmqtt::gateway_rpc&) {});
    ESP_LOGI(tag, "gateway oom: connect_device %s send_telemetry %s on_rpc %s is_connected %d",
             tbmqtt::to_string(connected ? tbmqtt::errc{} : connected.error()),
             tbmqtt::to_string(sent ? tbmqtt::errc{} : sent.error()),
             tbmqtt::to_string(rpc ? tbmqtt::errc{} : rpc.error()), none.is_connected("oom-device") ? 1 : 0);
    tbmqtt::gateway_client& gateway = client.gateway();
    const auto again = gateway.connect_device("oom-device");
    ESP_LOGI(tag, "gateway retry: %s gateway, connect_device %s", &gateway != &none ? "another" : "the same",
             tbmqtt::to_string(again ? tbmqtt::errc{} : again.error()));
    return;
  }
  if (std::strcmp(mode, "store") == 0) {
    if (auto r = client.start(); !r) {
      ESP_LOGE(tag, "start: %s", tbmqtt::to_string(r.error()));
      return;
    }
    const int first = env_int("TBMQTT_SOAK_FIRST", 0), count = env_int("TBMQTT_SOAK_COUNT", 0);
    for (int i = first; i < first + count; ++i) {
      tbmqtt::telemetry<64> t;
      t.add("seq", i);
      if (auto sent = client.send_telemetry(t, tbmqtt::qos::at_least_once); !sent)
        ESP_LOGE(tag, "seq %d not queued: %s", i, tbmqtt::to_string(sent.error()));
    }
    ESP_LOGI(tag, "queued %d", count);
    if (sync_only_when_asked) {
      std::uint32_t dropped = 0;
      const std::size_t queued = client.offline_queued(&dropped);
      ESP_LOGI(tag, "offline_queued %u dropped %u", static_cast<unsigned>(queued), static_cast<unsigned>(dropped));
      if (auto r = client.sync_offline_store(); !r)
        ESP_LOGE(tag, "sync_offline_store: %s", tbmqtt::to_string(r.error()));
      else
        ESP_LOGI(tag, "synced");
    }
    // The tbmqtt task forwards them (and those a previous run left); flush() waits for the store
    // to be empty.
    if (auto r = client.flush(std::chrono::seconds(60)); !r)
      ESP_LOGE(tag, "store not forwarded: %s", tbmqtt::to_string(r.error()));
    else
      ESP_LOGI(tag, "store forwarded");
    return;
  }
  if (std::strcmp(mode, "wire") == 0) {
    wire(client);
    return;
  }
  if (auto r = client.connect(std::chrono::seconds(15)); !r) {
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    return;
  }
  if (std::strcmp(mode, "reconnect") == 0) {
    for (int i = 0;; ++i) {
      tbmqtt::telemetry<64> t;
      t.add("n", i);
      if (auto sent = client.send_telemetry(t, tbmqtt::qos::at_most_once); !sent && client.connected())
        ESP_LOGW(tag, "n %d not sent: %s", i, tbmqtt::to_string(sent.error()));
      vTaskDelay(pdMS_TO_TICKS(200));
    }
  }
  stress(client, baseline);
}
