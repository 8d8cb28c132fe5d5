// tbmqtt ESP-IDF example "e30_shared_attributes": register shared attributes with a "set"
// callback; the registry subscribes, requests the current values on every connect, and calls
// "set" on each change and on deletion. Mirrors the Linux twin
// examples/linux/e30_shared_attributes.cpp (same attributes, attach after connect, 30 s), with
// tbmqtt::esp_client::attach(registry) in place of tbmqtt::client::attach. Compile-checked only
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

const char* const tag = "e30_shared_attrs";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");
constexpr int seconds = 30;

std::uint32_t monotonic_ms() { return static_cast<std::uint32_t>(esp_timer_get_time() / 1000); }
// "set" callbacks run on the tbmqtt task (session lock held); an empty value means deleted.
void set_target(tbmqtt::point_value v) {
  if (v.empty())
    ESP_LOGI(tag, "targetTemperature deleted");
  else
    ESP_LOGI(tag, "targetTemperature = %g", v.as_double());
}
void set_mode(tbmqtt::point_value v) {
  if (v.empty())
    ESP_LOGI(tag, "mode deleted");
  else
    ESP_LOGI(tag, "mode = %.*s", static_cast<int>(v.as_text().size()), v.as_text().data());
}

struct app_events final : tbmqtt::session_events {
  void on_error(tbmqtt::errc e, std::string_view context) noexcept override {
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();

  static tbmqtt::registry<0, 0, 2> points;  // two shared attributes
  (void)points.add_shared_attribute("targetTemperature", tbmqtt::point_type::real, set_target);
  (void)points.add_shared_attribute("mode", tbmqtt::point_type::text, set_mode);

  static app_events events;
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  if (auto r = device.connect(std::chrono::seconds(15)); !r) {
    ESP_LOGE(tag, "connect failed: %s", tbmqtt::to_string(r.error()));
    return;
  }
  ESP_LOGI(tag, "ready");
  if (auto r = device.attach(points); !r) {  // also fine after connect: requests at once
    ESP_LOGE(tag, "attach: %s", tbmqtt::to_string(r.error()));
    return;
  }
  vTaskDelay(pdMS_TO_TICKS(seconds * 1000));
  device.detach();
  (void)monotonic_ms;
}
