// tbmqtt ESP-IDF example "e10_timeseries": register data points once, then one call gathers
// every point and uploads them as one telemetry message. Mirrors the Linux twin
// examples/linux/e10_timeseries.cpp (same points, same MESSAGES=5 uploads), with
// tbmqtt::esp_client::attach(registry) in place of tbmqtt::client::attach. The timestamp is the
// Unix time once SNTP has set the clock (0, i.e. server time, before). Compile-checked only
// (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include <cstdint>

#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"
#include "tbmqtt/registry.hpp"

namespace {

const char* const tag = "e10_timeseries";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");
constexpr int messages = 5;

double temperature = 21.5;
int humidity = 40;

std::uint32_t monotonic_ms() { return static_cast<std::uint32_t>(esp_timer_get_time() / 1000); }

// "get" callbacks: plain functions returning the current value.
tbmqtt::result<tbmqtt::point_value> read_temperature() { return tbmqtt::point_value{temperature}; }
tbmqtt::result<tbmqtt::point_value> read_humidity() { return tbmqtt::point_value{humidity}; }
tbmqtt::result<tbmqtt::point_value> read_status() { return tbmqtt::point_value{"running"}; }

struct app_events final : tbmqtt::session_events {
  void on_error(tbmqtt::errc e, std::string_view context) noexcept override {
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();

  static tbmqtt::registry<3> points;  // room for three time-series points
  (void)points.add_time_series("temperature", tbmqtt::point_type::real, read_temperature);
  (void)points.add_time_series("humidity", tbmqtt::point_type::integer, read_humidity);
  (void)points.add_time_series("status", tbmqtt::point_type::text, read_status);
  points.set_remote_tuning(false);  // no report by exception here: plain uploads

  static app_events events;
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  if (auto r = device.attach(points); !r) {
    ESP_LOGE(tag, "attach: %s", tbmqtt::to_string(r.error()));
    return;
  }
  if (auto r = device.connect(std::chrono::seconds(15)); !r) {
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    return;
  }
  for (int i = 0; i < messages; ++i) {
    // The registry is driven by the tbmqtt task: call it under the session lock.
    const tbmqtt::result<void> sent = device.with_session(
        [](tbmqtt::session&) { return points.upload_time_series(monotonic_ms(), example::unix_ms()); });
    ESP_LOGI(tag, "upload %d: %s", i + 1, sent ? "ok" : tbmqtt::to_string(sent.error()));
    temperature += 0.5;
    humidity += 1;
    vTaskDelay(pdMS_TO_TICKS(100));
  }
  if (auto r = device.flush(std::chrono::seconds(5)); !r) ESP_LOGW(tag, "flush: %s", tbmqtt::to_string(r.error()));
  device.detach();
  ESP_LOGI(tag, "done");
}
