// tbmqtt ESP-IDF example "h21_attributes_subscribe": reacts to changes of the shared attributes
// targetTemperature and mode. A push from the server carries only the changed keys
// ({"mode":"eco"}) or the deleted ones ({"deleted":["mode"]}); pushes that touch neither key do
// not reach on_shared_attributes. Stops after 3 pushes, or after 30 s.
// Linux twin (tested against the emulator): examples/linux/h21_attributes_subscribe.cpp.
// Compile-checked only (tests/esp_idf/check.sh). Set server_uri and access_token below.
#include <cstddef>
#include <cstdint>

#include "../../common/example_client.hpp"
#include "../../common/example_platform.hpp"
#include "../../common/example_settings.hpp"
#include "esp_log.h"
#include "tbmqtt/esp_idf/client.hpp"

namespace {

const char* const tag = "h21_subscribe";
const char* const server_uri = example::settings::uri("mqtt://thingsboard.local:1883");
const char* const access_token = example::settings::token("A1_TEST_TOKEN");
constexpr unsigned updates = 3;
constexpr std::uint32_t seconds = 30;

struct h21_events final : example::logged_events {
  h21_events() : logged_events(::tag) {}
  example::countdown seen{updates};

  // Runs on the tbmqtt task for each matching push. A value of the wrong type is reported with
  // its typed error (errc::wrong_type) and ignored.
  void on_shared_attributes(std::size_t, tbmqtt::json::value update) noexcept override {
    if (auto target = update["targetTemperature"]; target.present()) {
      if (auto celsius = target.as_double())
        ESP_LOGI(tag, "targetTemperature = %g", *celsius);
      else
        ESP_LOGW(tag, "targetTemperature ignored: %s", tbmqtt::to_string(celsius.error()));
    }
    if (auto mode = update["mode"]; mode.present()) {
      if (auto text = mode.as_string())
        ESP_LOGI(tag, "mode = %.*s", static_cast<int>(text->size()), text->data());
      else
        ESP_LOGW(tag, "mode ignored: %s", tbmqtt::to_string(text.error()));
    }
    for (auto deleted : update["deleted"].elements())
      if (auto key = deleted.as_string()) ESP_LOGI(tag, "%.*s deleted", static_cast<int>(key->size()), key->data());
    seen.arrive();
  }
};

}  // namespace

extern "C" void app_main(void) {
  example::init_platform();  // NVS, event loop, Wi-Fi or Ethernet

  static h21_events events;
  tbmqtt::esp_client_options options;
  options.client_id = example::settings::client_id();  // TBMQTT_CLIENT_ID; unique on linux
  options.uri = server_uri;
  options.access_token = access_token;
  static tbmqtt::esp_client device{options, events};
  // Before connect: the subscription is made on every (re)connect. The key list must outlive
  // the client (a literal does).
  if (auto r = device.subscribe_shared_attributes("targetTemperature,mode"); !r) {
    ESP_LOGE(tag, "subscribe: %s", tbmqtt::to_string(r.error()));
    return;
  }
  if (!example::connect(device, tag)) return;
  if (events.seen.wait(updates, seconds * 1000))
    ESP_LOGI(tag, "%u updates applied", updates);
  else
    ESP_LOGW(tag, "timeout: fewer than %u updates in %u s", updates, static_cast<unsigned>(seconds));
  device.disconnect();
}
