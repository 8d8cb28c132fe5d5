// tbmqtt ESP-IDF example "e20_client_attributes": register client attributes with "get" (and
// optionally "set"), initialize them from the values stored on the server at start, then upload
// all of them in one message. Mirrors the Linux twin examples/linux/e20_client_attributes.cpp
// (same attributes, same 3 s wait for the server's values), with
// tbmqtt::esp_client::attach(registry) in place of tbmqtt::client::attach. Compile-checked only
// (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include <cstdint>

#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "tbmqtt/esp_idf/client.hpp"
#include "tbmqtt/registry.hpp"

namespace {

const char* const tag = "e20_client_attrs";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");

SemaphoreHandle_t initialized = nullptr;  // given when the server's value arrived
long long send_interval_ms = 1000;        // default until the server's value arrives

std::uint32_t monotonic_ms() { return static_cast<std::uint32_t>(esp_timer_get_time() / 1000); }
// Callbacks are referenced, not copied: plain functions outlive the registry.
tbmqtt::result<tbmqtt::point_value> get_firmware() { return tbmqtt::point_value{"1.0.0"}; }
tbmqtt::result<tbmqtt::point_value> get_interval() { return tbmqtt::point_value{send_interval_ms}; }
void set_interval(tbmqtt::point_value v) {  // runs on the tbmqtt task, session lock held
  if (v.empty()) return;
  send_interval_ms = v.as_int();
  ESP_LOGI(tag, "sendIntervalMs initialized from the server: %lld", send_interval_ms);
  xSemaphoreGive(initialized);
}

struct app_events final : tbmqtt::session_events {
  void on_error(tbmqtt::errc e, std::string_view context) noexcept override {
    ESP_LOGW(tag, "%s: %.*s", tbmqtt::to_string(e), static_cast<int>(context.size()), context.data());
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();
  initialized = xSemaphoreCreateBinary();
  if (initialized == nullptr) return;

  static tbmqtt::registry<0, 2> points;  // no time series, two client attributes
  (void)points.add_client_attribute("firmwareVersion", tbmqtt::point_type::text, get_firmware);
  (void)points.add_client_attribute("sendIntervalMs", tbmqtt::point_type::integer, get_interval, set_interval);
  points.init_client_attributes_from_server(true);

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
  if (xSemaphoreTake(initialized, pdMS_TO_TICKS(3000)) != pdTRUE)
    ESP_LOGI(tag, "nothing stored on the server; keeping the defaults");

  const tbmqtt::result<void> sent =
      device.with_session([](tbmqtt::session&) { return points.upload_client_attributes(); });
  ESP_LOGI(tag, "client attributes uploaded: %s", sent ? "ok" : tbmqtt::to_string(sent.error()));
  if (auto r = device.flush(std::chrono::seconds(5)); !r) ESP_LOGW(tag, "flush: %s", tbmqtt::to_string(r.error()));
  device.detach();
  (void)monotonic_ms;
}
